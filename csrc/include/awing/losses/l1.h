// L1 loss of one pixel: L = |p - y|, dL/dp = sign(p - y) (0 at p == y, as torch's l1_loss).
#pragma once

#include <optional>
#include <string_view>

#include "awing/heatmap_loss.h"
#include "awing/losses/sign.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct L1Loss {
  template <typename V>
  AWING_HD void operator()(const V& pred, const V& target, V& loss, V& grad) const {
    const V diff = pred - target;
    loss = math::vabs(diff);
    grad = sign_of<V, T>(diff);
  }
};

inline Reduction check_l1_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                    const std::optional<at::Tensor>& target_weight,
                                    const std::optional<at::Tensor>& weights, double W, double threshold,
                                    int64_t kernel_size, std::string_view reduction) {
  return check_heatmap_loss_args("l1_loss", "pred", pred, target, target_weight, weights,
                                 {W, threshold, kernel_size}, reduction);
}

}  // namespace awing
