// The k x k grey dilation (window maximum) of a heatmap plane: the single home of the dilation
// the fused loss and loss_map_mask compute.
//
// Equal to scipy.ndimage.grey_dilation(size=k) (mode='reflect'): for a max filter, reflecting at
// the border only repeats pixels that the window clipped to the image already contains.
// NaN never counts: the maximum is over the window's other values (-inf if all are NaN), so a
// NaN pixel neither hides a landmark's peak beside it nor makes one (design.md, "The loss map";
// scipy's own result with NaN depends on its scan order). Two evaluations of that one definition:
//   window_max  one pixel at a time (AWING_HD; the CUDA kernels);
//   dilate_row  a whole row, separably (rows, then columns) in at::vec lanes (the CPU kernels).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#if !defined(__CUDACC__)
#include <ATen/cpu/vec/vec.h>
#endif

#include "awing/math.h"

namespace awing {

// Max over rows [h - r, h + r] x columns [w - r, w + r] of the H x W plane, clipped to the image,
// NaN ignored. `Load` maps a pointer to the arithmetic type (e.g. an __ldg and a conversion).
template <typename T, typename index_t, typename scalar_t, typename Load>
AWING_HD T window_max(const scalar_t* plane, index_t H, index_t W, index_t h, index_t w,
                      index_t radius, Load load) {
  const index_t h0 = h - radius < 0 ? 0 : h - radius;
  const index_t h1 = h + radius > H - 1 ? H - 1 : h + radius;
  const index_t w0 = w - radius < 0 ? 0 : w - radius;
  const index_t w1 = w + radius > W - 1 ? W - 1 : w + radius;
  T m = -std::numeric_limits<T>::infinity();
  for (index_t r = h0; r <= h1; ++r) {
    for (index_t c = w0; c <= w1; ++c) {
      const T v = load(plane + r * W + c);
      m = v > m ? v : m;  // false for a NaN v: ignored
    }
  }
  return m;
}


#if !defined(__CUDACC__)
// max(a, b) lane-wise, a NaN in b ignored (a is never NaN: it starts at -inf).
template <typename T>
inline at::vec::Vectorized<T> max_ignoring_nan(const at::vec::Vectorized<T>& a, const at::vec::Vectorized<T>& b) {
  return at::vec::Vectorized<T>::blendv(a, b, b > a);
}

// Writes the dilated row `h` of the H x W plane `plane` into `out` (W values).
// `padded` is scratch of at least W + 2*radius values.
template <typename T>
inline void dilate_row(const T* plane, int64_t H, int64_t W, int64_t h, int64_t radius,
                       T* padded, T* out) {
  using Vec = at::vec::Vectorized<T>;
  constexpr int64_t L = Vec::size();
  const int64_t h0 = std::max<int64_t>(0, h - radius);
  const int64_t h1 = std::min<int64_t>(H - 1, h + radius);
  const T lowest = -std::numeric_limits<T>::infinity();
  T* col = padded + radius;  // column maxima, with `radius` -inf cells on each side
  std::fill(padded, col, lowest);
  std::fill(col + W, col + W + radius, lowest);

  int64_t w = 0;
  for (; w + L <= W; w += L) {
    Vec m(lowest);
    for (int64_t r = h0; r <= h1; ++r) m = max_ignoring_nan(m, Vec::loadu(plane + r * W + w));
    m.store(col + w);
  }
  for (; w < W; ++w) {
    T m = lowest;
    for (int64_t r = h0; r <= h1; ++r) {
      const T v = plane[r * W + w];
      m = v > m ? v : m;  // false for a NaN v: ignored
    }
    col[w] = m;
  }

  // The column maxima hold no NaN now: a plain max finishes the window.
  w = 0;
  for (; w + L <= W; w += L) {
    Vec m = Vec::loadu(padded + w);
    for (int64_t j = 1; j <= 2 * radius; ++j) m = at::vec::maximum(m, Vec::loadu(padded + w + j));
    m.store(out + w);
  }
  for (; w < W; ++w) {
    T m = padded[w];
    for (int64_t j = 1; j <= 2 * radius; ++j) m = std::max(m, padded[w + j]);
    out[w] = m;
  }
}

#endif  // !defined(__CUDACC__)

}  // namespace awing
