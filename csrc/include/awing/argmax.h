// The first maximum of a heatmap plane, shared by decode_heatmaps and integral_coords: a running
// argmax over a (strided) part of the plane and the combination of two parts, so the CPU (one
// pass) and CUDA (one warp per plane, then shuffles) find the same pixel. NaN never compares
// greater, so NaN values are ignored; an index < 0 means "no value > -inf seen".
#pragma once

#include "awing/math.h"

namespace awing {

// Running argmax: keeps the first index of the largest non-NaN value. `idx` < 0 while none.
template <typename T>
AWING_HD void argmax_update(T v, long long i, T& best, long long& idx) {
  if (v > best) {
    best = v;
    idx = i;
  }
}

// Combines two partial argmaxes (ties go to the smaller index; idx < 0 means none).
template <typename T>
AWING_HD void argmax_combine(T v, long long i, T& best, long long& idx) {
  if (i < 0) return;
  if (idx < 0 || v > best || (v == best && i < idx)) {
    best = v;
    idx = i;
  }
}

}  // namespace awing
