// CPU kernel of awing_ext::adaptive_wing_loss: the shared heatmap-loss kernel
// (heatmap_loss_kernel.h) with the Adaptive Wing functor (include/awing/adaptive_wing_loss.h).
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include "awing/adaptive_wing_loss.h"
#include "heatmap_loss_kernel.h"

namespace awing {
namespace cpu {
namespace {

std::tuple<at::Tensor, at::Tensor> adaptive_wing_loss_cpu(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, double omega, double theta, double epsilon,
    double alpha, double W, double threshold, int64_t kernel_size, c10::string_view reduction,
    bool compute_grad) {
  const Reduction red = check_adaptive_wing_loss_args(pred, target, target_weight, weights, omega, theta, epsilon,
                                                      alpha, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<AWingLoss>("adaptive_wing_loss", pred, target, target_weight, weights,
                                     {W, threshold, kernel_size}, red, compute_grad, 0.0, omega, theta, epsilon,
                                     alpha);
}

}  // namespace
}  // namespace cpu
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CPU, m) {
  m.impl("adaptive_wing_loss", &awing::cpu::adaptive_wing_loss_cpu);
}
