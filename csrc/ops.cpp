// Op schemas of the awing_ext library and the Python module that carries them.
// Kernels register per backend in cpu/ and cuda/; fake kernels and autograd are registered
// from Python (awing_ext/<op>.py). Each op's arguments are validated by one C++ function
// (check_<op>_args in include/awing/<op>.h); the kernels call it, and the fake kernels call it
// through the check_<op>_args bindings below, so CPU, CUDA and fake tensors fail alike.
#include <Python.h>
#include <torch/extension.h>
#include <torch/library.h>

#include <utility>
#include <vector>

#include "awing/adaptive_wing_loss.h"
#include "awing/checks.h"
#include "awing/decode_heatmaps.h"
#include "awing/integral_coords.h"
#include "awing/launch_plan.h"
#include "awing/loss_map_mask.h"
#include "awing/losses/focal.h"
#include "awing/losses/l1.h"
#include "awing/losses/mse.h"
#include "awing/losses/smooth_l1.h"
#include "awing/losses/wing.h"
#include "awing/render_boundaries.h"
#include "awing/render_heatmaps.h"
#include "awing/soft_argmax.h"

TORCH_LIBRARY(awing_ext, m) {
  m.def(
      "adaptive_wing_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weights, "
      "float omega, float theta, float epsilon, float alpha, float W, float threshold, "
      "int kernel_size, str reduction, bool compute_grad) -> (Tensor, Tensor)");
  // The rest of the heatmap-loss family, on AWing's kernel (awing_ext/heatmap_losses.py).
  m.def(
      "mse_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weights, float W, "
      "float threshold, int kernel_size, str reduction, bool compute_grad) -> (Tensor, Tensor)");
  m.def(
      "l1_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weights, float W, "
      "float threshold, int kernel_size, str reduction, bool compute_grad) -> (Tensor, Tensor)");
  m.def(
      "smooth_l1_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weights, float beta, "
      "float W, float threshold, int kernel_size, str reduction, bool compute_grad) -> (Tensor, Tensor)");
  m.def(
      "wing_loss(Tensor pred, Tensor target, Tensor? target_weight, Tensor? weights, float omega, "
      "float epsilon, float W, float threshold, int kernel_size, str reduction, bool compute_grad) "
      "-> (Tensor, Tensor)");
  m.def(
      "focal_heatmap_loss(Tensor logits, Tensor target, Tensor? target_weight, Tensor? weights, "
      "float alpha, float beta, float positive_threshold, float W, float threshold, int kernel_size, "
      "str reduction, bool compute_grad) -> (Tensor, Tensor)");
  // Training targets and decoding (awing_ext/<op>.py documents each).
  m.def(
      "render_heatmaps(Tensor landmarks, Tensor? visible, int height, int width, float sigma, "
      "float truncate, ScalarType? dtype) -> Tensor");
  m.def(
      "render_boundaries(Tensor landmarks, int[] curve_points, int[] curve_lengths, int height, "
      "int width, float sigma, float truncate, int samples, bool per_curve, ScalarType? dtype) "
      "-> Tensor");
  m.def("loss_map_mask(Tensor target, float threshold, int kernel_size) -> Tensor");
  m.def("decode_heatmaps(Tensor heatmaps, str method) -> (Tensor, Tensor)");
  // Integral regression: the softmax expectation of each plane's coordinates, and its backward.
  m.def("soft_argmax(Tensor heatmaps, float beta) -> Tensor");
  m.def("soft_argmax_backward(Tensor grad, Tensor heatmaps, Tensor coords, float beta) -> Tensor");
  // Integral regression that does not round: the relu(h) expectation in a window around the argmax.
  m.def("integral_coords(Tensor heatmaps, int radius) -> Tensor");
  m.def("integral_coords_backward(Tensor grad, Tensor heatmaps, Tensor coords, int radius) -> Tensor");
}

namespace {

pybind11::dict build_info() {
  pybind11::dict info;
  info["cpu"] = true;
#ifdef AWING_WITH_CUDA
  info["cuda"] = true;
  info["cuda_version"] = AWING_CUDA_VERSION;
#else
  info["cuda"] = false;
  info["cuda_version"] = pybind11::none();
#endif
  info["torch_version"] = AWING_TORCH_VERSION;
  return info;
}

// awing::plan_loss_launch for tests: accesses are (address, element size) pairs.
pybind11::dict plan_loss_launch(int64_t numel, int64_t width,
                                const std::vector<std::pair<uint64_t, int64_t>>& accesses, int threads,
                                int sm_count) {
  std::vector<awing::Access> list;
  for (const auto& [address, size] : accesses) {
    list.push_back({static_cast<std::uintptr_t>(address), size});
  }
  const awing::LossLaunchPlan plan = awing::plan_loss_launch(numel, width, list, threads, sm_count);
  pybind11::dict out;
  out["vector_width"] = plan.vector_width;
  out["blocks"] = plan.blocks;
  out["int32_index"] = plan.int32_index;
  return out;
}

// The argument checks, bound for the fake kernels (awing_ext/<op>.py) and module constructors.
// Each raises the kernels' own error (RuntimeError) and returns nothing.
using OptionalTensor = std::optional<at::Tensor>;

void check_adaptive_wing_loss_args(const at::Tensor& pred, const at::Tensor& target,
                                   const OptionalTensor& target_weight, const OptionalTensor& weights,
                                   double omega, double theta, double epsilon, double alpha, double W,
                                   double threshold, int64_t kernel_size, const std::string& reduction) {
  awing::check_adaptive_wing_loss_args(pred, target, target_weight, weights, omega, theta, epsilon, alpha, W,
                                       threshold, kernel_size, reduction);
}

void check_adaptive_wing_loss_params(double omega, double theta, double epsilon, double alpha, double W,
                                     double threshold, int64_t kernel_size, const std::string& reduction) {
  awing::check_adaptive_wing_loss_params(omega, theta, epsilon, alpha, W, threshold, kernel_size, reduction);
}

void check_mse_loss_args(const at::Tensor& pred, const at::Tensor& target, const OptionalTensor& target_weight,
                         const OptionalTensor& weights, double W, double threshold, int64_t kernel_size,
                         const std::string& reduction) {
  awing::check_mse_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
}

void check_l1_loss_args(const at::Tensor& pred, const at::Tensor& target, const OptionalTensor& target_weight,
                        const OptionalTensor& weights, double W, double threshold, int64_t kernel_size,
                        const std::string& reduction) {
  awing::check_l1_loss_args(pred, target, target_weight, weights, W, threshold, kernel_size, reduction);
}

void check_smooth_l1_loss_args(const at::Tensor& pred, const at::Tensor& target, const OptionalTensor& target_weight,
                               const OptionalTensor& weights, double beta, double W, double threshold,
                               int64_t kernel_size, const std::string& reduction) {
  awing::check_smooth_l1_loss_args(pred, target, target_weight, weights, beta, W, threshold, kernel_size,
                                   reduction);
}

void check_wing_loss_args(const at::Tensor& pred, const at::Tensor& target, const OptionalTensor& target_weight,
                          const OptionalTensor& weights, double omega, double epsilon, double W, double threshold,
                          int64_t kernel_size, const std::string& reduction) {
  awing::check_wing_loss_args(pred, target, target_weight, weights, omega, epsilon, W, threshold, kernel_size,
                              reduction);
}

void check_focal_heatmap_loss_args(const at::Tensor& logits, const at::Tensor& target,
                                   const OptionalTensor& target_weight, const OptionalTensor& weights, double alpha,
                                   double beta, double positive_threshold, double W, double threshold,
                                   int64_t kernel_size, const std::string& reduction) {
  awing::check_focal_heatmap_loss_args(logits, target, target_weight, weights, alpha, beta, positive_threshold, W,
                                       threshold, kernel_size, reduction);
}

void check_decode_heatmaps_args(const at::Tensor& heatmaps, const std::string& method) {
  awing::check_decode_args(heatmaps, method);
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "awing_ext compiled kernels (ops are registered under torch.ops.awing_ext)";
  m.def("build_info", &build_info, "Which backends this build was compiled with (awing_ext.build_info adds the CPU capability in use).");
  // The CUDA launchers' host-side decisions (csrc/include/awing/launch_plan.h), for tests.
  m.def("plan_loss_launch", &plan_loss_launch, "Launch plan of the CUDA loss kernel.");
  m.def("grid_blocks", &awing::grid_blocks, "Grid size of a grid-stride kernel.");
  m.def("fits_int32", &awing::fits_int32, "Whether a grid-stride loop may index in int32.");
  m.attr("MAX_KERNEL_SIZE") = awing::kMaxKernelSize;
  // The ops' argument checks (include/awing/<op>.h), for the fake kernels.
  m.def("check_adaptive_wing_loss_args", &check_adaptive_wing_loss_args);
  m.def("check_adaptive_wing_loss_params", &check_adaptive_wing_loss_params);
  m.def("check_mse_loss_args", &check_mse_loss_args);
  m.def("check_l1_loss_args", &check_l1_loss_args);
  m.def("check_smooth_l1_loss_args", &check_smooth_l1_loss_args);
  m.def("check_wing_loss_args", &check_wing_loss_args);
  m.def("check_focal_heatmap_loss_args", &check_focal_heatmap_loss_args);
  m.def("check_focal_heatmap_loss_params", &awing::check_focal_heatmap_loss_params);
  m.def("check_loss_map_mask_args", &awing::check_loss_map_mask_args);
  m.def("check_render_heatmaps_args", &awing::check_render_heatmaps_args);
  m.def("check_render_boundaries_args", &awing::check_render_boundaries_args);
  m.def("check_decode_heatmaps_args", &check_decode_heatmaps_args);
  m.def("check_soft_argmax_args", &awing::check_soft_argmax_args);
  m.def("check_soft_argmax_backward_args", &awing::check_soft_argmax_backward_args);
  m.def("check_integral_coords_args", &awing::check_integral_coords_args);
  m.def("check_integral_coords_backward_args", &awing::check_integral_coords_backward_args);
  m.attr("MAX_INTEGRAL_RADIUS") = awing::kMaxIntegralRadius;
}
