// CUDA kernel of awing_ext::loss_map_mask: one thread per pixel, window_max of its k x k
// neighbourhood (awing/dilation.h) against the threshold.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "awing/loss_map_mask.h"
#include "launch.cuh"

namespace awing {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) loss_map_mask_kernel(
    const scalar_t* __restrict__ target, int64_t total, int64_t H, int64_t W, int64_t radius,
    at::opmath_type<scalar_t> threshold, scalar_t* __restrict__ out) {
  using T = at::opmath_type<scalar_t>;
  const int64_t HW = H * W;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    int64_t plane, h, w;
    split_pixel_index(i, H, W, plane, h, w);
    const T m = window_max<T, int64_t>(target + plane * HW, H, W, h, w, radius, LoadAs<T>{});
    out[i] = m > threshold ? scalar_t(1) : scalar_t(0);
  }
}

at::Tensor loss_map_mask_cuda(const at::Tensor& target, double threshold, int64_t kernel_size) {
  check_loss_map_mask_args(target, threshold, kernel_size);
  TORCH_CHECK(target.device().is_cuda(), "loss_map_mask: target must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(target.device());
  const at::Tensor t = target.contiguous();
  at::Tensor out = at::empty(t.sizes(), t.options());
  if (out.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(out.numel(), kThreads, t.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t.scalar_type(), "loss_map_mask_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    loss_map_mask_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        t.const_data_ptr<scalar_t>(), out.numel(), t.size(2), t.size(3), kernel_size / 2,
        static_cast<T>(threshold), out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("loss_map_mask", &awing::cuda::loss_map_mask_cuda);
}
