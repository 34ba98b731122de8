// CUDA kernel of awing_ext::adaptive_wing_loss: the shared heatmap-loss kernel
// (heatmap_loss_kernel.cuh) with the Adaptive Wing functor (include/awing/adaptive_wing_loss.h).
#include <torch/library.h>

#include "awing/adaptive_wing_loss.h"
#include "heatmap_loss_kernel.cuh"

namespace awing {
namespace cuda {
namespace {

std::tuple<at::Tensor, at::Tensor> adaptive_wing_loss_cuda(
    const at::Tensor& pred, const at::Tensor& target, const std::optional<at::Tensor>& target_weight,
    const std::optional<at::Tensor>& weights, double omega, double theta, double epsilon,
    double alpha, double W, double threshold, int64_t kernel_size, c10::string_view reduction,
    bool compute_grad) {
  const Reduction red = check_adaptive_wing_loss_args(pred, target, target_weight, weights, omega, theta, epsilon,
                                                      alpha, W, threshold, kernel_size, reduction);
  return run_heatmap_loss<AWingLoss>("adaptive_wing_loss", pred, target, target_weight, weights,
                                     {W, threshold, kernel_size}, red, compute_grad, std::nullopt, omega, theta,
                                     epsilon, alpha);
}

}  // namespace
}  // namespace cuda
}  // namespace awing

TORCH_LIBRARY_IMPL(awing_ext, CUDA, m) {
  m.impl("adaptive_wing_loss", &awing::cuda::adaptive_wing_loss_cuda);
}
