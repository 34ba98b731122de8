// The Wing loss of one pixel (Feng et al., "Wing Loss for Robust Facial Landmark Localisation
// with Convolutional Neural Networks", CVPR 2018): with d = |p - y|,
//   d <  omega:  L = omega * ln(1 + d / epsilon)          dL/dd = omega / (epsilon + d)
//   d >= omega:  L = d - C,  C = omega - omega * ln(1 + omega / epsilon)      dL/dd = 1
// dL/dp = dL/dd * sign(p - y) (0 at p == y). Branch-free: s = min(d, omega),
// L = omega * ln(1 + s / epsilon) + (d - s).
#pragma once

#include <optional>
#include <string_view>

#include "awing/heatmap_loss.h"
#include "awing/losses/sign.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct WingLoss {
  T omega;
  T epsilon;
  T inv_epsilon;

  WingLoss(double omega_, double epsilon_)
      : omega(static_cast<T>(omega_)), epsilon(static_cast<T>(epsilon_)),
        inv_epsilon(static_cast<T>(1.0 / epsilon_)) {}

  template <typename V>
  AWING_HD void operator()(const V& pred, const V& target, V& loss, V& grad) const {
    using namespace awing::math;
    const V diff = pred - target;
    const V d = vabs(diff);
    const V vomega(omega);
    const auto near = vlt(d, vomega);                 // NaN d: far
    const V s = vselect(near, d, vomega);
    loss = vomega * vlog1p(s * V(inv_epsilon)) + (d - s);
    const V dl_dd = vselect(near, vomega / (V(epsilon) + d), V(T(1)));
    grad = dl_dd * sign_of<V, T>(diff);
  }
};

inline Reduction check_wing_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                      const std::optional<at::Tensor>& target_weight,
                                      const std::optional<at::Tensor>& weights, double omega, double epsilon,
                                      double W, double threshold, int64_t kernel_size, std::string_view reduction) {
  constexpr const char* op = "wing_loss";
  check_positive(omega, op, "omega");
  check_positive(epsilon, op, "epsilon");
  return check_heatmap_loss_args(op, "pred", pred, target, target_weight, weights, {W, threshold, kernel_size},
                                 reduction);
}

}  // namespace awing
