// CPU kernels of the training-target ops: render_heatmaps, render_boundaries, weight_map and
// decode_heatmaps. The per-pixel math lives in awing/gaussian.h, awing/segment.h and
// awing/decode.h, shared with the CUDA kernels; these launchers parallelise over heatmap planes
// (or rows) with at::parallel_for and only touch the pixels a landmark or curve can reach.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "awing/decode.h"
#include "awing/gaussian.h"
#include "awing/segment.h"
#include "awing/target_checks.h"
#include "dilation_cpu.h"

namespace awing {
namespace cpu {
namespace {

at::ScalarType out_dtype(const std::optional<at::ScalarType>& dtype) {
  return dtype.has_value() ? *dtype : at::kFloat;
}

// ------------------------------------------------------------------------- render_heatmaps

template <typename out_t>
void render_heatmaps_kernel(const at::Tensor& lm, const at::Tensor& vis, double sigma,
                            double truncate, at::Tensor& out) {
  using T = at::opmath_type<out_t>;
  const int64_t N = out.size(0), K = out.size(1), H = out.size(2), W = out.size(3);
  const int64_t HW = H * W;
  const at::Tensor pts_t = lm.to(c10::CppTypeToScalarType<T>::value).contiguous();
  const T* pts = pts_t.const_data_ptr<T>();
  const bool* visible = vis.defined() ? vis.const_data_ptr<bool>() : nullptr;
  out_t* O = out.mutable_data_ptr<out_t>();
  const GaussianParams<T> prm(sigma, truncate);
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(HW, 1));

  at::parallel_for(0, N * K, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      out_t* o = O + p * HW;
      std::memset(o, 0, sizeof(out_t) * HW);  // all-zero bits are +0 in every float type
      if (visible != nullptr && !visible[p]) continue;
      const T cx = pts[2 * p], cy = pts[2 * p + 1];
      if (!finite_point(cx, cy)) continue;
      long long w0, w1, h0, h1;
      pixel_span(cx, cx, prm.cutoff, W, w0, w1);
      pixel_span(cy, cy, prm.cutoff, H, h0, h1);
      for (long long h = h0; h <= h1; ++h) {
        for (long long w = w0; w <= w1; ++w) {
          o[h * W + w] = static_cast<out_t>(
              gaussian_pixel(static_cast<T>(w), static_cast<T>(h), cx, cy, prm));
        }
      }
    }
  });
}

at::Tensor render_heatmaps_cpu(const at::Tensor& landmarks, const std::optional<at::Tensor>& visible,
                               int64_t height, int64_t width, double sigma, double truncate,
                               std::optional<at::ScalarType> dtype) {
  check_render_heatmaps_args(landmarks, visible, height, width, sigma, truncate, dtype);
  TORCH_CHECK(landmarks.device().is_cpu(), "render_heatmaps: landmarks must be a CPU tensor here");
  const at::ScalarType dt = out_dtype(dtype);
  at::Tensor out = at::empty({landmarks.size(0), landmarks.size(1), height, width},
                             landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;
  const at::Tensor vis = visible.has_value() ? visible->to(at::kBool).contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_heatmaps_cpu", [&] {
    render_heatmaps_kernel<scalar_t>(landmarks, vis, sigma, truncate, out);
  });
  return out;
}

// ------------------------------------------------------------------------ render_boundaries

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
  check_render_boundaries_args(landmarks, height, width, sigma, truncate, samples, dtype);
  TORCH_CHECK(landmarks.device().is_cpu(), "render_boundaries: landmarks must be a CPU tensor here");
  std::vector<int> spans, span_begin;
  build_spans(curve_points.vec(), curve_lengths.vec(), landmarks.size(1), spans, span_begin);
  const at::ScalarType dt = out_dtype(dtype);
  const int64_t channels = per_curve ? static_cast<int64_t>(curve_lengths.size()) : 1;
  at::Tensor out = at::empty({landmarks.size(0), channels, height, width}, landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_boundaries_cpu", [&] {
    render_boundaries_kernel<scalar_t>(landmarks, spans, span_begin, samples, per_curve, sigma,
                                       truncate, out);
  });
  return out;
}

// ------------------------------------------------------------------------------ weight_map

// Per plane: first flags the rows holding a value > threshold (NaN never counts); an output row
// whose k-row band has no flagged row is all zero (its window maxima are <= threshold or NaN),
// the others go through the separable dilation. Rendered heatmaps are mostly such zero rows.
template <typename scalar_t>
void weight_map_kernel(const at::Tensor& target, double threshold, int64_t kernel_size, at::Tensor& out) {
  using T = at::opmath_type<scalar_t>;
  const int64_t H = target.size(2), W = target.size(3);
  const int64_t HW = H * W;
  const int64_t planes = target.numel() / HW;
  const int64_t radius = kernel_size / 2;
  const scalar_t* X = target.const_data_ptr<scalar_t>();
  scalar_t* O = out.mutable_data_ptr<scalar_t>();
  const T thr = static_cast<T>(threshold);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1));

  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> converted, padded(W + 2 * radius), dilated(W);
    std::vector<char> hot(H);
    for (int64_t p = begin; p < end; ++p) {
      const T* plane;
      if constexpr (std::is_same_v<scalar_t, T>) {
        plane = X + p * HW;
      } else {
        converted.resize(HW);
        at::vec::convert(X + p * HW, converted.data(), HW);
        plane = converted.data();
      }
      using Vec = at::vec::Vectorized<T>;
      constexpr int64_t L = Vec::size();
      const Vec vthr(thr);
      for (int64_t h = 0; h < H; ++h) {
        const T* row = plane + h * W;
        bool any = false;
        int64_t w = 0;
        for (; w + L <= W && !any; w += L) any = (Vec::loadu(row + w) > vthr).zero_mask() != (1 << L) - 1;
        for (; w < W && !any; ++w) any = row[w] > thr;
        hot[h] = any;
      }
      for (int64_t h = 0; h < H; ++h) {
        scalar_t* o = O + p * HW + h * W;
        const int64_t h0 = std::max<int64_t>(0, h - radius);
        const int64_t h1 = std::min<int64_t>(H - 1, h + radius);
        bool any = false;
        for (int64_t r = h0; r <= h1 && !any; ++r) any = hot[r];
        if (!any) {
          std::memset(o, 0, sizeof(scalar_t) * W);
          continue;
        }
        dilate_row(plane + h0 * W, h1 - h0 + 1, W, h - h0, radius, padded.data(), dilated.data());
        for (int64_t w = 0; w < W; ++w) o[w] = dilated[w] > thr ? scalar_t(1) : scalar_t(0);
      }
    }
  });
}

at::Tensor weight_map_cpu(const at::Tensor& target, double threshold, int64_t kernel_size) {
  check_weight_map_args(target, kernel_size);
  TORCH_CHECK(target.device().is_cpu(), "weight_map: target must be a CPU tensor here");
  const at::Tensor t = target.contiguous();
  at::Tensor out = at::empty(t.sizes(), t.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t.scalar_type(), "weight_map_cpu", [&] {
    weight_map_kernel<scalar_t>(t, threshold, kernel_size, out);
  });
  return out;
}

// ------------------------------------------------------------------------- decode_heatmaps

template <typename scalar_t>
void decode_kernel(const at::Tensor& hm, DecodeMethod method, at::Tensor& coords, at::Tensor& scores) {
  using T = at::opmath_type<scalar_t>;
  const int64_t H = hm.size(2), W = hm.size(3);
  const int64_t HW = H * W;
  const int64_t planes = hm.size(0) * hm.size(1);
  const scalar_t* X = hm.const_data_ptr<scalar_t>();
  T* C = coords.mutable_data_ptr<T>();
  T* S = scores.mutable_data_ptr<T>();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1));

  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const scalar_t* plane = X + p * HW;
      T best = -std::numeric_limits<T>::infinity();
      long long idx = -1;
      for (int64_t i = 0; i < HW; ++i) argmax_update(static_cast<T>(plane[i]), i, best, idx);
      store_decoded<T>(plane, H, W, idx, method, p, C, S);
    }
  });
}

std::tuple<at::Tensor, at::Tensor> decode_heatmaps_cpu(const at::Tensor& heatmaps, c10::string_view method) {
  const DecodeMethod m = check_decode_args(heatmaps, method);
  TORCH_CHECK(heatmaps.device().is_cpu(), "decode_heatmaps: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const auto opmath = at::toOpMathType(hm.scalar_type());
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(opmath));
  at::Tensor scores = at::empty({hm.size(0), hm.size(1)}, hm.options().dtype(opmath));
  if (scores.numel() == 0) return {coords, scores};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "decode_heatmaps_cpu", [&] {
    decode_kernel<scalar_t>(hm, m, coords, scores);
  });
  return {coords, scores};
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("render_heatmaps", &awing::cpu::render_heatmaps_cpu);
  m.impl("render_boundaries", &awing::cpu::render_boundaries_cpu);
  m.impl("weight_map", &awing::cpu::weight_map_cpu);
  m.impl("decode_heatmaps", &awing::cpu::decode_heatmaps_cpu);
}
