// CPU kernels of awing_ext::soft_argmax and its backward: one plane per task (at::parallel_for),
// each plane's max, sums and gradient from awing/soft_argmax.h, sums in double in a fixed order.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>

#include "awing/soft_argmax.h"

namespace awing {
namespace cpu {
namespace {

int64_t plane_grain(int64_t HW) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1)); }

at::Tensor soft_argmax_cpu(const at::Tensor& heatmaps, double beta) {
  check_soft_argmax_args(heatmaps, beta);
  TORCH_CHECK(heatmaps.device().is_cpu(), "soft_argmax: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const int64_t W = hm.size(3), HW = hm.size(2) * W, planes = hm.size(0) * hm.size(1);
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(at::toOpMathType(hm.scalar_type())));
  if (planes == 0) return coords;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "soft_argmax_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const scalar_t* X = hm.const_data_ptr<scalar_t>();
    T* C = coords.mutable_data_ptr<T>();
    at::parallel_for(0, planes, plane_grain(HW), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const scalar_t* plane = X + p * HW;
        const T m = soft_argmax_max_part<T>(plane, HW, 0, 1);
        double s = 0, sx = 0, sy = 0;
        soft_argmax_sums_part<T>(plane, W, HW, 0, 1, m, static_cast<T>(beta), s, sx, sy);
        C[2 * p] = static_cast<T>(sx / s);
        C[2 * p + 1] = static_cast<T>(sy / s);
      }
    });
  });
  return coords;
}

at::Tensor soft_argmax_backward_cpu(const at::Tensor& grad, const at::Tensor& heatmaps, const at::Tensor& coords,
                                    double beta) {
  check_soft_argmax_backward_args(grad, heatmaps, coords, beta);
  TORCH_CHECK(heatmaps.device().is_cpu(), "soft_argmax_backward: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const int64_t W = hm.size(3), HW = hm.size(2) * W, planes = hm.size(0) * hm.size(1);
  at::Tensor out = at::empty(hm.sizes(), hm.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "soft_argmax_backward_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor g = grad.to(at::CppTypeToScalarType<T>::value).contiguous();
    const at::Tensor mu = coords.to(at::CppTypeToScalarType<T>::value).contiguous();
    const scalar_t* X = hm.const_data_ptr<scalar_t>();
    const T* G = g.const_data_ptr<T>();
    const T* M = mu.const_data_ptr<T>();
    scalar_t* O = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, planes, plane_grain(HW), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const scalar_t* plane = X + p * HW;
        const T b = static_cast<T>(beta);
        const T m = soft_argmax_max_part<T>(plane, HW, 0, 1);
        double s = 0, sx = 0, sy = 0;
        soft_argmax_sums_part<T>(plane, W, HW, 0, 1, m, b, s, sx, sy);
        soft_argmax_grad_part<T>(plane, W, HW, 0, 1, m, b, static_cast<T>(1.0 / s), M[2 * p], M[2 * p + 1],
                                 G[2 * p], G[2 * p + 1], O + p * HW);
      }
    });
  });
  return out;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("soft_argmax", &awing::cpu::soft_argmax_cpu);
  m.impl("soft_argmax_backward", &awing::cpu::soft_argmax_backward_cpu);
}
