// The Gaussian landmark heatmap of one pixel: the single definition both backends use.
//
// Convention (docs/design.md): coordinates are (x, y) in heatmap pixels, pixel centres at integer
// coordinates, so pixel (row h, column w) is the point (x = w, y = h). A landmark at (cx, cy)
// gives pixel (h, w) the value exp(-r^2 / (2 sigma^2)), r^2 = (w - cx)^2 + (h - cy)^2, where
// r < truncate * sigma, and 0 beyond (strict, like the boundary heatmaps).
// Also what both render ops check and how they pick their output dtype (host only).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <optional>

#include "awing/checks.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct GaussianParams {
  T neg_inv_two_sigma2;  // -1 / (2 sigma^2)
  T cutoff;              // truncate * sigma
  T cutoff2;             // cutoff^2

  GaussianParams() = default;
  GaussianParams(double sigma, double truncate)
      : neg_inv_two_sigma2(static_cast<T>(-1.0 / (2.0 * sigma * sigma))),
        cutoff(static_cast<T>(truncate * sigma)),
        cutoff2(static_cast<T>(truncate * sigma * truncate * sigma)) {}
};

// exp(-r2 / (2 sigma^2)) for r2 < cutoff^2, else 0 (also 0 for NaN r2).
template <typename T>
AWING_HD T gaussian_of_r2(T r2, const GaussianParams<T>& prm) {
  return r2 < prm.cutoff2 ? math::vexp(r2 * prm.neg_inv_two_sigma2) : T(0);
}

// The value of pixel (x, y) for a landmark at (cx, cy).
template <typename T>
AWING_HD T gaussian_pixel(T x, T y, T cx, T cy, const GaussianParams<T>& prm) {
  const T dx = x - cx;
  const T dy = y - cy;
  return gaussian_of_r2(dx * dx + dy * dy, prm);
}

// A landmark renders only when both coordinates are finite (NaN / inf give an all-zero channel).
template <typename T>
AWING_HD bool finite_point(T x, T y) {
  const T s = x + y;
  return s == s && s - s == T(0);  // false for NaN and +-inf (inf - inf is NaN)
}

// Clipped pixel range [lo, hi] of the pixels whose coordinate c may satisfy
// lo_c - cutoff < c < hi_c + cutoff, in an axis of `size` pixels; empty (lo > hi) when none.
// Conservative by up to one pixel on each side, so every pixel with a non-zero value is inside;
// the kernels test the exact condition.
template <typename T>
AWING_HD void pixel_span(T lo_c, T hi_c, T cutoff, long long size, long long& lo, long long& hi) {
  const T a = lo_c - cutoff;
  const T b = hi_c + cutoff;
  // Clamp before converting so that far-away coordinates cannot overflow the integer.
  const T fa = a < T(-1) ? T(-1) : (a > T(size) ? T(size) : a);
  const T fb = b < T(-1) ? T(-1) : (b > T(size) ? T(size) : b);
  lo = static_cast<long long>(::floor(fa));
  hi = static_cast<long long>(::ceil(fb));
  if (lo < 0) lo = 0;
  if (hi > size - 1) hi = size - 1;
}

inline void check_landmarks(const at::Tensor& lm, const char* op) {
  TORCH_CHECK(lm.dim() == 3 && lm.sym_size(2) == 2, op, ": landmarks must be 3-D (N, K, 2), got ",
              lm.dim(), "-D tensor of shape ", lm.sym_sizes());
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

// The output dtype of a render op: `dtype` when given, float32 otherwise.
inline at::ScalarType render_dtype(const std::optional<at::ScalarType>& dtype) {
  return dtype.has_value() ? *dtype : at::kFloat;
}

}  // namespace awing
