// The Gaussian landmark heatmap of one pixel: the single definition both backends use.
//
// Convention (docs/design.md): coordinates are (x, y) in heatmap pixels, pixel centres at integer
// coordinates, so pixel (row h, column w) is the point (x = w, y = h). A landmark at (cx, cy)
// gives pixel (h, w) the value exp(-r^2 / (2 sigma^2)), r^2 = (w - cx)^2 + (h - cy)^2, where
// r < truncate * sigma, and 0 beyond (strict, like the boundary heatmaps).
#pragma once

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

}  // namespace awing
