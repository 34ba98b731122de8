// Boundary heatmaps: Catmull-Rom sampling of facial curves and the point-to-segment distance,
// the single definitions both backends use.
//
// A curve through control points P_0..P_{m-1} (m >= 2) is the uniform Catmull-Rom spline, which
// interpolates every P_i; the end spans use a duplicated end point (P_{-1} = P_0,
// P_m = P_{m-1}). Each span P_i -> P_{i+1} is sampled at S + 1 equally spaced parameters and
// replaced by S line segments. The boundary value of a pixel is exp(-d^2 / (2 sigma^2)) with d
// the distance to the nearest segment, where d < truncate * sigma, and 0 beyond.
// Also the span table built from the op's curve lists and the validation of its arguments
// (host only).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>
#include <vector>

#include "awing/gaussian.h"
#include "awing/math.h"

namespace awing {

// The uniform Catmull-Rom spline through p1 (t = 0) and p2 (t = 1) with neighbours p0 and p3,
// for one coordinate. NaN in any control point gives NaN.
template <typename T>
AWING_HD T catmull_rom(T p0, T p1, T p2, T p3, T t) {
  const T t2 = t * t;
  const T t3 = t2 * t;
  return T(0.5) * ((T(2) * p1) + (p2 - p0) * t +
                   (T(2) * p0 - T(5) * p1 + T(4) * p2 - p3) * t2 +
                   (T(3) * p1 - p0 - T(3) * p2 + p3) * t3);
}

// Squared distance from (px, py) to the segment (ax, ay)-(bx, by); a degenerate segment is a
// point. NaN when an end point is NaN.
template <typename T>
AWING_HD T point_segment_distance2(T px, T py, T ax, T ay, T bx, T by) {
  const T ex = bx - ax;
  const T ey = by - ay;
  const T qx = px - ax;
  const T qy = py - ay;
  const T len2 = ex * ex + ey * ey;
  T t = len2 > T(0) ? (qx * ex + qy * ey) / len2 : T(0);
  t = t < T(0) ? T(0) : (t > T(1) ? T(1) : t);
  const T dx = qx - t * ex;
  const T dy = qy - t * ey;
  return dx * dx + dy * dy;
}

// One span of a curve: the landmark indices of its four control points.
struct Span {
  int i0, i1, i2, i3;
};

// Segment j (0 <= j < S) of a span: the points of the spline at t = j/S and (j+1)/S. The end
// points are evaluated exactly at t = 0 and t = 1 (the control points themselves).
template <typename T>
AWING_HD void span_segment(const T* pts /* (K, 2) */, Span s, int j, int S, T& ax, T& ay, T& bx,
                           T& by) {
  const T ta = static_cast<T>(j) / static_cast<T>(S);
  const T tb = static_cast<T>(j + 1) / static_cast<T>(S);
  const T x0 = pts[2 * s.i0], y0 = pts[2 * s.i0 + 1];
  const T x1 = pts[2 * s.i1], y1 = pts[2 * s.i1 + 1];
  const T x2 = pts[2 * s.i2], y2 = pts[2 * s.i2 + 1];
  const T x3 = pts[2 * s.i3], y3 = pts[2 * s.i3 + 1];
  ax = j == 0 ? x1 : catmull_rom(x0, x1, x2, x3, ta);
  ay = j == 0 ? y1 : catmull_rom(y0, y1, y2, y3, ta);
  bx = j + 1 == S ? x2 : catmull_rom(x0, x1, x2, x3, tb);
  by = j + 1 == S ? y2 : catmull_rom(y0, y1, y2, y3, tb);
}


// Validates the curve tables against K landmarks: at least one curve, each of >= 2 points,
// lengths summing to the number of points, every index in [0, K).
inline void check_curve_tables(const std::vector<int64_t>& points, const std::vector<int64_t>& lengths,
                               const c10::SymInt& K) {
  constexpr const char* op = "render_boundaries";
  TORCH_CHECK(!lengths.empty(), op, ": curves must hold at least one curve");
  int64_t total = 0;
  for (size_t c = 0; c < lengths.size(); ++c) {
    TORCH_CHECK(lengths[c] >= 2, op, ": curve ", c, " must have at least 2 points, got ",
                lengths[c]);
    total += lengths[c];
  }
  TORCH_CHECK(total == static_cast<int64_t>(points.size()), op, ": curve_lengths sum to ", total,
              " but curve_points has ", points.size(), " entries");
  for (size_t i = 0; i < points.size(); ++i) {
    TORCH_CHECK(points[i] >= 0 && K > points[i], op, ": curve index ", points[i],
                " is out of range for ", K, " landmarks");
  }
}

// The spans (four landmark indices each) of curve tables that passed check_curve_tables and,
// per curve, the range [span_begin[c], span_begin[c + 1]) of its spans.
inline void build_spans(const std::vector<int64_t>& points, const std::vector<int64_t>& lengths,
                        std::vector<int>& spans /* 4 per span */, std::vector<int>& span_begin) {
  spans.clear();
  span_begin.assign(1, 0);
  int64_t start = 0;
  for (size_t c = 0; c < lengths.size(); ++c) {
    const int64_t m = lengths[c];
    const int64_t* p = points.data() + start;
    for (int64_t i = 0; i + 1 < m; ++i) {
      spans.push_back(static_cast<int>(p[i > 0 ? i - 1 : 0]));
      spans.push_back(static_cast<int>(p[i]));
      spans.push_back(static_cast<int>(p[i + 1]));
      spans.push_back(static_cast<int>(p[i + 2 < m ? i + 2 : m - 1]));
    }
    span_begin.push_back(static_cast<int>(spans.size() / 4));
    start += m;
  }
}

inline void check_render_boundaries_args(const at::Tensor& lm, const std::vector<int64_t>& points,
                                         const std::vector<int64_t>& lengths, int64_t height,
                                         int64_t width, double sigma, double truncate, int64_t samples,
                                         std::optional<at::ScalarType> dtype) {
  constexpr const char* op = "render_boundaries";
  check_landmarks(lm, op);
  check_curve_tables(points, lengths, lm.sym_size(1));
  check_render_common(height, width, sigma, truncate, dtype, op);
  TORCH_CHECK(samples >= 1 && samples <= 1024, op,
              ": samples (line segments per spline span) must be in [1, 1024], got ", samples);
}

}  // namespace awing
