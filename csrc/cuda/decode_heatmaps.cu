// CUDA kernel of awing_ext::decode_heatmaps: one warp per plane finds the first maximum with a
// shuffle reduction, lane 0 refines it (awing/decode_heatmaps.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>

#include "awing/decode_heatmaps.h"
#include "launch.cuh"
#include "warp_reduce.cuh"

namespace awing {
namespace cuda {
namespace {

// One warp per plane: whole warps per block keep each warp's plane loop uniform, which the
// full-mask shuffles need.
static_assert(kThreads % 32 == 0, "decode_kernel needs blocks of whole warps");

// One warp per heatmap plane: the lanes scan strided pixels, a shuffle reduction finds the
// first maximal pixel, lane 0 refines it. The warp loop is warp-uniform, so full-mask shuffles
// are safe.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) decode_kernel(
    const scalar_t* __restrict__ hm, int64_t planes, int64_t H, int64_t W, DecodeMethod method,
    at::opmath_type<scalar_t>* __restrict__ coords, at::opmath_type<scalar_t>* __restrict__ scores) {
  using T = at::opmath_type<scalar_t>;
  const int64_t HW = H * W;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (static_cast<int64_t>(blockDim.x) * gridDim.x) >> 5;
  for (int64_t p = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; p < planes; p += warps) {
    const scalar_t* plane = hm + p * HW;
    T best = -positive_inf<T>();
    long long idx = -1;
    for (int64_t i = lane; i < HW; i += 32) argmax_update(static_cast<T>(plane[i]), static_cast<long long>(i), best, idx);
    idx = warp_argmax(best, idx);
    if (lane == 0) {
      store_decoded<T>(plane, H, W, idx, method, p, coords, scores);
    }
  }
}

std::tuple<at::Tensor, at::Tensor> decode_heatmaps_cuda(const at::Tensor& heatmaps, c10::string_view method) {
  const DecodeMethod m = check_decode_args(heatmaps, method);
  TORCH_CHECK(heatmaps.device().is_cuda(), "decode_heatmaps: heatmaps must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(heatmaps.device());
  const at::Tensor hm = heatmaps.contiguous();
  const auto opmath = at::toOpMathType(hm.scalar_type());
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(opmath));
  at::Tensor scores = at::empty({hm.size(0), hm.size(1)}, hm.options().dtype(opmath));
  const int64_t planes = scores.numel();
  if (planes == 0) return {coords, scores};
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = grid_for(planes * 32, kThreads, hm.get_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "decode_heatmaps_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    decode_kernel<scalar_t><<<blocks, kThreads, 0, stream>>>(
        hm.const_data_ptr<scalar_t>(), planes, hm.size(2), hm.size(3), m, coords.mutable_data_ptr<T>(),
        scores.mutable_data_ptr<T>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {coords, scores};
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("decode_heatmaps", &awing::cuda::decode_heatmaps_cuda);
}
