// CPU kernel of awing_ext::render_boundaries: per output plane, every spline segment of the
// channel's curves lowers the squared distance of the pixels in its box grown by the cutoff
// (scatter-min), then the Gaussian of the distance. Math: awing/render_boundaries.h.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "awing/render_boundaries.h"

namespace awing {
namespace cpu {
namespace {

template <typename out_t>
void render_boundaries_kernel(const at::Tensor& lm, const std::vector<int>& spans,
                              const std::vector<int>& span_begin, int64_t S, bool per_curve,
                              double sigma, double truncate, at::Tensor& out) {
  using T = at::opmath_type<out_t>;
  const int64_t N = out.size(0), CH = out.size(1), H = out.size(2), W = out.size(3);
  const int64_t K = lm.size(1);
  const int64_t HW = H * W;
  const int64_t curves = static_cast<int64_t>(span_begin.size()) - 1;
  const at::Tensor pts_t = lm.to(c10::CppTypeToScalarType<T>::value).contiguous();
  const T* P = pts_t.const_data_ptr<T>();
  out_t* O = out.mutable_data_ptr<out_t>();
  const GaussianParams<T> prm(sigma, truncate);
  const int Si = static_cast<int>(S);

  // Scatter-min: every segment lowers the squared distance of the pixels in its bounding box
  // grown by the cutoff; pixels outside it are >= cutoff away and render 0 anyway.
  at::parallel_for(0, N * CH, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> d2(HW);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t n = plane / CH;
      const int64_t ch = plane % CH;
      const T* pts = P + n * K * 2;
      std::fill(d2.begin(), d2.end(), std::numeric_limits<T>::infinity());
      const int64_t c0 = per_curve ? ch : 0;
      const int64_t c1 = per_curve ? ch + 1 : curves;
      for (int64_t sp = span_begin[c0]; sp < span_begin[c1]; ++sp) {
        const Span span{spans[4 * sp], spans[4 * sp + 1], spans[4 * sp + 2], spans[4 * sp + 3]};
        for (int j = 0; j < Si; ++j) {
          T ax, ay, bx, by;
          span_segment(pts, span, j, Si, ax, ay, bx, by);
          if (!finite_point(ax, ay) || !finite_point(bx, by)) continue;
          long long w0, w1, h0, h1;
          pixel_span(std::min(ax, bx), std::max(ax, bx), prm.cutoff, W, w0, w1);
          pixel_span(std::min(ay, by), std::max(ay, by), prm.cutoff, H, h0, h1);
          for (long long h = h0; h <= h1; ++h) {
            T* row = d2.data() + h * W;
            for (long long w = w0; w <= w1; ++w) {
              const T v = point_segment_distance2(static_cast<T>(w), static_cast<T>(h), ax, ay, bx, by);
              if (v < row[w]) row[w] = v;
            }
          }
        }
      }
      out_t* o = O + plane * HW;
      for (int64_t i = 0; i < HW; ++i) o[i] = static_cast<out_t>(gaussian_of_r2(d2[i], prm));
    }
  });
}

at::Tensor render_boundaries_cpu(const at::Tensor& landmarks, c10::IntArrayRef curve_points,
                                 c10::IntArrayRef curve_lengths, int64_t height, int64_t width,
                                 double sigma, double truncate, int64_t samples, bool per_curve,
                                 std::optional<at::ScalarType> dtype) {
  const std::vector<int64_t> points = curve_points.vec(), lengths = curve_lengths.vec();
  check_render_boundaries_args(landmarks, points, lengths, height, width, sigma, truncate, samples,
                               dtype);
  TORCH_CHECK(landmarks.device().is_cpu(), "render_boundaries: landmarks must be a CPU tensor here");
  std::vector<int> spans, span_begin;
  build_spans(points, lengths, spans, span_begin);
  const at::ScalarType dt = render_dtype(dtype);
  const int64_t channels = per_curve ? static_cast<int64_t>(curve_lengths.size()) : 1;
  at::Tensor out = at::empty({landmarks.size(0), channels, height, width}, landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_boundaries_cpu", [&] {
    render_boundaries_kernel<scalar_t>(landmarks, spans, span_begin, samples, per_curve, sigma,
                                       truncate, out);
  });
  return out;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("render_boundaries", &awing::cpu::render_boundaries_cpu);
}
