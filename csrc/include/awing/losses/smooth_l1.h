// Smooth L1 loss of one pixel, torch's definition (torch.nn.functional.smooth_l1_loss): with
// d = |p - y|,  L = 0.5 d^2 / beta  if d < beta,  else d - 0.5 beta;  beta = 0 is the L1 loss.
// dL/dp = (p - y) / beta near, sign(p - y) far.
#pragma once

#include <optional>
#include <string_view>

#include "awing/heatmap_loss.h"
#include "awing/losses/sign.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct SmoothL1Loss {
  T beta;
  T inv_beta;  // 1 / beta, 0 for beta = 0 (the near branch is then never taken)

  explicit SmoothL1Loss(double beta_)
      : beta(static_cast<T>(beta_)), inv_beta(static_cast<T>(beta_ > 0 ? 1.0 / beta_ : 0.0)) {}

  template <typename V>
  AWING_HD void operator()(const V& pred, const V& target, V& loss, V& grad) const {
    using namespace awing::math;
    const V diff = pred - target;
    const V d = vabs(diff);
    const V vbeta(beta), vinv(inv_beta);
    const auto near = vlt(d, vbeta);
    loss = vselect(near, V(T(0.5)) * d * d * vinv, d - V(T(0.5)) * vbeta);
    grad = vselect(near, diff * vinv, sign_of<V, T>(diff));
  }
};

inline Reduction check_smooth_l1_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                           const std::optional<at::Tensor>& target_weight,
                                           const std::optional<at::Tensor>& weights, double beta, double W,
                                           double threshold, int64_t kernel_size, std::string_view reduction) {
  constexpr const char* op = "smooth_l1_loss";
  check_non_negative(beta, op, "beta");
  return check_heatmap_loss_args(op, "pred", pred, target, target_weight, weights, {W, threshold, kernel_size},
                                 reduction);
}

}  // namespace awing
