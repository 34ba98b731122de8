// Per-pixel k x k window maximum (grey dilation) used by the CUDA kernels.
//
// Equal to scipy.ndimage.grey_dilation(size=k) (mode='reflect'): for a max filter, reflecting at
// the border only repeats pixels that the window clipped to the image already contains.
#pragma once

#include "awing/math.h"

namespace awing {

// Max over rows [h - r, h + r] x columns [w - r, w + r] of the H x W plane, clipped to the image.
// NaN propagates. `Load` maps a pointer to the arithmetic type (e.g. an __ldg and a conversion).
template <typename T, typename index_t, typename scalar_t, typename Load>
AWING_HD T window_max(const scalar_t* plane, index_t H, index_t W, index_t h, index_t w,
                      index_t radius, Load load) {
  const index_t h0 = h - radius < 0 ? 0 : h - radius;
  const index_t h1 = h + radius > H - 1 ? H - 1 : h + radius;
  const index_t w0 = w - radius < 0 ? 0 : w - radius;
  const index_t w1 = w + radius > W - 1 ? W - 1 : w + radius;
  T m = load(plane + h0 * W + w0);
  for (index_t r = h0; r <= h1; ++r) {
    for (index_t c = w0; c <= w1; ++c) {
      const T v = load(plane + r * W + c);
      m = (v > m || v != v) ? v : m;
    }
  }
  return m;
}

}  // namespace awing
