// What every heatmap loss op shares on the host: the weighted loss map W * M + 1 (M the k x k
// dilation of the target > threshold) as one struct, and the check of the arguments every loss
// takes (pred/target/target_weight/weights/kernel_size/reduction). Each loss's own header
// (adaptive_wing_loss.h, losses/*.h) adds its parameters' checks on top of this one.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>
#include <string_view>

#include "awing/checks.h"
#include "awing/reduction.h"

namespace awing {

// The per-pixel weight of every heatmap loss: `weight` * M + 1, M = dilate_k(target) > threshold.
// weight == 0 turns it off (1 everywhere; the kernels then skip the dilation).
struct LossMap {
  double weight;
  double threshold;
  int64_t kernel_size;
};

inline void check_loss_map(const LossMap& map, const char* op) {
  TORCH_CHECK(map.weight >= 0, op, ": W (the loss-map weight) must be >= 0, got ", map.weight);
  TORCH_CHECK(map.threshold == map.threshold, op, ": threshold must be a number, got NaN");
  check_kernel_size(map.kernel_size, op);
}

// pred and target (N, C, H, W) of one dtype and device, the optional (N, C) target_weight and
// (N, C, H, W) weights, the loss map and the reduction; `pred_name` is the first argument's name
// in messages ("pred", or "logits" for the focal loss). Returns the parsed reduction.
inline Reduction check_heatmap_loss_args(const char* op, const char* pred_name, const at::Tensor& pred,
                                         const at::Tensor& target,
                                         const std::optional<at::Tensor>& target_weight,
                                         const std::optional<at::Tensor>& weights, const LossMap& map,
                                         std::string_view reduction) {
  check_heatmap(pred, op, pred_name);
  TORCH_CHECK(target.dim() == 4, op, ": target must be 4-D (N, C, H, W), got ", target.dim(),
              "-D tensor of shape ", target.sym_sizes());
  check_same(pred, target, op, pred_name, "target");
  check_loss_map(map, op);
  const Reduction red = parse_reduction(reduction, op);
  if (target_weight.has_value()) {
    const auto& tw = *target_weight;
    TORCH_CHECK(tw.dim() == 2 && tw.sym_size(0) == pred.sym_size(0) &&
                    tw.sym_size(1) == pred.sym_size(1),
                op, ": target_weight must have shape (N, C) = (", pred.sym_size(0), ", ",
                pred.sym_size(1), "), got ", tw.sym_sizes());
    TORCH_CHECK(is_supported_float(tw.scalar_type()), op,
                ": target_weight must be a floating-point tensor, got ", tw.scalar_type());
    TORCH_CHECK(tw.device() == pred.device(), op, ": target_weight must be on the device of ",
                pred_name, " (", pred.device(), "), got ", tw.device());
  }
  if (weights.has_value()) {
    const auto& wm = *weights;
    TORCH_CHECK(wm.sym_sizes() == pred.sym_sizes(), op, ": weights must have the shape of ", pred_name,
                " ", pred.sym_sizes(), ", got ", wm.sym_sizes());
    TORCH_CHECK(is_supported_float(wm.scalar_type()), op,
                ": weights must be a floating-point tensor, got ", wm.scalar_type());
    TORCH_CHECK(wm.device() == pred.device(), op, ": weights must be on the device of ", pred_name,
                " (", pred.device(), "), got ", wm.device());
  }
  return red;
}

// A parameter that must be >= 0 (NaN is refused too).
inline void check_non_negative(double value, const char* op, const char* name) {
  TORCH_CHECK(value >= 0, op, ": ", name, " must be >= 0, got ", value);
}

}  // namespace awing
