// CUDA kernels of awing_ext::soft_argmax and its backward: one warp per plane; the lanes run the
// strided parts of awing/soft_argmax.h and shuffle reductions combine them in a fixed order
// (bitwise reproducible; sums in double).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "awing/soft_argmax.h"
#include "launch.cuh"
#include "warp_reduce.cuh"

namespace awing {
namespace cuda {
namespace {

static_assert(kThreads % 32 == 0, "soft_argmax kernels need blocks of whole warps");

// The plane's max and sums, the same in every lane.
template <typename T, typename scalar_t>
__device__ __forceinline__ void plane_moments(const scalar_t* plane, long long W, long long HW, int lane, T beta,
                                              T& m, double& s, double& sx, double& sy) {
  m = warp_max(soft_argmax_max_part<T>(plane, HW, lane, 32));
  s = sx = sy = 0;
  soft_argmax_sums_part<T>(plane, W, HW, lane, 32, m, beta, s, sx, sy);
  s = warp_sum(s);
  sx = warp_sum(sx);
  sy = warp_sum(sy);
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) soft_argmax_kernel(
    const scalar_t* __restrict__ hm, int64_t planes, int64_t H, int64_t W, at::opmath_type<scalar_t> beta,
    at::opmath_type<scalar_t>* __restrict__ coords) {
  using T = at::opmath_type<scalar_t>;
  const long long HW = H * W;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(blockDim.x) * gridDim.x) >> 5;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    T m;
    double s, sx, sy;
    plane_moments<T>(hm + p * HW, W, HW, lane, beta, m, s, sx, sy);
    if (lane == 0) {
      coords[2 * p] = static_cast<T>(sx / s);
      coords[2 * p + 1] = static_cast<T>(sy / s);
    }
  }
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) soft_argmax_backward_kernel(
    const at::opmath_type<scalar_t>* __restrict__ grad, const scalar_t* __restrict__ hm,
    const at::opmath_type<scalar_t>* __restrict__ coords, int64_t planes, int64_t H, int64_t W,
    at::opmath_type<scalar_t> beta, scalar_t* __restrict__ out) {
  using T = at::opmath_type<scalar_t>;
  const long long HW = H * W;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(blockDim.x) * gridDim.x) >> 5;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    T m;
    double s, sx, sy;
    plane_moments<T>(hm + p * HW, W, HW, lane, beta, m, s, sx, sy);
    soft_argmax_grad_part<T>(hm + p * HW, W, HW, lane, 32, m, beta, static_cast<T>(1.0 / s), coords[2 * p],
                             coords[2 * p + 1], grad[2 * p], grad[2 * p + 1], out + p * HW);
  }
}

at::Tensor soft_argmax_cuda(const at::Tensor& heatmaps, double beta) {
  check_soft_argmax_args(heatmaps, beta);
  TORCH_CHECK(heatmaps.device().is_cuda(), "soft_argmax: heatmaps must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(heatmaps.device());
  const at::Tensor hm = heatmaps.contiguous();
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(at::toOpMathType(hm.scalar_type())));
  const int64_t planes = hm.size(0) * hm.size(1);
  if (planes == 0) return coords;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(planes * 32, kThreads, hm.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "soft_argmax_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    soft_argmax_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        hm.const_data_ptr<scalar_t>(), planes, hm.size(2), hm.size(3), static_cast<T>(beta),
        coords.mutable_data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return coords;
}

at::Tensor soft_argmax_backward_cuda(const at::Tensor& grad, const at::Tensor& heatmaps, const at::Tensor& coords,
                                     double beta) {
  check_soft_argmax_backward_args(grad, heatmaps, coords, beta);
  TORCH_CHECK(heatmaps.device().is_cuda(), "soft_argmax_backward: heatmaps must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(heatmaps.device());
  const at::Tensor hm = heatmaps.contiguous();
  at::Tensor out = at::empty(hm.sizes(), hm.options());
  const int64_t planes = hm.size(0) * hm.size(1);
  if (out.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(planes * 32, kThreads, hm.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "soft_argmax_backward_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor g = grad.to(at::CppTypeToScalarType<T>::value).contiguous();
    const at::Tensor mu = coords.to(at::CppTypeToScalarType<T>::value).contiguous();
    soft_argmax_backward_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        g.const_data_ptr<T>(), hm.const_data_ptr<scalar_t>(), mu.const_data_ptr<T>(), planes, hm.size(2),
        hm.size(3), static_cast<T>(beta), out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("soft_argmax", &awing::cuda::soft_argmax_cuda);
  m.impl("soft_argmax_backward", &awing::cuda::soft_argmax_backward_cuda);
}
