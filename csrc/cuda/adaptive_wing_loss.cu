// CUDA kernel of awing_ext::adaptive_wing_loss. Grid-stride loop; each thread handles VEC
// consecutive pixels of one row (vector loads and stores when the row width and the pointers
// allow it), computes the dilation mask from the target's neighbourhood, the loss and, when
// asked, dLoss/dpred in the same pass. Sums go through the deterministic block reduction.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <limits>
#include <type_traits>
#include <vector>

#include "awing/adaptive_wing_loss.h"
#include "awing/dilation.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace awing {
namespace cuda {
namespace {

std::uintptr_t address_of(const at::Tensor& t) {
  return reinterpret_cast<std::uintptr_t>(t.const_data_ptr());
}

template <typename scalar_t, typename index_t, int VEC, bool HAS_WEIGHTS>
__global__ void __launch_bounds__(kThreads) adaptive_wing_loss_kernel(
    const scalar_t* __restrict__ pred, const scalar_t* __restrict__ target,
    const at::opmath_type<scalar_t>* __restrict__ target_weight,
    const scalar_t* __restrict__ weights, index_t numel, index_t H, index_t W, index_t radius,
    AWingParams<at::opmath_type<scalar_t>> prm, at::opmath_type<scalar_t> threshold,
    at::opmath_type<scalar_t> boost, at::opmath_type<scalar_t> grad_scale,
    scalar_t* __restrict__ loss_map, at::opmath_type<scalar_t>* __restrict__ grad,
    double* __restrict__ block_sums) {
  using opmath_t = at::opmath_type<scalar_t>;
  using InPack = Pack<scalar_t, VEC>;
  using GradPack = Pack<opmath_t, VEC>;
  const index_t HW = H * W;
  const index_t groups = numel / VEC;
  double thread_sum = 0;

  for (index_t g = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<index_t>(blockDim.x) * gridDim.x) {
    const index_t base = g * VEC;
    index_t plane, h, w0;
    split_pixel_index(base, H, W, plane, h, w0);

    const InPack p = *reinterpret_cast<const InPack*>(pred + base);
    const InPack y = *reinterpret_cast<const InPack*>(target + base);
    InPack wm;
    if constexpr (HAS_WEIGHTS) wm = *reinterpret_cast<const InPack*>(weights + base);
    const opmath_t wf = target_weight != nullptr ? target_weight[plane] : opmath_t(1);

    InPack out;
    GradPack gout;
#pragma unroll
    for (int v = 0; v < VEC; ++v) {
      opmath_t wt;
      if constexpr (HAS_WEIGHTS) {
        wt = static_cast<opmath_t>(wm.v[v]);
      } else {
        const opmath_t m = window_max<opmath_t, index_t>(target + plane * HW, H, W, h, w0 + v,
                                                         radius, LoadAs<opmath_t>{});
        wt = m > threshold ? boost : opmath_t(1);
      }
      opmath_t l, gr;
      adaptive_wing_value_and_grad<opmath_t, opmath_t>(static_cast<opmath_t>(p.v[v]),
                                                       static_cast<opmath_t>(y.v[v]), prm, l, gr);
      l *= wt * wf;
      gout.v[v] = gr * wt * wf * grad_scale;
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

template <typename scalar_t, typename index_t, int VEC>
void launch(const at::Tensor& p, const at::Tensor& t, const at::Tensor& tw, const at::Tensor& wm,
            const AWingParams<at::opmath_type<scalar_t>>& prm, double loss_map_weight, double threshold,
            int64_t radius, double grad_scale, at::Tensor& loss_map, at::Tensor& grad,
            at::Tensor& block_sums, int blocks, cudaStream_t stream) {
  using opmath_t = at::opmath_type<scalar_t>;
  const auto* twp = tw.defined() ? tw.const_data_ptr<opmath_t>() : nullptr;
  auto* lm = loss_map.defined() ? loss_map.mutable_data_ptr<scalar_t>() : nullptr;
  auto* gp = grad.numel() > 0 ? grad.mutable_data_ptr<opmath_t>() : nullptr;
  auto* bs = block_sums.defined() ? block_sums.mutable_data_ptr<double>() : nullptr;
  const auto args = std::make_tuple(static_cast<index_t>(p.numel()), static_cast<index_t>(p.size(2)),
                                    static_cast<index_t>(p.size(3)), static_cast<index_t>(radius));
  if (wm.defined()) {
    adaptive_wing_loss_kernel<scalar_t, index_t, VEC, true><<<blocks, kThreads, 0, stream>>>(
        p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), twp, wm.const_data_ptr<scalar_t>(),
        std::get<0>(args), std::get<1>(args), std::get<2>(args), std::get<3>(args), prm,
        static_cast<opmath_t>(threshold), static_cast<opmath_t>(loss_map_weight + 1.0),
        static_cast<opmath_t>(grad_scale), lm, gp, bs);
  } else {
    adaptive_wing_loss_kernel<scalar_t, index_t, VEC, false><<<blocks, kThreads, 0, stream>>>(
        p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), twp, nullptr,
        std::get<0>(args), std::get<1>(args), std::get<2>(args), std::get<3>(args), prm,
        static_cast<opmath_t>(threshold), static_cast<opmath_t>(loss_map_weight + 1.0),
        static_cast<opmath_t>(grad_scale), lm, gp, bs);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<at::Tensor, at::Tensor> adaptive_wing_loss_cuda(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, double omega, double theta, double epsilon,
    double alpha, double loss_map_weight, double threshold, int64_t kernel_size, c10::string_view reduction,
    bool compute_grad) {
  const Reduction red = check_adaptive_wing_loss_args(pred, target, target_weight, weights, omega,
                                                      theta, epsilon, kernel_size, reduction);
  TORCH_CHECK(pred.device().is_cuda(), "adaptive_wing_loss: pred must be a CUDA tensor here");
  const c10::cuda::CUDAGuard guard(pred.device());
  const auto opmath_dtype = at::toOpMathType(pred.scalar_type());
  const int64_t numel = pred.numel();

  const at::Tensor p = pred.contiguous();
  const at::Tensor t = target.contiguous();
  const at::Tensor tw = target_weight.has_value() ? target_weight->to(opmath_dtype).contiguous()
                                                  : at::Tensor();
  const at::Tensor wm = weights.has_value() ? weights->to(pred.scalar_type()).contiguous()
                                               : at::Tensor();
  at::Tensor loss_map = red == Reduction::None ? at::empty(pred.sizes(), pred.options()) : at::Tensor();
  at::Tensor grad = at::empty(compute_grad ? pred.sizes() : c10::IntArrayRef{0},
                              pred.options().dtype(opmath_dtype));
  if (numel == 0) {
    if (red == Reduction::None) return {loss_map, grad};
    const double value = red == Reduction::Sum ? 0.0 : std::numeric_limits<double>::quiet_NaN();
    return {reduced_scalar(value, pred), grad};
  }

  const double grad_scale = red == Reduction::Mean ? 1.0 / static_cast<double>(numel) : 1.0;
  const int64_t radius = kernel_size / 2;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, pred.scalar_type(), "adaptive_wing_loss_cuda", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const AWingParams<opmath_t> prm(omega, theta, epsilon, alpha);
    std::vector<Access> accesses{{address_of(p), sizeof(scalar_t)}, {address_of(t), sizeof(scalar_t)}};
    if (wm.defined()) accesses.push_back({address_of(wm), sizeof(scalar_t)});
    if (loss_map.defined()) accesses.push_back({address_of(loss_map), sizeof(scalar_t)});
    if (grad.numel() > 0) accesses.push_back({address_of(grad), sizeof(opmath_t)});
    const LossLaunchPlan plan =
        plan_loss_launch(numel, pred.size(3), accesses, kThreads, sm_count(pred.get_device()));
    at::Tensor block_sums = red == Reduction::None
                                ? at::Tensor()
                                : at::empty({plan.blocks}, pred.options().dtype(at::kDouble));
    const auto go = [&](auto index_tag, auto vec_tag) {
      using index_t = decltype(index_tag);
      constexpr int kVec = decltype(vec_tag)::value;
      launch<scalar_t, index_t, kVec>(p, t, tw, wm, prm, loss_map_weight, threshold, radius, grad_scale, loss_map,
                                      grad, block_sums, plan.blocks, stream);
    };
    using Vector = std::integral_constant<int, kLossVectorWidth>;
    using Scalar = std::integral_constant<int, 1>;
    if (plan.int32_index) {
      if (plan.vector_width == kLossVectorWidth) go(int32_t{}, Vector{}); else go(int32_t{}, Scalar{});
    } else {
      if (plan.vector_width == kLossVectorWidth) go(int64_t{}, Vector{}); else go(int64_t{}, Scalar{});
    }
    if (red != Reduction::None) {
      loss_map = at::empty({}, pred.options());
      finish_sum_kernel<scalar_t><<<1, kThreads, 0, stream>>>(
          block_sums.const_data_ptr<double>(), plan.blocks, red == Reduction::Mean ? 1.0 / static_cast<double>(numel) : 1.0,
          loss_map.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {loss_map, grad};
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("adaptive_wing_loss", &awing::cuda::adaptive_wing_loss_cuda);
}
