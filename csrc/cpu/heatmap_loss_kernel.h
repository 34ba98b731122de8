// The CPU kernel every heatmap loss runs (awing_ext::adaptive_wing_loss, mse_loss, l1_loss,
// smooth_l1_loss, wing_loss, focal_heatmap_loss): one pass over pred and target per output row,
// parallel over rows (at::parallel_for), vectorised along the row (at::vec). Per pixel it forms
// the weight (target_weight[n, c] times either `weights` or W * M + 1, with M the k x k dilation
// mask computed on the fly and skipped when W == 0), evaluates the loss functor's value and
// derivative (the loss's own header), and writes the weighted loss (reduction "none") or adds it
// to its row's double sum; the row sums are added in a fixed order, so the result does not
// depend on the thread count. A loss functor is `loss(p, y, l, g)` over at::vec lanes.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <algorithm>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "awing/dilation.h"
#include "awing/heatmap_loss.h"
#include "vec_math.h"

namespace awing {
namespace cpu {

// Returns `n` values starting at `src` as opmath_t: the pointer itself when the types agree,
// else a conversion into `buf`.
template <typename scalar_t, typename opmath_t>
const opmath_t* as_opmath(const scalar_t* src, int64_t n, std::vector<opmath_t>& buf) {
  if constexpr (std::is_same_v<scalar_t, opmath_t>) {
    return src;
  } else {
    buf.resize(n);
    at::vec::convert(src, buf.data(), n);
    return buf.data();
  }
}

// (loss, grad): the reduced 0-d loss or the (N, C, H, W) loss map, and dLoss/dpred in opmath
// (shape (0,) without compute_grad). "mean" divides by `mean_divisor` (N*C*H*W, or the focal
// loss's positive count).
template <typename scalar_t, typename Loss>
std::tuple<at::Tensor, at::Tensor> heatmap_loss_kernel(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, const Loss& loss_fn, const LossMap& map, Reduction reduction,
    bool compute_grad, double mean_divisor) {
  using opmath_t = at::opmath_type<scalar_t>;
  using Vec = at::vec::Vectorized<opmath_t>;
  constexpr int64_t L = Vec::size();

  const int64_t N = pred.size(0), C = pred.size(1), H = pred.size(2), W = pred.size(3);
  const int64_t numel = pred.numel();
  const int64_t radius = map.kernel_size / 2;
  const auto opmath_dtype = c10::CppTypeToScalarType<opmath_t>::value;

  const at::Tensor p_c = pred.contiguous();
  const at::Tensor t_c = target.contiguous();
  const at::Tensor tw_c = target_weight.has_value() ? target_weight->to(opmath_dtype).contiguous() : at::Tensor();
  const at::Tensor wm_c = weights.has_value() ? weights->to(pred.scalar_type()).contiguous() : at::Tensor();

  at::Tensor loss_map = reduction == Reduction::None ? at::empty(pred.sizes(), pred.options()) : at::Tensor();
  at::Tensor grad = compute_grad ? at::empty(pred.sizes(), pred.options().dtype(opmath_dtype))
                                 : at::empty({0}, pred.options().dtype(opmath_dtype));

  if (numel == 0) {
    if (reduction == Reduction::None) return {loss_map, grad};
    const double value = reduction == Reduction::Sum ? 0.0 : std::numeric_limits<double>::quiet_NaN();
    return {reduced_scalar(value, pred), grad};
  }

  const scalar_t* P = p_c.const_data_ptr<scalar_t>();
  const scalar_t* T = t_c.const_data_ptr<scalar_t>();
  const opmath_t* TW = tw_c.defined() ? tw_c.const_data_ptr<opmath_t>() : nullptr;
  const scalar_t* WM = wm_c.defined() ? wm_c.const_data_ptr<scalar_t>() : nullptr;
  scalar_t* OUT = loss_map.defined() ? loss_map.mutable_data_ptr<scalar_t>() : nullptr;
  opmath_t* G = compute_grad ? grad.mutable_data_ptr<opmath_t>() : nullptr;
  const bool use_mask = WM == nullptr && map.weight != 0;

  const int64_t rows = N * C * H;
  std::vector<double> row_sums(reduction == Reduction::None ? 0 : rows);
  const opmath_t grad_scale = reduction == Reduction::Mean ? opmath_t(1.0 / mean_divisor) : opmath_t(1);
  const Vec vthreshold(static_cast<opmath_t>(map.threshold));
  const Vec vone(opmath_t(1));
  const Vec vboost(static_cast<opmath_t>(map.weight + 1.0));
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(W, 1));

  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<opmath_t> pbuf, tbuf, wbuf, lbuf(W);
    std::vector<opmath_t> padded(W + 2 * radius), dilated(W);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t plane = row / H;
      const int64_t h = row % H;
      const int64_t offset = row * W;

      const opmath_t* prow = as_opmath(P + offset, W, pbuf);
      const opmath_t* trow;
      const opmath_t* wrow = nullptr;
      if (use_mask) {
        // Rows h0..h1 of the plane are what the dilation of row h reads.
        const int64_t h0 = std::max<int64_t>(0, h - radius);
        const int64_t h1 = std::min<int64_t>(H - 1, h + radius);
        const opmath_t* band = as_opmath(T + (plane * H + h0) * W, (h1 - h0 + 1) * W, tbuf);
        dilate_row(band, h1 - h0 + 1, W, h - h0, radius, padded.data(), dilated.data());
        trow = band + (h - h0) * W;
      } else {
        trow = as_opmath(T + offset, W, tbuf);
        if (WM != nullptr) wrow = as_opmath(WM + offset, W, wbuf);
      }
      const opmath_t wf = TW != nullptr ? TW[plane] : opmath_t(1);
      const Vec vwf(wf);
      const Vec vgscale(wf * grad_scale);
      math::LaneSum<opmath_t> row_sum;

      for (int64_t w = 0; w < W; w += L) {
        const int n = static_cast<int>(std::min<int64_t>(L, W - w));
        const Vec p = Vec::loadu(prow + w, n);
        const Vec y = Vec::loadu(trow + w, n);
        const Vec wt = wrow != nullptr ? Vec::loadu(wrow + w, n)
                       : use_mask      ? Vec::blendv(vone, vboost, Vec::loadu(dilated.data() + w, n) > vthreshold)
                                       : vone;
        Vec l, g;
        loss_fn(p, y, l, g);
        if (G != nullptr) (g * wt * vgscale).store(G + offset + w, n);
        l = l * wt * vwf;
        if (OUT != nullptr) {
          l.store(lbuf.data() + w, n);
        } else {
          row_sum.add(l, n);
        }
      }
      if (OUT != nullptr) {
        if constexpr (std::is_same_v<scalar_t, opmath_t>) {
          std::copy(lbuf.begin(), lbuf.end(), OUT + offset);
        } else {
          at::vec::convert(lbuf.data(), OUT + offset, W);
        }
      } else {
        row_sums[row] = row_sum.total();
      }
    }
  });

  if (reduction == Reduction::None) return {loss_map, grad};
  double total = 0;
  for (const double s : row_sums) total += s;
  if (reduction == Reduction::Mean) total /= mean_divisor;
  return {reduced_scalar(total, pred), grad};
}

// Dispatches pred's dtype and runs the kernel with LossT<opmath_t>(params...); "mean" divides by
// N*C*H*W unless `mean_divisor` (> 0) says otherwise.
template <template <typename> class LossT, typename... Params>
std::tuple<at::Tensor, at::Tensor> run_heatmap_loss(const char* op, const at::Tensor& pred, const at::Tensor& target,
                                                    const std::optional<at::Tensor>& target_weight,
                                                    const std::optional<at::Tensor>& weights, const LossMap& map,
                                                    Reduction reduction, bool compute_grad, double mean_divisor,
                                                    Params... params) {
  TORCH_CHECK(pred.device().is_cpu(), op, ": expected CPU tensors here, got ", pred.device());
  const double divisor = mean_divisor > 0 ? mean_divisor : static_cast<double>(pred.numel());
  std::tuple<at::Tensor, at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, pred.scalar_type(), "heatmap_loss", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    result = heatmap_loss_kernel<scalar_t>(pred, target, target_weight, weights, LossT<opmath_t>(params...), map,
                                           reduction, compute_grad, divisor);
  });
  return result;
}

}  // namespace cpu
}  // namespace awing
