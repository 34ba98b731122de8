// CPU kernels of the heatmap-loss family beside AWing (awing_ext::mse_loss, l1_loss,
// smooth_l1_loss, wing_loss, focal_heatmap_loss): the shared kernel (heatmap_loss_kernel.h) with
// each loss's functor (include/awing/losses/<loss>.h).
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <algorithm>

#include "awing/losses/focal.h"
#include "awing/losses/l1.h"
#include "awing/losses/mse.h"
#include "awing/losses/smooth_l1.h"
#include "awing/losses/wing.h"
#include "heatmap_loss_kernel.h"

namespace awing {
namespace cpu {
namespace {

using Optional = std::optional<at::Tensor>;
using Result = std::tuple<at::Tensor, at::Tensor>;

Result mse_loss_cpu(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                    const Optional& weights, double W, double threshold, int64_t kernel_size,
                    c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_mse_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<MSELoss>("mse_loss", pred, target, target_weight, weights, {W, threshold, kernel_size}, red,
                                   compute_grad, 0.0);
}

Result l1_loss_cpu(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                   const Optional& weights, double W, double threshold, int64_t kernel_size,
                   c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_l1_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<L1Loss>("l1_loss", pred, target, target_weight, weights, {W, threshold, kernel_size}, red,
                                  compute_grad, 0.0);
}

Result smooth_l1_loss_cpu(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                          const Optional& weights, double beta, double W, double threshold, int64_t kernel_size,
                          c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_smooth_l1_loss_args(pred, target, target_weight, weights, beta, W, threshold,
                                                  kernel_size, reduction);
  return run_heatmap_loss<SmoothL1Loss>("smooth_l1_loss", pred, target, target_weight, weights,
                                        {W, threshold, kernel_size}, red, compute_grad, 0.0, beta);
}

Result wing_loss_cpu(const at::Tensor& pred, const at::Tensor& target, const Optional& target_weight,
                     const Optional& weights, double omega, double epsilon, double W, double threshold,
                     int64_t kernel_size, c10::string_view reduction, bool compute_grad) {
  const Reduction red = check_wing_loss_args(pred, target, target_weight, weights, omega, epsilon, W, threshold,
                                             kernel_size, reduction);
  return run_heatmap_loss<WingLoss>("wing_loss", pred, target, target_weight, weights, {W, threshold, kernel_size},
                                    red, compute_grad, 0.0, omega, epsilon);
}

Result focal_heatmap_loss_cpu(const at::Tensor& logits, const at::Tensor& target, const Optional& target_weight,
                              const Optional& weights, double alpha, double beta, double positive_threshold,
                              double W, double threshold, int64_t kernel_size, c10::string_view reduction,
                              bool compute_grad) {
  const Reduction red = check_focal_heatmap_loss_args(logits, target, target_weight, weights, alpha, beta,
                                                      positive_threshold, W, threshold, kernel_size, reduction);
  // CornerNet's normaliser: the planes holding a positive (visible landmarks), at least 1
  const double planes = red == Reduction::Mean && target.numel() > 0
                            ? focal_normaliser(target, positive_threshold).item<double>()
                            : 1.0;
  return run_heatmap_loss<FocalHeatmapLoss>("focal_heatmap_loss", logits, target, target_weight, weights,
                                            {W, threshold, kernel_size}, red, compute_grad, planes, alpha, beta,
                                            positive_threshold);
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("mse_loss", &awing::cpu::mse_loss_cpu);
  m.impl("l1_loss", &awing::cpu::l1_loss_cpu);
  m.impl("smooth_l1_loss", &awing::cpu::smooth_l1_loss_cpu);
  m.impl("wing_loss", &awing::cpu::wing_loss_cpu);
  m.impl("focal_heatmap_loss", &awing::cpu::focal_heatmap_loss_cpu);
}
