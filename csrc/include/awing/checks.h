// Argument validation shared by the CPU and CUDA launchers (host code only).
// Every message names the argument and what was expected.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>
#include <string_view>

#include "awing/reduction.h"

namespace awing {

inline bool is_supported_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// A heatmap tensor: 4-D (N, C, H, W), floating point of a supported dtype.
inline void check_heatmap(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.dim() == 4, op, ": ", name, " must be 4-D (N, C, H, W), got ", t.dim(),
              "-D tensor of shape ", t.sizes());
  TORCH_CHECK(is_supported_float(t.scalar_type()), op, ": ", name,
              " must be float32, float64, float16 or bfloat16, got ", t.scalar_type());
}

inline void check_same(const at::Tensor& ref, const at::Tensor& t, const char* op,
                       const char* ref_name, const char* name) {
  TORCH_CHECK(t.sizes() == ref.sizes(), op, ": ", name, " must have the shape of ", ref_name, " ",
              ref.sizes(), ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": ", name, " must have the dtype of ",
              ref_name, " (", ref.scalar_type(), "), got ", t.scalar_type());
  TORCH_CHECK(t.device() == ref.device(), op, ": ", name, " must be on the device of ", ref_name,
              " (", ref.device(), "), got ", t.device());
}

// The largest dilation window: the kernels read k x k target pixels per output pixel (the CPU
// keeps a row of W + k - 1), and the paper uses 3.
constexpr int64_t kMaxKernelSize = 31;

inline void check_kernel_size(int64_t kernel_size, const char* op) {
  TORCH_CHECK(kernel_size > 0 && kernel_size % 2 == 1 && kernel_size <= kMaxKernelSize, op,
              ": kernel_size must be a positive odd integer <= ", kMaxKernelSize, ", got ",
              kernel_size);
}

// Validates everything adaptive_wing_loss takes; returns the parsed reduction.
inline Reduction check_adaptive_wing_args(const at::Tensor& pred, const at::Tensor& target,
                                          const std::optional<at::Tensor>& target_weight,
                                          const std::optional<at::Tensor>& weight_map,
                                          double omega, double theta, double epsilon,
                                          int64_t kernel_size, std::string_view reduction) {
  constexpr const char* op = "adaptive_wing_loss";
  check_heatmap(pred, op, "pred");
  TORCH_CHECK(target.dim() == 4, op, ": target must be 4-D (N, C, H, W), got ", target.dim(),
              "-D tensor of shape ", target.sizes());
  check_same(pred, target, op, "pred", "target");
  TORCH_CHECK(omega > 0, op, ": omega must be > 0, got ", omega);
  TORCH_CHECK(theta > 0, op, ": theta must be > 0, got ", theta);
  TORCH_CHECK(epsilon > 0, op, ": epsilon must be > 0, got ", epsilon);
  check_kernel_size(kernel_size, op);
  if (target_weight.has_value()) {
    const auto& tw = *target_weight;
    TORCH_CHECK(tw.dim() == 2 && tw.size(0) == pred.size(0) && tw.size(1) == pred.size(1), op,
                ": target_weight must have shape (N, C) = (", pred.size(0), ", ", pred.size(1),
                "), got ", tw.sizes());
    TORCH_CHECK(is_supported_float(tw.scalar_type()), op,
                ": target_weight must be a floating-point tensor, got ", tw.scalar_type());
    TORCH_CHECK(tw.device() == pred.device(), op, ": target_weight must be on the device of pred (",
                pred.device(), "), got ", tw.device());
  }
  if (weight_map.has_value()) {
    const auto& wm = *weight_map;
    TORCH_CHECK(wm.sizes() == pred.sizes(), op, ": weight_map must have the shape of pred ",
                pred.sizes(), ", got ", wm.sizes());
    TORCH_CHECK(is_supported_float(wm.scalar_type()), op,
                ": weight_map must be a floating-point tensor, got ", wm.scalar_type());
    TORCH_CHECK(wm.device() == pred.device(), op, ": weight_map must be on the device of pred (",
                pred.device(), "), got ", wm.device());
  }
  return parse_reduction(reduction);
}

}  // namespace awing
