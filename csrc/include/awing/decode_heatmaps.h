// Heatmap decoding: argmax plus a sub-pixel refinement, the single definitions both backends use.
//
// Coordinates follow docs/design.md: (x, y) in heatmap pixels, pixel centres at integer coordinates,
// so the argmax pixel (row h, column w) decodes to (w, h) before refinement.
//   quarter: each axis moves 0.25 px towards the larger of its two neighbours (no move on a tie
//            or at the border), as in the paper's released code.
//   taylor:  the Taylor expansion of log(heatmap) around the maximum (the second step of DARK,
//            Zhang et al., CVPR 2020): offset = -H^{-1} g with g and H the central-difference
//            gradient and Hessian of the log-heatmap. Exact for an untruncated Gaussian. Falls
//            back to `quarter` where the 3 x 3 neighbourhood leaves the map or has a value <= 0,
//            or where H is not negative definite; the offset is clamped to [-1, 1] per axis.
//            DARK itself first smooths the heatmap (its distribution modulation): that step is
//            awing_ext.decode_heatmaps' "dark" (awing_ext/decode_heatmaps.py), which runs this
//            one on the modulated planes.
// The argmax is the first (row-major) maximal value; NaN values are ignored; a map without a
// value > -inf decodes to pixel (0, 0). The score is the heatmap value at the argmax.
// Also the validation of the op's arguments (check_decode_args, host only).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <string>

#include "awing/argmax.h"
#include "awing/checks.h"
#include "awing/math.h"

namespace awing {

enum class DecodeMethod : int { Quarter = 0, Taylor = 1 };

template <typename T>
AWING_HD T sign_step(T hi, T lo) {
  return hi > lo ? T(0.25) : (hi < lo ? T(-0.25) : T(0));
}

// Refines the argmax (h, w) of the H x W plane. `at(r, c)` returns the value at row r, column c
// as T. Writes the decoded (x, y).
template <typename T, typename At>
AWING_HD void refine_argmax(At at, long long H, long long W, long long h, long long w,
                            DecodeMethod method, T& x, T& y) {
  x = static_cast<T>(w);
  y = static_cast<T>(h);
  const bool inner_x = w > 0 && w < W - 1;
  const bool inner_y = h > 0 && h < H - 1;
  T qx = inner_x ? sign_step(at(h, w + 1), at(h, w - 1)) : T(0);
  T qy = inner_y ? sign_step(at(h + 1, w), at(h - 1, w)) : T(0);
  if (method == DecodeMethod::Taylor && inner_x && inner_y) {
    const T c = at(h, w);
    const T l = at(h, w - 1), r = at(h, w + 1), u = at(h - 1, w), d = at(h + 1, w);
    const T ul = at(h - 1, w - 1), ur = at(h - 1, w + 1), dl = at(h + 1, w - 1),
            dr = at(h + 1, w + 1);
    const bool positive = c > T(0) && l > T(0) && r > T(0) && u > T(0) && d > T(0) &&
                          ul > T(0) && ur > T(0) && dl > T(0) && dr > T(0);
    if (positive) {
      using math::vlog;
      const T lc = vlog(c), ll = vlog(l), lr = vlog(r), lu = vlog(u), ld = vlog(d);
      const T gx = T(0.5) * (lr - ll);
      const T gy = T(0.5) * (ld - lu);
      const T hxx = lr - T(2) * lc + ll;
      const T hyy = ld - T(2) * lc + lu;
      const T hxy = T(0.25) * (vlog(dr) - vlog(ur) - vlog(dl) + vlog(ul));
      const T det = hxx * hyy - hxy * hxy;
      if (hxx < T(0) && det > T(0)) {
        // -H^{-1} g with H^{-1} = [[hyy, -hxy], [-hxy, hxx]] / det
        T ox = -(hyy * gx - hxy * gy) / det;
        T oy = -(hxx * gy - hxy * gx) / det;
        ox = ox < T(-1) ? T(-1) : (ox > T(1) ? T(1) : ox);
        oy = oy < T(-1) ? T(-1) : (oy > T(1) ? T(1) : oy);
        qx = ox;
        qy = oy;
      }
    }
  }
  x += qx;
  y += qy;
}

// Finishes the decoding of plane `p` (H x W values of type scalar_t) whose argmax is `idx`
// (-1 when every value was NaN: pixel 0 is used): refines it with `method` and stores
// coords[2p], coords[2p+1] = (x, y) and scores[p] = the heatmap value at the argmax.
template <typename T, typename scalar_t>
AWING_HD void store_decoded(const scalar_t* plane, long long H, long long W, long long idx,
                            DecodeMethod method, long long p, T* coords, T* scores) {
  if (idx < 0) idx = 0;
  const long long h = idx / W, w = idx % W;
  const auto at = [plane, W](long long r, long long c) { return static_cast<T>(plane[r * W + c]); };
  T x, y;
  refine_argmax<T>(at, H, W, h, w, method, x, y);
  coords[2 * p] = x;
  coords[2 * p + 1] = y;
  scores[p] = static_cast<T>(plane[idx]);
}

inline DecodeMethod check_decode_args(const at::Tensor& heatmaps, c10::string_view method) {
  check_heatmap(heatmaps, "decode_heatmaps", "heatmaps");
  TORCH_CHECK(heatmaps.sym_size(2) > 0 && heatmaps.sym_size(3) > 0,
              "decode_heatmaps: heatmaps must have H, W > 0, got shape ", heatmaps.sym_sizes());
  if (method == "quarter") return DecodeMethod::Quarter;
  if (method == "taylor") return DecodeMethod::Taylor;
  TORCH_CHECK(false, "decode_heatmaps: the op's method must be 'quarter' or 'taylor' (awing_ext.decode_heatmaps "
              "adds 'dark' and 'integral'), got '", std::string(method), "'");
}

}  // namespace awing
