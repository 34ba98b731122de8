// CPU kernels of awing_ext::integral_coords and its backward: one plane per task
// (at::parallel_for); each plane's argmax, window sums and gradient from awing/integral_coords.h,
// sums in double in a fixed order.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <limits>

#include "awing/integral_coords.h"

namespace awing {
namespace cpu {
namespace {

int64_t plane_grain(int64_t HW) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(HW, 1)); }

// The plane's first maximum (pixel 0 when every value is NaN) and its window's sums.
template <typename T, typename scalar_t>
long long plane_window_sums(const scalar_t* plane, int64_t H, int64_t W, int64_t radius, double& s, double& sx,
                            double& sy) {
  T best = -std::numeric_limits<T>::infinity();
  long long idx = -1;
  for (int64_t i = 0; i < H * W; ++i) argmax_update(static_cast<T>(plane[i]), i, best, idx);
  if (idx < 0) idx = 0;
  s = sx = sy = 0;
  integral_sums_part<T>(plane, W, IntegralWindow(idx, H, W, radius), 0, 1, s, sx, sy);
  return idx;
}

at::Tensor integral_coords_cpu(const at::Tensor& heatmaps, int64_t radius) {
  check_integral_coords_args(heatmaps, radius);
  TORCH_CHECK(heatmaps.device().is_cpu(), "integral_coords: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const int64_t H = hm.size(2), W = hm.size(3), planes = hm.size(0) * hm.size(1);
  at::Tensor coords = at::empty({hm.size(0), hm.size(1), 2}, hm.options().dtype(at::toOpMathType(hm.scalar_type())));
  if (planes == 0) return coords;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "integral_coords_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const scalar_t* X = hm.const_data_ptr<scalar_t>();
    T* C = coords.mutable_data_ptr<T>();
    at::parallel_for(0, planes, plane_grain(H * W), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        double s, sx, sy;
        const long long idx = plane_window_sums<T>(X + p * H * W, H, W, radius, s, sx, sy);
        integral_coords_from_sums<T>(s, sx, sy, idx, W, C[2 * p], C[2 * p + 1]);
      }
    });
  });
  return coords;
}

at::Tensor integral_coords_backward_cpu(const at::Tensor& grad, const at::Tensor& heatmaps, const at::Tensor& coords,
                                        int64_t radius) {
  check_integral_coords_backward_args(grad, heatmaps, coords, radius);
  TORCH_CHECK(heatmaps.device().is_cpu(), "integral_coords_backward: heatmaps must be a CPU tensor here");
  const at::Tensor hm = heatmaps.contiguous();
  const int64_t H = hm.size(2), W = hm.size(3), planes = hm.size(0) * hm.size(1);
  at::Tensor out = at::empty(hm.sizes(), hm.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hm.scalar_type(), "integral_coords_backward_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const at::Tensor g = grad.to(at::CppTypeToScalarType<T>::value).contiguous();
    const at::Tensor mu = coords.to(at::CppTypeToScalarType<T>::value).contiguous();
    const scalar_t* X = hm.const_data_ptr<scalar_t>();
    const T* G = g.const_data_ptr<T>();
    const T* M = mu.const_data_ptr<T>();
    scalar_t* O = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, planes, plane_grain(H * W), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const scalar_t* plane = X + p * H * W;
        double s, sx, sy;
        const long long idx = plane_window_sums<T>(plane, H, W, radius, s, sx, sy);
        integral_grad_part<T>(plane, W, H * W, IntegralWindow(idx, H, W, radius), 0, 1, s, M[2 * p], M[2 * p + 1],
                              G[2 * p], G[2 * p + 1], O + p * H * W);
      }
    });
  });
  return out;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("integral_coords", &awing::cpu::integral_coords_cpu);
  m.impl("integral_coords_backward", &awing::cpu::integral_coords_backward_cpu);
}
