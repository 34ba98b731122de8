// Launch helpers shared by the CUDA kernels.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace awing {
namespace cuda {

// Blocks for a grid-stride loop over `work` items: enough to fill the device, no more.
inline int grid_for(int64_t work, int threads, int device) {
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const int64_t wanted = (work + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(std::max(sms, 1)) * (2048 / threads);
  return static_cast<int>(std::max<int64_t>(1, std::min(wanted, cap)));
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

inline bool aligned_to(const void* p, int bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

// A pack of VEC values loaded or stored with one vector instruction.
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

}  // namespace cuda
}  // namespace awing
