// Integral regression that does not round: the expectation of the pixel coordinates under
// relu(h), normalised over a (2r + 1) x (2r + 1) window centred on the plane's first maximum.
// The single definitions both backends use, and the op's argument checks (host only).
//
// Why a window and relu rather than softmax(beta * h) over the whole plane (Sun et al.'s
// soft-argmax): a sum-normalised centroid of a sampled Gaussian is its centre, to within the
// truncation of its tails; softmax(beta * h) is not (it rounds towards the argmax pixel, by up to
// 0.47 px for sigma 1, and its error depends on the peak height). The window keeps the flat
// background of the rest of the plane out of the expectation; relu keeps negative values from
// pushing it away. With r = ceil(3 sigma) the window holds the whole rendered Gaussian
// (docs/evaluation.md has the table).
//
// Coordinates follow docs/design.md: pixel (row i, column j) is the point (x = j, y = i). With
// (a, b) the argmax pixel (row, column), the window R = rows [a - r, a + r] x columns [b - r, b + r]
// clipped to the plane, v_ij = max(h_ij, 0) and S = sum_R v:
//   mu_x = sum_R v_ij * j / S,   mu_y = sum_R v_ij * i / S
//   d mu_x / d h_ij = (j - mu_x) / S  where (i, j) in R and h_ij > 0, else 0  (y alike)
// The window's position is piecewise constant in h, so it carries no gradient.
// Edge cases: S = 0 (no positive value in the window: a flat or negative plane) gives the argmax
// pixel itself and a zero gradient; NaN or +inf inside the window gives NaN (NaN elsewhere is
// ignored, as by the argmax); an all-NaN plane gives NaN. Sums in double, in a fixed order.
//
// Each function works on the strided part {start, start + step, ...} of the window or plane, so
// the CPU (start 0, step 1) and CUDA (one warp per plane: start = lane, step 32, then a warp
// reduction) run the same formula.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>

#include "awing/argmax.h"
#include "awing/checks.h"
#include "awing/math.h"

namespace awing {

// The largest window radius: beyond any heatmap's size (the window is clipped to the plane),
// and small enough that row/column arithmetic cannot overflow.
constexpr int64_t kMaxIntegralRadius = 1 << 20;

// The clipped window around pixel `idx` of an H x W plane: rows [r0, r1], columns [c0, c1].
struct IntegralWindow {
  long long r0, r1, c0, c1;

  AWING_HD IntegralWindow(long long idx, long long H, long long W, long long radius) {
    const long long row = idx / W, col = idx % W;
    r0 = row - radius < 0 ? 0 : row - radius;
    r1 = row + radius > H - 1 ? H - 1 : row + radius;
    c0 = col - radius < 0 ? 0 : col - radius;
    c1 = col + radius > W - 1 ? W - 1 : col + radius;
  }
  AWING_HD long long width() const { return c1 - c0 + 1; }
  AWING_HD long long size() const { return (r1 - r0 + 1) * width(); }
  AWING_HD bool contains(long long row, long long col) const {
    return row >= r0 && row <= r1 && col >= c0 && col <= c1;
  }
};

// relu that keeps NaN (a NaN value must make the coordinates NaN, not vanish).
template <typename T>
AWING_HD T relu_keep_nan(T v) {
  return v > T(0) || v != v ? v : T(0);
}

// The sums S, sum v * x, sum v * y over the part {start, start + step, ...} of the window's
// pixels (numbered row-major within the window), added to s, sx, sy.
template <typename T, typename scalar_t>
AWING_HD void integral_sums_part(const scalar_t* plane, long long W, const IntegralWindow& win, long long start,
                                 long long step, double& s, double& sx, double& sy) {
  const long long ww = win.width(), n = win.size();
  for (long long t = start; t < n; t += step) {
    const long long row = win.r0 + t / ww, col = win.c0 + t % ww;
    const double v = static_cast<double>(relu_keep_nan(static_cast<T>(plane[row * W + col])));
    s += v;
    sx += v * static_cast<double>(col);
    sy += v * static_cast<double>(row);
  }
}

// The coordinates from the window's sums; S == 0 gives the argmax pixel (row, column) itself.
template <typename T>
AWING_HD void integral_coords_from_sums(double s, double sx, double sy, long long idx, long long W, T& x, T& y) {
  if (s == 0) {
    x = static_cast<T>(idx % W);
    y = static_cast<T>(idx / W);
  } else {
    x = static_cast<T>(sx / s);
    y = static_cast<T>(sy / s);
  }
}

// grad_h over the plane part {start, start + step, ...}: (g_x (x - mu_x) + g_y (y - mu_y)) / S at
// the window's positive (or NaN) pixels, 0 elsewhere and everywhere when S == 0.
template <typename T, typename scalar_t>
AWING_HD void integral_grad_part(const scalar_t* plane, long long W, long long HW, const IntegralWindow& win,
                                 long long start, long long step, double s, T mu_x, T mu_y, T g_x, T g_y,
                                 scalar_t* grad) {
  const T inv_s = s == 0 ? T(0) : static_cast<T>(1.0 / s);
  for (long long i = start; i < HW; i += step) {
    const long long row = i / W, col = i % W;
    const T v = static_cast<T>(plane[i]);
    T g = T(0);
    if (s != 0 && win.contains(row, col) && (v > T(0) || v != v)) {
      g = (g_x * (static_cast<T>(col) - mu_x) + g_y * (static_cast<T>(row) - mu_y)) * inv_s;
      if (v != v) g = v;
    }
    grad[i] = static_cast<scalar_t>(g);
  }
}

inline void check_integral_coords_args(const at::Tensor& heatmaps, int64_t radius) {
  constexpr const char* op = "integral_coords";
  check_heatmap(heatmaps, op, "heatmaps");
  TORCH_CHECK(heatmaps.sym_size(2) > 0 && heatmaps.sym_size(3) > 0, op,
              ": heatmaps must have H, W > 0, got shape ", heatmaps.sym_sizes());
  TORCH_CHECK(radius >= 0 && radius <= kMaxIntegralRadius, op, ": radius must be an integer in [0, ",
              kMaxIntegralRadius, "] (ceil(3 sigma) for Gaussian targets of sigma), got ", radius);
}

inline void check_integral_coords_backward_args(const at::Tensor& grad, const at::Tensor& heatmaps,
                                                const at::Tensor& coords, int64_t radius) {
  constexpr const char* op = "integral_coords_backward";
  check_integral_coords_args(heatmaps, radius);
  check_coords_backward(op, grad, heatmaps, coords);
}

}  // namespace awing
