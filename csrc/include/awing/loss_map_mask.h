// loss_map_mask: the loss-map mask M = dilate_k(target) > threshold of the Adaptive Wing loss
// (loss weight W * M + 1), and the validation of its arguments (host only). The dilation itself
// is awing/dilation.h, which the fused loss uses too.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "awing/checks.h"
#include "awing/dilation.h"

namespace awing {

inline void check_loss_map_mask_args(const at::Tensor& target, double threshold, int64_t kernel_size) {
  check_heatmap(target, "loss_map_mask", "target");
  TORCH_CHECK(threshold == threshold, "loss_map_mask: threshold must be a number, got NaN");
  check_kernel_size(kernel_size, "loss_map_mask");
}

}  // namespace awing
