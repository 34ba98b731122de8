// Mean squared error of one pixel: L = (p - y)^2, dL/dp = 2 (p - y). The one definition both
// backends use (awing_ext.mse_loss); the op's arguments are the shared ones (heatmap_loss.h).
#pragma once

#include <optional>
#include <string_view>

#include "awing/heatmap_loss.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct MSELoss {
  template <typename V>
  AWING_HD void operator()(const V& pred, const V& target, V& loss, V& grad) const {
    const V diff = pred - target;
    loss = diff * diff;
    grad = V(T(2)) * diff;
  }
};

inline Reduction check_mse_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                     const std::optional<at::Tensor>& target_weight,
                                     const std::optional<at::Tensor>& weights, double W, double threshold,
                                     int64_t kernel_size, std::string_view reduction) {
  return check_heatmap_loss_args("mse_loss", "pred", pred, target, target_weight, weights,
                                 {W, threshold, kernel_size}, reduction);
}

}  // namespace awing
