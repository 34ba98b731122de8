// The Adaptive Wing loss of one pixel and its derivative: the single definition both backends use.
//
// With y the target, p the prediction, d = |y - p| and e = alpha - y (Wang et al., ICCV 2019):
//   d <  theta:  L = omega * ln(1 + (d/eps)^e)
//   d >= theta:  L = A*d - C
//   A = omega * e * (theta/eps)^(e-1) / (eps * (1 + (theta/eps)^e))
//   C = theta*A - omega * ln(1 + (theta/eps)^e)
// Written branch-free so it vectorises (see adaptive_wing_value_and_grad for the rewrite).
// Also the validation of the op's arguments (check_adaptive_wing_loss_args, host only; the fake
// kernel runs it too).
#pragma once

#include <cmath>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>
#include <string_view>

#include "awing/checks.h"
#include "awing/heatmap_loss.h"
#include "awing/math.h"
#include "awing/reduction.h"

namespace awing {

// Loss hyper-parameters in the arithmetic type T (float or double), with the constants derived
// once on the host.
template <typename T>
struct AWingParams {
  T omega;
  T theta;
  T inv_epsilon;       // 1 / eps
  T alpha;

  AWingParams() = default;
  AWingParams(double omega_, double theta_, double epsilon_, double alpha_)
      : omega(static_cast<T>(omega_)),
        theta(static_cast<T>(theta_)),
        inv_epsilon(static_cast<T>(1.0 / epsilon_)),
        alpha(static_cast<T>(alpha_)) {}
};

// Computes the loss L(p, y) and dL/dp for one value (or one SIMD vector) V whose scalar is T.
//
// Both branches share one evaluation. With s = min(d, theta), P = (s/eps)^e and
// G(s) = omega * e * P / (s * (1 + P))  (= dL/dd of the near branch at s, and A at s = theta):
//   near (s = d):      L = omega * ln(1 + P),                  dL/dd = G(d)
//   far  (s = theta):  L = A*d - C = omega * ln(1 + P) + A*(d - theta),   dL/dd = A
// so L = omega * ln(1 + P) + G(s) * (d - s) and dL/dd = G(s) in both cases: three
// transcendentals per pixel instead of five. NaN in p or y gives NaN in both outputs; at d == 0
// the derivative is 0.
template <typename V, typename T>
AWING_HD void adaptive_wing_value_and_grad(V pred, V target, const AWingParams<T>& prm,
                                           V& loss, V& grad) {
  using namespace awing::math;
  const V zero(T(0));
  const V one(T(1));
  const V omega(prm.omega);
  const V theta(prm.theta);

  const V diff = pred - target;
  const V d = vabs(diff);
  const V e = V(prm.alpha) - target;
  const V s = vselect(vlt(d, theta), d, theta);             // NaN d selects theta
  const V P = vexp(e * vlog(s * V(prm.inv_epsilon)));      // (s/eps)^e; 0 at s = 0 for e > 0
  const V safe_s = vselect(vgt(s, zero), s, one);
  const V G = omega * e * P / (safe_s * (one + P));
  loss = omega * vlog1p(P) + G * (d - s);
  const V dl_dd = G + zero * d;                           // `zero * d` carries a NaN of d
  grad = vselect(vlt(diff, zero), zero - dl_dd, dl_dd);
}

// The loss as the functor the shared kernels (cpu/heatmap_loss_kernel.h,
// cuda/heatmap_loss_kernel.cuh) evaluate per pixel.
template <typename T>
struct AWingLoss {
  AWingParams<T> prm;

  AWingLoss(double omega, double theta, double epsilon, double alpha) : prm(omega, theta, epsilon, alpha) {}

  template <typename V>
  AWING_HD void operator()(const V& pred, const V& target, V& loss, V& grad) const {
    adaptive_wing_value_and_grad(pred, target, prm, loss, grad);
  }
};

// omega, theta, epsilon > 0 and alpha a finite number > 0 (NaN refused): the exponent alpha - y
// must be a number for every target y in [0, 1]. train's --awing-* options add the float32 ranges
// (training/engine/loss_ranges.py).
inline void check_awing_shape(double omega, double theta, double epsilon, double alpha, const char* op) {
  check_positive(omega, op, "omega");
  check_positive(theta, op, "theta");
  check_positive(epsilon, op, "epsilon");
  TORCH_CHECK(alpha > 0 && std::isfinite(alpha), op, ": alpha must be a finite number > 0, got ", alpha);
}

// Validates the loss's scalar parameters; returns the parsed reduction. AdaptiveWingLoss checks
// its parameters with this when it is built (awing_ext._C.check_adaptive_wing_loss_params).
inline Reduction check_adaptive_wing_loss_params(double omega, double theta, double epsilon, double alpha,
                                                 double W, double threshold, int64_t kernel_size,
                                                 std::string_view reduction) {
  constexpr const char* op = "adaptive_wing_loss";
  check_awing_shape(omega, theta, epsilon, alpha, op);
  check_loss_map({W, threshold, kernel_size}, op);
  return parse_reduction(reduction, op);
}

// Validates everything adaptive_wing_loss takes; returns the parsed reduction. `weights` is the
// optional per-pixel weight that replaces W * M + 1 (the schema's `weights`).
inline Reduction check_adaptive_wing_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                               const std::optional<at::Tensor>& target_weight,
                                               const std::optional<at::Tensor>& weights,
                                               double omega, double theta, double epsilon, double alpha,
                                               double W, double threshold, int64_t kernel_size,
                                               std::string_view reduction) {
  constexpr const char* op = "adaptive_wing_loss";
  check_awing_shape(omega, theta, epsilon, alpha, op);
  return check_heatmap_loss_args(op, "pred", pred, target, target_weight, weights, {W, threshold, kernel_size},
                                 reduction);
}

}  // namespace awing
