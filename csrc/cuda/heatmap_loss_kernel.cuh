// The CUDA kernel every heatmap loss runs (adaptive_wing_loss, mse_loss, l1_loss, smooth_l1_loss,
// wing_loss, focal_heatmap_loss). Grid-stride loop; each thread handles VEC consecutive pixels of
// one row (vector loads and stores when the row width and the pointers allow it), forms the
// weight (target_weight[n, c] times `weights` or W * M + 1, the dilation mask M read from the
// target's neighbourhood, skipped when W == 0), evaluates the loss functor (the loss's own
// header) and, when asked, dLoss/dpred in the same pass. Sums go through the deterministic block
// reduction (reduce.cuh). "mean" divides by N*C*H*W, or by a device-side divisor (the focal
// loss's positive count) read by the kernels, so nothing waits for the host.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <limits>
#include <optional>
#include <tuple>
#include <type_traits>
#include <vector>

#include "awing/dilation.h"
#include "awing/heatmap_loss.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace awing {
namespace cuda {

inline std::uintptr_t address_of(const at::Tensor& t) {
  return reinterpret_cast<std::uintptr_t>(t.const_data_ptr());
}

// How each pixel is weighted: by `weights`, by the dilation mask, or by 1 (W == 0).
enum class PixelWeight { Explicit, Mask, One };

template <typename scalar_t, typename index_t, int VEC, PixelWeight WEIGHT, typename Loss>
__global__ void __launch_bounds__(kThreads) heatmap_loss_kernel(
    const scalar_t* __restrict__ pred, const scalar_t* __restrict__ target,
    const at::opmath_type<scalar_t>* __restrict__ target_weight, const scalar_t* __restrict__ weights,
    index_t numel, index_t H, index_t W, index_t radius, Loss loss_fn, at::opmath_type<scalar_t> threshold,
    at::opmath_type<scalar_t> boost, at::opmath_type<scalar_t> grad_scale,
    const double* __restrict__ inv_divisor, scalar_t* __restrict__ loss_map,
    at::opmath_type<scalar_t>* __restrict__ grad, double* __restrict__ block_sums) {
  using opmath_t = at::opmath_type<scalar_t>;
  using InPack = Pack<scalar_t, VEC>;
  using GradPack = Pack<opmath_t, VEC>;
  const index_t HW = H * W;
  const index_t groups = numel / VEC;
  const opmath_t scale = inv_divisor != nullptr ? grad_scale * static_cast<opmath_t>(*inv_divisor) : grad_scale;
  double thread_sum = 0;

  for (index_t g = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<index_t>(blockDim.x) * gridDim.x) {
    const index_t base = g * VEC;
    index_t plane, h, w0;
    split_pixel_index(base, H, W, plane, h, w0);

    const InPack p = *reinterpret_cast<const InPack*>(pred + base);
    const InPack y = *reinterpret_cast<const InPack*>(target + base);
    InPack wm;
    if constexpr (WEIGHT == PixelWeight::Explicit) wm = *reinterpret_cast<const InPack*>(weights + base);
    const opmath_t wf = target_weight != nullptr ? target_weight[plane] : opmath_t(1);

    InPack out;
    GradPack gout;
#pragma unroll
    for (int v = 0; v < VEC; ++v) {
      opmath_t wt = opmath_t(1);
      if constexpr (WEIGHT == PixelWeight::Explicit) {
        wt = static_cast<opmath_t>(wm.v[v]);
      } else if constexpr (WEIGHT == PixelWeight::Mask) {
        const opmath_t m = window_max<opmath_t, index_t>(target + plane * HW, H, W, h, w0 + v, radius,
                                                         LoadAs<opmath_t>{});
        wt = m > threshold ? boost : opmath_t(1);
      }
      opmath_t l, gr;
      loss_fn(static_cast<opmath_t>(p.v[v]), static_cast<opmath_t>(y.v[v]), l, gr);
      l *= wt * wf;
      gout.v[v] = gr * wt * wf * scale;
      if (loss_map != nullptr) {
        out.v[v] = static_cast<scalar_t>(l);
      } else {
        thread_sum += static_cast<double>(l);
      }
    }
    if (grad != nullptr) *reinterpret_cast<GradPack*>(grad + base) = gout;
    if (loss_map != nullptr) *reinterpret_cast<InPack*>(loss_map + base) = out;
  }
  if (block_sums != nullptr) store_block_sum(thread_sum, block_sums);
}

// The tensors and scalars of one launch.
template <typename scalar_t>
struct LossLaunch {
  using opmath_t = at::opmath_type<scalar_t>;
  const at::Tensor& p;
  const at::Tensor& t;
  const at::Tensor& tw;
  const at::Tensor& wm;
  const LossMap& map;
  double grad_scale;
  const double* inv_divisor;
  at::Tensor& loss_map;
  at::Tensor& grad;
  at::Tensor& block_sums;
  int blocks;
  cudaStream_t stream;
};

template <typename scalar_t, typename index_t, int VEC, PixelWeight WEIGHT, typename Loss>
void launch_heatmap_loss(const LossLaunch<scalar_t>& a, const Loss& loss_fn) {
  using opmath_t = at::opmath_type<scalar_t>;
  heatmap_loss_kernel<scalar_t, index_t, VEC, WEIGHT, Loss><<<a.blocks, kThreads, 0, a.stream>>>(
      a.p.template const_data_ptr<scalar_t>(), a.t.template const_data_ptr<scalar_t>(),
      a.tw.defined() ? a.tw.template const_data_ptr<opmath_t>() : nullptr,
      a.wm.defined() ? a.wm.template const_data_ptr<scalar_t>() : nullptr, static_cast<index_t>(a.p.numel()),
      static_cast<index_t>(a.p.size(2)), static_cast<index_t>(a.p.size(3)),
      static_cast<index_t>(a.map.kernel_size / 2), loss_fn, static_cast<opmath_t>(a.map.threshold),
      static_cast<opmath_t>(a.map.weight + 1.0), static_cast<opmath_t>(a.grad_scale), a.inv_divisor,
      a.loss_map.defined() ? a.loss_map.template mutable_data_ptr<scalar_t>() : nullptr,
      a.grad.numel() > 0 ? a.grad.template mutable_data_ptr<opmath_t>() : nullptr,
      a.block_sums.defined() ? a.block_sums.template mutable_data_ptr<double>() : nullptr);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// Picks the index type, vector width and pixel weighting of the plan and launches.
template <typename scalar_t, typename Loss>
void dispatch_heatmap_loss(const LossLaunch<scalar_t>& a, const Loss& loss_fn, bool int32_index, bool vectorised) {
  const auto go = [&](auto index_tag, auto vec_tag, auto weight_tag) {
    launch_heatmap_loss<scalar_t, decltype(index_tag), decltype(vec_tag)::value, decltype(weight_tag)::value>(
        a, loss_fn);
  };
  const auto with_weight = [&](auto index_tag, auto vec_tag) {
    if (a.wm.defined()) {
      go(index_tag, vec_tag, std::integral_constant<PixelWeight, PixelWeight::Explicit>{});
    } else if (a.map.weight != 0) {
      go(index_tag, vec_tag, std::integral_constant<PixelWeight, PixelWeight::Mask>{});
    } else {
      go(index_tag, vec_tag, std::integral_constant<PixelWeight, PixelWeight::One>{});
    }
  };
  using Vector = std::integral_constant<int, kLossVectorWidth>;
  using Scalar = std::integral_constant<int, 1>;
  if (int32_index) {
    if (vectorised) with_weight(int32_t{}, Vector{}); else with_weight(int32_t{}, Scalar{});
  } else {
    if (vectorised) with_weight(int64_t{}, Vector{}); else with_weight(int64_t{}, Scalar{});
  }
}

// The whole op on CUDA tensors: dispatches pred's dtype and runs LossT<opmath_t>(params...).
// `inv_divisor`: an optional 0-d double CUDA tensor holding 1 / (the divisor of "mean"); without
// it "mean" divides by N*C*H*W.
template <template <typename> class LossT, typename... Params>
std::tuple<at::Tensor, at::Tensor> run_heatmap_loss(const char* op, const at::Tensor& pred, const at::Tensor& target,
                                                    const std::optional<at::Tensor>& target_weight,
                                                    const std::optional<at::Tensor>& weights, const LossMap& map,
                                                    Reduction red, bool compute_grad,
                                                    const std::optional<at::Tensor>& inv_divisor, Params... params) {
  TORCH_CHECK(pred.device().is_cuda(), op, ": expected CUDA tensors here, got ", pred.device());
  const c10::cuda::CUDAGuard guard(pred.device());
  const auto opmath_dtype = at::toOpMathType(pred.scalar_type());
  const int64_t numel = pred.numel();

  const at::Tensor p = pred.contiguous();
  const at::Tensor t = target.contiguous();
  const at::Tensor tw = target_weight.has_value() ? target_weight->to(opmath_dtype).contiguous() : at::Tensor();
  const at::Tensor wm = weights.has_value() ? weights->to(pred.scalar_type()).contiguous() : at::Tensor();
  at::Tensor loss_map = red == Reduction::None ? at::empty(pred.sizes(), pred.options()) : at::Tensor();
  at::Tensor grad = at::empty(compute_grad ? pred.sizes() : c10::IntArrayRef{0}, pred.options().dtype(opmath_dtype));
  if (numel == 0) {
    if (red == Reduction::None) return {loss_map, grad};
    const double value = red == Reduction::Sum ? 0.0 : std::numeric_limits<double>::quiet_NaN();
    return {reduced_scalar(value, pred), grad};
  }

  const bool mean = red == Reduction::Mean;
  const double* inv = mean && inv_divisor.has_value() ? inv_divisor->const_data_ptr<double>() : nullptr;
  const double scale = !mean ? 1.0 : inv != nullptr ? 1.0 : 1.0 / static_cast<double>(numel);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, pred.scalar_type(), "heatmap_loss", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    std::vector<Access> accesses{{address_of(p), sizeof(scalar_t)}, {address_of(t), sizeof(scalar_t)}};
    if (wm.defined()) accesses.push_back({address_of(wm), sizeof(scalar_t)});
    if (loss_map.defined()) accesses.push_back({address_of(loss_map), sizeof(scalar_t)});
    if (grad.numel() > 0) accesses.push_back({address_of(grad), sizeof(opmath_t)});
    const LossLaunchPlan plan = plan_loss_launch(numel, pred.size(3), accesses, kThreads, sm_count(pred.get_device()));
    at::Tensor block_sums =
        red == Reduction::None ? at::Tensor() : at::empty({plan.blocks}, pred.options().dtype(at::kDouble));
    const LossLaunch<scalar_t> launch{p, t, tw, wm, map, scale, inv, loss_map, grad, block_sums, plan.blocks, stream};
    dispatch_heatmap_loss<scalar_t>(launch, LossT<opmath_t>(params...), plan.int32_index,
                                    plan.vector_width == kLossVectorWidth);
    if (red != Reduction::None) {
      loss_map = at::empty({}, pred.options());
      finish_sum_kernel<scalar_t><<<1, kThreads, 0, stream>>>(block_sums.const_data_ptr<double>(), plan.blocks,
                                                              scale, inv, loss_map.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {loss_map, grad};
}

}  // namespace cuda
}  // namespace awing
