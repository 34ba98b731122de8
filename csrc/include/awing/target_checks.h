// Argument validation of the target ops (render_heatmaps, render_boundaries, weight_map,
// decode_heatmaps), shared by the CPU and CUDA launchers (host code only).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "awing/checks.h"
#include "awing/decode.h"

namespace awing {

inline void check_landmarks(const at::Tensor& lm, const char* op) {
  TORCH_CHECK(lm.dim() == 3 && lm.size(2) == 2, op, ": landmarks must be 3-D (N, K, 2), got ",
              lm.dim(), "-D tensor of shape ", lm.sizes());
  TORCH_CHECK(is_supported_float(lm.scalar_type()), op,
              ": landmarks must be float32, float64, float16 or bfloat16, got ", lm.scalar_type());
}

inline void check_render_common(int64_t height, int64_t width, double sigma, double truncate,
                                std::optional<at::ScalarType> dtype, const char* op) {
  TORCH_CHECK(height > 0 && width > 0, op, ": size must be positive (H, W), got (", height, ", ",
              width, ")");
  TORCH_CHECK(sigma > 0 && std::isfinite(sigma), op, ": sigma must be a finite number > 0, got ",
              sigma);
  TORCH_CHECK(truncate > 0 && std::isfinite(truncate), op,
              ": truncate must be a finite number > 0, got ", truncate);
  if (dtype.has_value()) {
    TORCH_CHECK(is_supported_float(*dtype), op,
                ": dtype must be float32, float64, float16 or bfloat16, got ", *dtype);
  }
}

inline void check_render_heatmaps_args(const at::Tensor& lm, const std::optional<at::Tensor>& visible,
                                       int64_t height, int64_t width, double sigma, double truncate,
                                       std::optional<at::ScalarType> dtype) {
  constexpr const char* op = "render_heatmaps";
  check_landmarks(lm, op);
  check_render_common(height, width, sigma, truncate, dtype, op);
  if (visible.has_value()) {
    const auto& v = *visible;
    TORCH_CHECK(v.dim() == 2 && v.size(0) == lm.size(0) && v.size(1) == lm.size(1), op,
                ": visible must have shape (N, K) = (", lm.size(0), ", ", lm.size(1), "), got ",
                v.sizes());
    TORCH_CHECK(v.device() == lm.device(), op, ": visible must be on the device of landmarks (",
                lm.device(), "), got ", v.device());
  }
}

// Validates the curve tables; returns the spans (four landmark indices each) and, per curve,
// the range [span_begin[c], span_begin[c + 1]) of its spans.
inline void build_spans(const std::vector<int64_t>& points, const std::vector<int64_t>& lengths,
                        int64_t K, std::vector<int>& spans /* 4 per span */,
                        std::vector<int>& span_begin) {
  constexpr const char* op = "render_boundaries";
  TORCH_CHECK(!lengths.empty(), op, ": curves must hold at least one curve");
  int64_t total = 0;
  for (size_t c = 0; c < lengths.size(); ++c) {
    TORCH_CHECK(lengths[c] >= 2, op, ": curve ", c, " must have at least 2 points, got ",
                lengths[c]);
    total += lengths[c];
  }
  TORCH_CHECK(total == static_cast<int64_t>(points.size()), op, ": curve_lengths sum to ", total,
              " but curve_points has ", points.size(), " entries");
  for (size_t i = 0; i < points.size(); ++i) {
    TORCH_CHECK(points[i] >= 0 && points[i] < K, op, ": curve index ", points[i],
                " is out of range for ", K, " landmarks");
  }
  spans.clear();
  span_begin.assign(1, 0);
  int64_t start = 0;
  for (size_t c = 0; c < lengths.size(); ++c) {
    const int64_t m = lengths[c];
    const int64_t* p = points.data() + start;
    for (int64_t i = 0; i + 1 < m; ++i) {
      spans.push_back(static_cast<int>(p[i > 0 ? i - 1 : 0]));
      spans.push_back(static_cast<int>(p[i]));
      spans.push_back(static_cast<int>(p[i + 1]));
      spans.push_back(static_cast<int>(p[i + 2 < m ? i + 2 : m - 1]));
    }
    span_begin.push_back(static_cast<int>(spans.size() / 4));
    start += m;
  }
}

inline void check_render_boundaries_args(const at::Tensor& lm, int64_t height, int64_t width,
                                         double sigma, double truncate, int64_t samples,
                                         std::optional<at::ScalarType> dtype) {
  constexpr const char* op = "render_boundaries";
  check_landmarks(lm, op);
  check_render_common(height, width, sigma, truncate, dtype, op);
  TORCH_CHECK(samples >= 1 && samples <= 1024, op,
              ": samples (line segments per spline span) must be in [1, 1024], got ", samples);
}

inline void check_weight_map_args(const at::Tensor& target, int64_t kernel_size) {
  check_heatmap(target, "weight_map", "target");
  check_kernel_size(kernel_size, "weight_map");
}

inline DecodeMethod check_decode_args(const at::Tensor& heatmaps, c10::string_view method) {
  check_heatmap(heatmaps, "decode_heatmaps", "heatmaps");
  TORCH_CHECK(heatmaps.size(2) > 0 && heatmaps.size(3) > 0,
              "decode_heatmaps: heatmaps must have H, W > 0, got shape ", heatmaps.sizes());
  if (method == "quarter") return DecodeMethod::Quarter;
  if (method == "dark") return DecodeMethod::Dark;
  TORCH_CHECK(false, "decode_heatmaps: method must be 'dark' or 'quarter', got '",
              std::string(method), "'");
}

}  // namespace awing
