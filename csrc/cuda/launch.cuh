// Launch helpers shared by the CUDA kernels.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <limits>

#include "awing/launch_plan.h"

namespace awing {
namespace cuda {

// Threads per block of every awing kernel (the loss's block reduction is sized for it).
constexpr int kThreads = 256;

// Loads *p as T (the arithmetic type), e.g. a half value as float.
template <typename T>
struct LoadAs {
  template <typename scalar_t>
  __device__ __forceinline__ T operator()(const scalar_t* p) const {
    return static_cast<T>(*p);
  }
};

template <typename T>
__device__ __forceinline__ T positive_inf() {
  return std::numeric_limits<T>::infinity();
}

// SMs of `device`, queried once per device and cached (no driver call per launch).
inline int sm_count(int device) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];  // 0: not queried yet
  const bool cached = device >= 0 && device < kMaxDevices;
  if (cached) {
    const int known = cache[device].load(std::memory_order_relaxed);
    if (known > 0) return known;
  }
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (cached) cache[device].store(sms, std::memory_order_relaxed);
  return sms;
}

// Blocks for a grid-stride loop over `work` items on `device`: enough to fill it, no more.
inline int grid_for(int64_t work, int threads, int device) {
  return grid_blocks(work, threads, sm_count(device));
}

// Flat index i of an (planes, H, W) tensor -> (plane, h, w).
template <typename index_t>
__device__ __forceinline__ void split_pixel_index(index_t i, index_t H, index_t W, index_t& plane,
                                                  index_t& h, index_t& w) {
  const index_t hw = H * W;
  plane = i / hw;
  const index_t rem = i - plane * hw;
  h = rem / W;
  w = rem - h * W;
}

// A pack of VEC values loaded or stored with one vector instruction.
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

}  // namespace cuda
}  // namespace awing
