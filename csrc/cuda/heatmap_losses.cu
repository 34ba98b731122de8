// CUDA kernels of the heatmap-loss family beside AWing (awing_ext::mse_loss, l1_loss,
// smooth_l1_loss, wing_loss, focal_heatmap_loss): the shared kernel (heatmap_loss_kernel.cuh) with
// each loss's functor (include/awing/losses/<loss>.h).
#include <ATen/core/Tensor.h>
#include <ATen/ops/clamp_min.h>
#include <ATen/ops/ge.h>
#include <ATen/ops/reciprocal.h>
#include <ATen/ops/sum.h>
#include <torch/library.h>

#include "awing/losses/focal.h"
#include "awing/losses/l1.h"
#include "awing/losses/mse.h"
#include "awing/losses/smooth_l1.h"
#include "awing/losses/wing.h"
#include "heatmap_loss_kernel.cuh"

namespace awing {
namespace cuda {
namespace {

using Optional = std::optional<at::Tensor>;
using Result = std::tuple<at::Tensor, at::Tensor>;

Result mse_loss_cuda(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                    const Optional& weights, double W, double threshold, int64_t kernel_size,
                    c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_mse_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<MSELoss>("mse_loss", pred, target, target_weight, weights, {W, threshold, kernel_size}, red,
                                   compute_grad, std::nullopt);
}

Result l1_loss_cuda(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                   const Optional& weights, double W, double threshold, int64_t kernel_size,
                   c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_l1_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<L1Loss>("l1_loss", pred, target, target_weight, weights, {W, threshold, kernel_size}, red,
                                  compute_grad, std::nullopt);
}

Result smooth_l1_loss_cuda(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                          const Optional& weights, double beta, double W, double threshold, int64_t kernel_size,
                          c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_smooth_l1_loss_args(pred, target, target_weight, weights, beta, W, threshold,
                                                  kernel_size, reduction);
  return run_heatmap_loss<SmoothL1Loss>("smooth_l1_loss", pred, target, target_weight, weights,
                                        {W, threshold, kernel_size}, red, compute_grad, std::nullopt, beta);
}

Result wing_loss_cuda(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                     const Optional& weights, double omega, double epsilon, double W, double threshold,
                     int64_t kernel_size, c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_wing_loss_args(pred, target, target_weight, weights, omega, epsilon, W, threshold,
                                             kernel_size, reduction);
  return run_heatmap_loss<WingLoss>("wing_loss", pred, target, target_weight, weights, {W, threshold, kernel_size},
                                    red, compute_grad, std::nullopt, omega, epsilon);
}

Result focal_heatmap_loss_cuda(const at::Tensor& logits, const at::Tensor& target, const Optional& target_weight,
                              const Optional& weights, double alpha, double beta, double positive_threshold,
                              double W, double threshold, int64_t kernel_size, c10::string_view reduction,
                              bool compute_grad) {
  const Reduction red = check_focal_heatmap_loss_args(logits, target, target_weight, weights, alpha, beta,
                                                      positive_threshold, W, threshold, kernel_size, reduction);
  // CornerNet's normaliser, 1 / (planes holding a positive, at least 1), computed on the device
  std::optional<at::Tensor> inv_positives;
  if (red == Reduction::Mean && target.numel() > 0) {
    inv_positives = focal_normaliser(target, positive_threshold).reciprocal();
  }
  return run_heatmap_loss<FocalHeatmapLoss>("focal_heatmap_loss", logits, target, target_weight, weights,
                                            {W, threshold, kernel_size}, red, compute_grad,
                                            inv_positives, alpha, beta, positive_threshold);
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("mse_loss", &awing::cuda::mse_loss_cuda);
  m.impl("l1_loss", &awing::cuda::l1_loss_cuda);
  m.impl("smooth_l1_loss", &awing::cuda::smooth_l1_loss_cuda);
  m.impl("wing_loss", &awing::cuda::wing_loss_cuda);
  m.impl("focal_heatmap_loss", &awing::cuda::focal_heatmap_loss_cuda);
}
