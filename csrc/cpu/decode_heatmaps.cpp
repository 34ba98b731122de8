// CPU kernel of awing_ext::decode_heatmaps: per plane, the first maximum, then the sub-pixel
// refinement (awing/decode_heatmaps.h), parallel over planes.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>

#include "awing/decode_heatmaps.h"

namespace awing {
namespace cpu {
namespace {

template <typename scalar_t>
void decode_kernel(const at::Tensor& hm, DecodeMethod method, at::Tensor& coords, at::Tensor& scores) {
  using T = at::opmath_type<scalar_t>;
  const int64_t H = hm.size(2), W = hm.size(3);
  const int64_t HW = H * W;
  const int64_t planes = hm.size(0) * hm.size(1);
  const scalar_t* X = hm.const_data_ptr<scalar_t>();
  T* C = coords.mutable_data_ptr<T>();
  T* S = scores.mutable_data_ptr<T>();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1));

  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const scalar_t* plane = X + p * HW;
      T best = -std::numeric_limits<T>::infinity();
      long long idx = -1;
      for (int64_t i = 0; i < HW; ++i) argmax_update(static_cast<T>(plane[i]), i, best, idx);
      store_decoded<T>(plane, H, W, idx, method, p, C, S);
    }
  });
}

std::tuple<at::Tensor, at::Tensor> decode_heatmaps_cpu(const at::Tensor& heatmaps, c10::string_view method) {
  const DecodeMethod m = check_decode_args(heatmaps, method);
  TORCH_CHECK(heatmaps.device().is_cpu(), "decode_heatmaps: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const auto opmath = at::toOpMathType(hm.scalar_type());
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(opmath));
  at::Tensor scores = at::empty({hm.size(0), hm.size(1)}, hm.options().dtype(opmath));
  if (scores.numel() == 0) return {coords, scores};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "decode_heatmaps_cpu", [&] {
    decode_kernel<scalar_t>(hm, m, coords, scores);
  });
  return {coords, scores};
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("decode_heatmaps", &awing::cpu::decode_heatmaps_cpu);
}
