// CUDA kernel of awing_ext::render_heatmaps: one thread per output pixel (grid-stride), the
// Gaussian of its landmark (awing/gaussian.h), on the current stream of the input's device.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "awing/render_heatmaps.h"
#include "launch.cuh"

namespace awing {
namespace cuda {
namespace {

template <typename out_t>
__global__ void __launch_bounds__(kThreads) render_heatmaps_kernel(
    const at::opmath_type<out_t>* __restrict__ pts, const bool* __restrict__ visible, int64_t total,
    int64_t H, int64_t W, GaussianParams<at::opmath_type<out_t>> prm, out_t* __restrict__ out) {
  using T = at::opmath_type<out_t>;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    int64_t plane, h, w;
    split_pixel_index(i, H, W, plane, h, w);
    T v = T(0);
    if (visible == nullptr || visible[plane]) {
      const T cx = pts[2 * plane];
      const T cy = pts[2 * plane + 1];
      if (finite_point(cx, cy)) v = gaussian_pixel(static_cast<T>(w), static_cast<T>(h), cx, cy, prm);
    }
    out[i] = static_cast<out_t>(v);
  }
}

at::Tensor render_heatmaps_cuda(const at::Tensor& landmarks, const std::optional<at::Tensor>& visible,
                                int64_t height, int64_t width, double sigma, double truncate,
                                std::optional<at::ScalarType> dtype) {
  check_render_heatmaps_args(landmarks, visible, height, width, sigma, truncate, dtype);
  TORCH_CHECK(landmarks.device().is_cuda(), "render_heatmaps: landmarks must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(landmarks.device());
  const at::ScalarType dt = render_dtype(dtype);
  at::Tensor out = at::empty({landmarks.size(0), landmarks.size(1), height, width},
                             landmarks.options().dtype(dt));
  if (out.numel() == 0) return out;
  const at::Tensor vis = visible.has_value() ? visible->to(at::kBool).contiguous() : at::Tensor();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(out.numel(), kThreads, landmarks.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "render_heatmaps_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor pts = landmarks.to(c10::CppTypeToScalarType<T>::value).contiguous();
    render_heatmaps_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        pts.const_data_ptr<T>(), vis.defined() ? vis.const_data_ptr<bool>() : nullptr, out.numel(),
        height, width, GaussianParams<T>(sigma, truncate), out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("render_heatmaps", &awing::cuda::render_heatmaps_cuda);
}
