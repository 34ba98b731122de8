// Soft-argmax (integral regression, Sun et al., ECCV 2018): the expectation of the pixel
// coordinates under softmax(beta * h) over each heatmap plane, the single definitions both
// backends use, and the validation of the op's arguments (host only).
//
// Coordinates follow docs/design.md: pixel (row i, column j) is the point (x = j, y = i), the
// convention decode_heatmaps uses. With m the plane's maximum and w_ij = exp(beta * (h_ij - m))
// (stable for any beta: every exponent is <= 0), S = sum w, p = w / S:
//   mu_x = sum p_ij * j,   mu_y = sum p_ij * i
//   d mu_x / d h_ij = beta * p_ij * (j - mu_x)   (the same for y with i - mu_y)
// so the backward is grad_h = beta * p * (g_x * (j - mu_x) + g_y * (i - mu_y)).
// A plane holding NaN or +inf, or only -inf, gives NaN coordinates (and NaN gradients); -inf
// values get weight 0. Sums accumulate in double in a fixed order (bitwise reproducible).
//
// Each function works on the strided part {start, start + step, ...} of a plane, so the CPU
// (one thread per plane: start 0, step 1) and CUDA (one warp per plane: start = lane, step 32,
// then a warp reduction) run the same formula.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>

#include "awing/checks.h"
#include "awing/math.h"

namespace awing {

// The largest value of the plane part; NaN never compares greater (see the header comment).
template <typename T, typename scalar_t>
AWING_HD T soft_argmax_max_part(const scalar_t* plane, long long HW, long long start, long long step) {
  T m = -INFINITY;
  for (long long i = start; i < HW; i += step) {
    const T v = static_cast<T>(plane[i]);
    m = v > m ? v : m;
  }
  return m;
}

// The three sums S, sum w * x, sum w * y of the plane part, added to s, sx, sy. NaN or +inf
// values (h - m is NaN) make them NaN; an all -inf plane (m = -inf) too.
template <typename T, typename scalar_t>
AWING_HD void soft_argmax_sums_part(const scalar_t* plane, long long W, long long HW, long long start,
                                    long long step, T m, T beta, double& s, double& sx, double& sy) {
  for (long long i = start; i < HW; i += step) {
    const T w = math::vexp(beta * (static_cast<T>(plane[i]) - m));
    s += w;
    sx += static_cast<double>(w) * static_cast<double>(i % W);
    sy += static_cast<double>(w) * static_cast<double>(i / W);
  }
}

// grad_h of the plane part from the plane's m, 1 / S, mu and the coordinates' gradient g.
template <typename T, typename scalar_t>
AWING_HD void soft_argmax_grad_part(const scalar_t* plane, long long W, long long HW, long long start,
                                    long long step, T m, T beta, T inv_s, T mu_x, T mu_y, T g_x, T g_y,
                                    scalar_t* grad) {
  for (long long i = start; i < HW; i += step) {
    const T p = math::vexp(beta * (static_cast<T>(plane[i]) - m)) * inv_s;
    const T x = static_cast<T>(i % W), y = static_cast<T>(i / W);
    grad[i] = static_cast<scalar_t>(beta * p * (g_x * (x - mu_x) + g_y * (y - mu_y)));
  }
}

inline void check_soft_argmax_args(const at::Tensor& heatmaps, double beta) {
  constexpr const char* op = "soft_argmax";
  check_heatmap(heatmaps, op, "heatmaps");
  TORCH_CHECK(heatmaps.sym_size(2) > 0 && heatmaps.sym_size(3) > 0, op,
              ": heatmaps must have H, W > 0, got shape ", heatmaps.sym_sizes());
  TORCH_CHECK(beta > 0 && std::isfinite(beta), op, ": beta must be a finite number > 0, got ", beta);
}

inline void check_soft_argmax_backward_args(const at::Tensor& grad, const at::Tensor& heatmaps,
                                            const at::Tensor& coords, double beta) {
  constexpr const char* op = "soft_argmax_backward";
  check_soft_argmax_args(heatmaps, beta);
  check_coords_backward(op, grad, heatmaps, coords);
}

}  // namespace awing
