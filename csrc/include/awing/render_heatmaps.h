// render_heatmaps: the validation of its arguments (host only). The per-pixel value is
// gaussian_pixel (awing/gaussian.h), shared with render_boundaries.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>

#include "awing/gaussian.h"

namespace awing {

inline void check_render_heatmaps_args(const at::Tensor& lm, const std::optional<at::Tensor>& visible,
                                       int64_t height, int64_t width, double sigma, double truncate,
                                       std::optional<at::ScalarType> dtype) {
  constexpr const char* op = "render_heatmaps";
  check_landmarks(lm, op);
  check_render_common(height, width, sigma, truncate, dtype, op);
  if (visible.has_value()) {
    const auto& v = *visible;
    TORCH_CHECK(v.dim() == 2 && v.sym_size(0) == lm.sym_size(0) && v.sym_size(1) == lm.sym_size(1),
                op, ": visible must have shape (N, K) = (", lm.sym_size(0), ", ", lm.sym_size(1),
                "), got ", v.sym_sizes());
    TORCH_CHECK(v.device() == lm.device(), op, ": visible must be on the device of landmarks (",
                lm.device(), "), got ", v.device());
  }
}

}  // namespace awing
