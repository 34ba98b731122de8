// Host-side launch decisions of the CUDA kernels: grid size, vector width and index width.
//
// Kept free of CUDA headers so that every build (CPU-only included) compiles them and the tests
// check them on any machine through awing_ext._C.plan_* (tests/test_launch_plan.py); the CUDA
// launchers call exactly these functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace awing {

// Resident threads per SM the grid-stride kernels aim for (2048 on sm_70 .. sm_90).
constexpr int64_t kThreadsPerSm = 2048;

// Pixels per thread iteration of the loss kernel when its pointers and rows allow vector access.
constexpr int kLossVectorWidth = 4;

// Blocks for a grid-stride loop over `work` items with `threads` per block: enough blocks to
// fill `sm_count` SMs, never more than the work needs, at least 1.
inline int grid_blocks(int64_t work, int threads, int sm_count) {
  const int64_t wanted = (std::max<int64_t>(work, 0) + threads - 1) / threads;
  const int64_t cap = std::max<int64_t>(sm_count, 1) * std::max<int64_t>(kThreadsPerSm / threads, 1);
  return static_cast<int>(std::max<int64_t>(1, std::min(wanted, cap)));
}

// Whether a grid-stride loop may index in int32: the largest value it forms is an element index
// below `numel` plus one grid stride (`blocks * threads` items of `items_per_thread` elements).
inline bool fits_int32(int64_t numel, int64_t blocks, int64_t threads, int64_t items_per_thread = 1) {
  return numel + blocks * threads * items_per_thread <= std::numeric_limits<int32_t>::max();
}

// One pointer the loss kernel reads or writes: its address and element size in bytes.
struct Access {
  std::uintptr_t address;
  int64_t element_size;
};

// kLossVectorWidth when every row of width W starts on a pack boundary and every pointer is
// aligned to its pack (element size x width, as the kernel's Pack type is); else 1, the scalar
// path. A misaligned view (storage offset not a multiple of the width) therefore falls back.
inline int loss_vector_width(int64_t W, const std::vector<Access>& accesses) {
  if (W % kLossVectorWidth != 0) return 1;
  for (const Access& a : accesses) {
    if (a.address % static_cast<std::uintptr_t>(a.element_size * kLossVectorWidth) != 0) return 1;
  }
  return kLossVectorWidth;
}

// The whole launch of the loss kernel.
struct LossLaunchPlan {
  int vector_width;  // pixels per thread iteration (kLossVectorWidth or 1)
  int blocks;        // grid size
  bool int32_index;  // index type of the kernel
};

inline LossLaunchPlan plan_loss_launch(int64_t numel, int64_t W, const std::vector<Access>& accesses,
                                       int threads, int sm_count) {
  LossLaunchPlan plan{};
  plan.vector_width = loss_vector_width(W, accesses);
  plan.blocks = grid_blocks(numel / plan.vector_width, threads, sm_count);
  plan.int32_index = fits_int32(numel, plan.blocks, threads, plan.vector_width);
  return plan;
}

}  // namespace awing
