// CPU kernel of awing_ext::render_heatmaps: one Gaussian per (sample, landmark) plane, parallel
// over planes (at::parallel_for); only the pixels within the cutoff radius are computed, the
// rest of the plane is zeroed. Per-pixel value: gaussian_pixel (awing/gaussian.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>

#include "awing/render_heatmaps.h"

namespace awing {
namespace cpu {
namespace {

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
  const at::ScalarType dt = render_dtype(dtype);
  at::Tensor out = at::empty({landmarks.size(0), landmarks.size(1), height, width},
                             landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;
  const at::Tensor vis = visible.has_value() ? visible->to(at::kBool).contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_heatmaps_cpu", [&] {
    render_heatmaps_kernel<scalar_t>(landmarks, vis, sigma, truncate, out);
  });
  return out;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("render_heatmaps", &awing::cpu::render_heatmaps_cpu);
}
