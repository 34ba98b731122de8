// The Adaptive Wing loss of one pixel and its derivative: the single definition both backends use.
//
// With y the target, p the prediction, d = |y - p| and e = alpha - y (Wang et al., ICCV 2019):
//   d <  theta:  L = omega * ln(1 + (d/eps)^e)
//   d >= theta:  L = A*d - C
//   A = omega * e * (theta/eps)^(e-1) / (eps * (1 + (theta/eps)^e))
//   C = theta*A - omega * ln(1 + (theta/eps)^e)
// Written branch-free so it vectorises (see adaptive_wing_value_and_grad for the rewrite).
#pragma once

#include "awing/math.h"

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

}  // namespace awing
