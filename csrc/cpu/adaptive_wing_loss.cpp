// CPU kernel of awing_ext::adaptive_wing_loss: one pass over pred and target per output row,
// parallel over rows (at::parallel_for), vectorised along the row (at::vec), with the k x k
// dilation mask computed on the fly. Sums are accumulated in double per row and the row sums
// added in a fixed order, so the result does not depend on the thread count.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <limits>
#include <vector>

#include "awing/adaptive_wing_loss.h"
#include "awing/dilation.h"
#include "vec_math.h"

namespace awing {
namespace cpu {
namespace {

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

template <typename scalar_t>
std::tuple<at::Tensor, at::Tensor> adaptive_wing_loss_kernel(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, const AWingParams<at::opmath_type<scalar_t>>& prm,
    double loss_map_weight, double threshold, int64_t kernel_size, Reduction reduction, bool compute_grad) {
  using opmath_t = at::opmath_type<scalar_t>;
  using Vec = at::vec::Vectorized<opmath_t>;
  constexpr int64_t L = Vec::size();

  const int64_t N = pred.size(0), C = pred.size(1), H = pred.size(2), W = pred.size(3);
  const int64_t numel = pred.numel();
  const int64_t radius = kernel_size / 2;
  const auto opmath_dtype = c10::CppTypeToScalarType<opmath_t>::value;

  const at::Tensor p_c = pred.contiguous();
  const at::Tensor t_c = target.contiguous();
  const at::Tensor tw_c = target_weight.has_value()
                              ? target_weight->to(opmath_dtype).contiguous()
                              : at::Tensor();
  const at::Tensor wm_c = weights.has_value()
                              ? weights->to(pred.scalar_type()).contiguous()
                              : at::Tensor();

  at::Tensor loss_map = reduction == Reduction::None ? at::empty(pred.sizes(), pred.options())
                                                     : at::Tensor();
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

  const int64_t rows = N * C * H;
  std::vector<double> row_sums(reduction == Reduction::None ? 0 : rows);
  const opmath_t grad_scale =
      reduction == Reduction::Mean ? opmath_t(1.0 / static_cast<double>(numel)) : opmath_t(1);
  const Vec vthreshold(static_cast<opmath_t>(threshold));
  const Vec vone(opmath_t(1));
  const Vec vboost(static_cast<opmath_t>(loss_map_weight + 1.0));
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
      if (WM != nullptr) {
        trow = as_opmath(T + offset, W, tbuf);
        wrow = as_opmath(WM + offset, W, wbuf);
      } else {
        // Rows h0..h1 of the plane are what the dilation of row h reads.
        const int64_t h0 = std::max<int64_t>(0, h - radius);
        const int64_t h1 = std::min<int64_t>(H - 1, h + radius);
        const opmath_t* band = as_opmath(T + (plane * H + h0) * W, (h1 - h0 + 1) * W, tbuf);
        dilate_row(band, h1 - h0 + 1, W, h - h0, radius, padded.data(), dilated.data());
        trow = band + (h - h0) * W;
      }
      const opmath_t wf = TW != nullptr ? TW[plane] : opmath_t(1);
      const Vec vwf(wf);
      const Vec vgscale(wf * grad_scale);
      math::LaneSum<opmath_t> row_sum;

      for (int64_t w = 0; w < W; w += L) {
        const int n = static_cast<int>(std::min<int64_t>(L, W - w));
        const Vec p = Vec::loadu(prow + w, n);
        const Vec y = Vec::loadu(trow + w, n);
        const Vec wt = wrow != nullptr
                           ? Vec::loadu(wrow + w, n)
                           : Vec::blendv(vone, vboost, Vec::loadu(dilated.data() + w, n) > vthreshold);
        Vec l, g;
        adaptive_wing_value_and_grad(p, y, prm, l, g);
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
  if (reduction == Reduction::Mean) total /= static_cast<double>(numel);
  return {reduced_scalar(total, pred), grad};
}

std::tuple<at::Tensor, at::Tensor> adaptive_wing_loss_cpu(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, double omega, double theta, double epsilon,
    double alpha, double loss_map_weight, double threshold, int64_t kernel_size, c10::string_view reduction,
    bool compute_grad) {
  const Reduction red = check_adaptive_wing_loss_args(pred, target, target_weight, weights, omega,
                                                      theta, epsilon, kernel_size, reduction);
  TORCH_CHECK(pred.device().is_cpu(), "adaptive_wing_loss: pred must be a CPU tensor here");
  std::tuple<at::Tensor, at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, pred.scalar_type(), "adaptive_wing_loss_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    const AWingParams<opmath_t> prm(omega, theta, epsilon, alpha);
    result = adaptive_wing_loss_kernel<scalar_t>(pred, target, target_weight, weights, prm, loss_map_weight,
                                                 threshold, kernel_size, red, compute_grad);
  });
  return result;
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("adaptive_wing_loss", &awing::cpu::adaptive_wing_loss_cpu);
}
