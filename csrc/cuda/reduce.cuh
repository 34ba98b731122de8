// Deterministic two-pass sum on the GPU: each block reduces its threads' partials with
// cub::BlockReduce into one slot of `block_sums` (no atomics), then a single block adds the
// slots in a fixed order. Same inputs, same device: bitwise the same result on every run.
#pragma once

#include <cub/block/block_reduce.cuh>

#include "launch.cuh"

namespace awing {
namespace cuda {

// Called by every thread of a kThreads-wide block; thread 0 stores the block's total.
__device__ __forceinline__ void store_block_sum(double thread_sum, double* block_sums) {
  using BlockReduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  const double total = BlockReduce(temp).Sum(thread_sum);
  if (threadIdx.x == 0) block_sums[blockIdx.x] = total;
}

// <<<1, kThreads>>>: out[0] = scale * sum(block_sums[0..n)), in a fixed order, times
// *scale_dev when given (a factor computed on the device, e.g. 1 / the focal loss's positives).
template <typename out_t>
__global__ void finish_sum_kernel(const double* __restrict__ block_sums, int n, double scale,
                                  const double* __restrict__ scale_dev, out_t* __restrict__ out) {
  double s = 0;
  for (int i = threadIdx.x; i < n; i += kThreads) s += block_sums[i];
  using BlockReduce = cub::BlockReduce<double, kThreads>;
  __shared__ typename BlockReduce::TempStorage temp;
  const double total = BlockReduce(temp).Sum(s);
  if (threadIdx.x == 0) out[0] = static_cast<out_t>(total * scale * (scale_dev != nullptr ? *scale_dev : 1.0));
}

}  // namespace cuda
}  // namespace awing
