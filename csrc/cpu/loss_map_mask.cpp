// CPU kernel of awing_ext::loss_map_mask: per plane, rows with no value > threshold within the
// window are zero; the others go through the separable dilation (awing/dilation.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "awing/loss_map_mask.h"

namespace awing {
namespace cpu {
namespace {

// Per plane: first flags the rows holding a value > threshold (NaN never counts); an output row
// whose k-row band has no flagged row is all zero (its window maxima are <= threshold or NaN),
// the others go through the separable dilation. Rendered heatmaps are mostly such zero rows.
template <typename scalar_t>
void loss_map_mask_kernel(const at::Tensor& target, double threshold, int64_t kernel_size, at::Tensor& out) {
  using T = at::opmath_type<scalar_t>;
  const int64_t H = target.size(2), W = target.size(3);
  const int64_t HW = H * W;
  const int64_t planes = target.numel() / HW;
  const int64_t radius = kernel_size / 2;
  const scalar_t* X = target.const_data_ptr<scalar_t>();
  scalar_t* O = out.mutable_data_ptr<scalar_t>();
  const T thr = static_cast<T>(threshold);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1));

  at::parallel_for(0, planes, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> converted, padded(W + 2 * radius), dilated(W);
    std::vector<char> hot(H);
    for (int64_t p = begin; p < end; ++p) {
      const T* plane;
      if constexpr (std::is_same_v<scalar_t, T>) {
        plane = X + p * HW;
      } else {
        converted.resize(HW);
        at::vec::convert(X + p * HW, converted.data(), HW);
        plane = converted.data();
      }
      using Vec = at::vec::Vectorized<T>;
      constexpr int64_t L = Vec::size();
      const Vec vthr(thr);
      for (int64_t h = 0; h < H; ++h) {
        const T* row = plane + h * W;
        bool any = false;
        int64_t w = 0;
        for (; w + L <= W && !any; w += L) any = (Vec::loadu(row + w) > vthr).zero_mask() != (1 << L) - 1;
        for (; w < W && !any; ++w) any = row[w] > thr;
        hot[h] = any;
      }
      for (int64_t h = 0; h < H; ++h) {
        scalar_t* o = O + p * HW + h * W;
        const int64_t h0 = std::max<int64_t>(0, h - radius);
        const int64_t h1 = std::min<int64_t>(H - 1, h + radius);
        bool any = false;
        for (int64_t r = h0; r <= h1 && !any; ++r) any = hot[r];
        if (!any) {
          std::memset(o, 0, sizeof(scalar_t) * W);
          continue;
        }
        dilate_row(plane + h0 * W, h1 - h0 + 1, W, h - h0, radius, padded.data(), dilated.data());
        for (int64_t w = 0; w < W; ++w) o[w] = dilated[w] > thr ? scalar_t(1) : scalar_t(0);
      }
    }
  });
}

at::Tensor loss_map_mask_cpu(const at::Tensor& target, double threshold, int64_t kernel_size) {
  check_loss_map_mask_args(target, threshold, kernel_size);
  TORCH_CHECK(target.device().is_cpu(), "loss_map_mask: target must be a CPU tensor here");
  const at::Tensor t = target.contiguous();
  at::Tensor out = at::empty(t.sizes(), t.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t.scalar_type(), "loss_map_mask_cpu", [&] {
    loss_map_mask_kernel<scalar_t>(t, threshold, kernel_size, out);
  });
  return out;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("loss_map_mask", &awing::cpu::loss_map_mask_cpu);
}
