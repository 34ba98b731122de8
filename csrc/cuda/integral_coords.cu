// CUDA kernels of awing_ext::integral_coords and its backward: one warp per plane; the lanes
// find the first maximum (strided scan, then a shuffle reduction) and run the strided parts of
// awing/integral_coords.h, combined by fixed-order warp sums (bitwise reproducible; sums in double).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "awing/integral_coords.h"
#include "launch.cuh"
#include "warp_reduce.cuh"

namespace awing {
namespace cuda {
namespace {

static_assert(kThreads % 32 == 0, "integral_coords kernels need blocks of whole warps");

// The plane's first maximum (pixel 0 when every value is NaN) and its window's sums, the same in
// every lane.
template <typename T, typename scalar_t>
__device__ __forceinline__ long long plane_window_sums(const scalar_t* plane, long long H, long long W,
                                                      long long radius, int lane, double& s, double& sx,
                                                      double& sy) {
  T best = -positive_inf<T>();
  long long idx = -1;
  for (long long i = lane; i < H * W; i += 32) argmax_update(static_cast<T>(plane[i]), i, best, idx);
  idx = warp_argmax(best, idx);
  if (idx < 0) idx = 0;
  s = sx = sy = 0;
  integral_sums_part<T>(plane, W, IntegralWindow(idx, H, W, radius), lane, 32, s, sx, sy);
  s = warp_sum(s);
  sx = warp_sum(sx);
  sy = warp_sum(sy);
  return idx;
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) integral_coords_kernel(
    const scalar_t* __restrict__ hm, int64_t planes, int64_t H, int64_t W, int64_t radius,
    at::opmath_type<scalar_t>* __restrict__ coords) {
  using T = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(blockDim.x) * gridDim.x) >> 5;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    double s, sx, sy;
    const long long idx = plane_window_sums<T>(hm + p * H * W, H, W, radius, lane, s, sx, sy);
    if (lane == 0) integral_coords_from_sums<T>(s, sx, sy, idx, W, coords[2 * p], coords[2 * p + 1]);
  }
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) integral_coords_backward_kernel(
    const at::opmath_type<scalar_t>* __restrict__ grad, const scalar_t* __restrict__ hm,
    const at::opmath_type<scalar_t>* __restrict__ coords, int64_t planes, int64_t H, int64_t W, int64_t radius,
    scalar_t* __restrict__ out) {
  using T = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(blockDim.x) * gridDim.x) >> 5;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    const scalar_t* plane = hm + p * H * W;
    double s, sx, sy;
    const long long idx = plane_window_sums<T>(plane, H, W, radius, lane, s, sx, sy);
    integral_grad_part<T>(plane, W, H * W, IntegralWindow(idx, H, W, radius), lane, 32, s, coords[2 * p],
                          coords[2 * p + 1], grad[2 * p], grad[2 * p + 1], out + p * H * W);
  }
}

at::Tensor integral_coords_cuda(const at::Tensor& heatmaps, int64_t radius) {
  check_integral_coords_args(heatmaps, radius);
  TORCH_CHECK(heatmaps.device().is_cuda(), "integral_coords: heatmaps must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(heatmaps.device());
  const at::Tensor hm = heatmaps.contiguous();
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(at::toOpMathType(hm.scalar_type())));
  const int64_t planes = hm.size(0) * hm.size(1);
  if (planes == 0) return coords;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(planes * 32, kThreads, hm.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "integral_coords_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    integral_coords_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        hm.const_data_ptr<scalar_t>(), planes, hm.size(2), hm.size(3), radius, coords.mutable_data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return coords;
}

at::Tensor integral_coords_backward_cuda(const at::Tensor& grad, const at::Tensor& heatmaps, const at::Tensor& coords,
                                         int64_t radius) {
  check_integral_coords_backward_args(grad, heatmaps, coords, radius);
  TORCH_CHECK(heatmaps.device().is_cuda(), "integral_coords_backward: heatmaps must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(heatmaps.device());
  const at::Tensor hm = heatmaps.contiguous();
  at::Tensor out = at::empty(hm.sizes(), hm.options());
  const int64_t planes = hm.size(0) * hm.size(1);
  if (out.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(planes * 32, kThreads, hm.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "integral_coords_backward_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor g = grad.to(at::CppTypeToScalarType<T>::value).contiguous();
    const at::Tensor mu = coords.to(at::CppTypeToScalarType<T>::value).contiguous();
    integral_coords_backward_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        g.const_data_ptr<T>(), hm.const_data_ptr<scalar_t>(), mu.const_data_ptr<T>(), planes, hm.size(2),
        hm.size(3), radius, out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("integral_coords", &awing::cuda::integral_coords_cuda);
  m.impl("integral_coords_backward", &awing::cuda::integral_coords_backward_cuda);
}
