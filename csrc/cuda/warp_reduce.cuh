// Warp-wide reductions of the one-warp-per-plane kernels (decode_heatmaps, soft_argmax,
// integral_coords). Each is called by all 32 lanes of a warp whose loop is warp-uniform (the
// full-mask shuffles need it) and combines the lanes in a fixed order, so results are bitwise
// reproducible.
#pragma once

#include "awing/argmax.h"

namespace awing {
namespace cuda {

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

// Lane 0's fixed-order tree sum, broadcast: every lane gets the very same value (an xor
// butterfly would add in a different order per lane).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return __shfl_sync(0xffffffffu, v, 0);
}

// The first maximum over the lanes' partial argmaxes (awing/argmax.h), broadcast from lane 0.
template <typename T>
__device__ __forceinline__ long long warp_argmax(T best, long long idx) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const T other = __shfl_down_sync(0xffffffffu, best, offset);
    const long long other_idx = __shfl_down_sync(0xffffffffu, idx, offset);
    argmax_combine(other, other_idx, best, idx);
  }
  return __shfl_sync(0xffffffffu, idx, 0);
}

}  // namespace cuda
}  // namespace awing
