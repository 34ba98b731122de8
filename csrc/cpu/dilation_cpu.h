// Row-wise k x k grey dilation (running max) of one heatmap plane on the CPU.
//
// scipy.ndimage.grey_dilation(size=k) uses mode='reflect'; for a max filter that equals taking
// the max over the window clipped to the image, which is what this computes. Separable: first
// the max over the k rows around `h` (vectorised along the row), then the max over the k columns.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <limits>

namespace awing {
namespace cpu {

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
    Vec m = Vec::loadu(plane + h0 * W + w);
    for (int64_t r = h0 + 1; r <= h1; ++r) m = at::vec::maximum(m, Vec::loadu(plane + r * W + w));
    m.store(col + w);
  }
  for (; w < W; ++w) {
    T m = plane[h0 * W + w];
    for (int64_t r = h0 + 1; r <= h1; ++r) {
      const T v = plane[r * W + w];
      m = (v > m || v != v) ? v : m;  // NaN-propagating max, like at::vec::maximum
    }
    col[w] = m;
  }

  w = 0;
  for (; w + L <= W; w += L) {
    Vec m = Vec::loadu(padded + w);
    for (int64_t j = 1; j <= 2 * radius; ++j) m = at::vec::maximum(m, Vec::loadu(padded + w + j));
    m.store(out + w);
  }
  for (; w < W; ++w) {
    T m = padded[w];
    for (int64_t j = 1; j <= 2 * radius; ++j) {
      const T v = padded[w + j];
      m = (v > m || v != v) ? v : m;
    }
    out[w] = m;
  }
}

}  // namespace cpu
}  // namespace awing
