// Argument checks shared by several ops (host code only). Each op's own checks live in its header
// (check_<op>_args in adaptive_wing_loss.h, ...) and are the only definition of what the op
// accepts: the CPU and CUDA kernels call them, and so does the op's fake kernel (through the
// awing_ext._C.check_<op>_args bindings in ops.cpp), so real and fake tensors fail alike.
// Shapes are read as SymInts (sym_sizes), which fake tensors with symbolic shapes also have.
// Every message names the op, the argument and what was expected.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>

namespace awing {

inline bool is_supported_float(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// A heatmap tensor: 4-D (N, C, H, W), floating point of a supported dtype.
inline void check_heatmap(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.dim() == 4, op, ": ", name, " must be 4-D (N, C, H, W), got ", t.dim(),
              "-D tensor of shape ", t.sym_sizes());
  TORCH_CHECK(is_supported_float(t.scalar_type()), op, ": ", name,
              " must be float32, float64, float16 or bfloat16, got ", t.scalar_type());
}

inline void check_same(const at::Tensor& ref, const at::Tensor& t, const char* op,
                       const char* ref_name, const char* name) {
  TORCH_CHECK(t.sym_sizes() == ref.sym_sizes(), op, ": ", name, " must have the shape of ",
              ref_name, " ", ref.sym_sizes(), ", got ", t.sym_sizes());
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": ", name, " must have the dtype of ",
              ref_name, " (", ref.scalar_type(), "), got ", t.scalar_type());
  TORCH_CHECK(t.device() == ref.device(), op, ": ", name, " must be on the device of ", ref_name,
              " (", ref.device(), "), got ", t.device());
}

// The backward of an op that maps heatmaps (N, K, H, W) to coordinates (N, K, 2) (soft_argmax,
// integral_coords): `grad` and the forward's `coords` must be (N, K, 2) floating-point tensors on
// the heatmaps' device.
inline void check_coords_backward(const char* op, const at::Tensor& grad, const at::Tensor& heatmaps,
                                  const at::Tensor& coords) {
  for (const at::Tensor* t : {&grad, &coords}) {
    const char* name = t == &grad ? "grad" : "coords";
    TORCH_CHECK(t->dim() == 3 && t->sym_size(0) == heatmaps.sym_size(0) &&
                    t->sym_size(1) == heatmaps.sym_size(1) && t->sym_size(2) == 2,
                op, ": ", name, " must have shape (N, K, 2) = (", heatmaps.sym_size(0), ", ",
                heatmaps.sym_size(1), ", 2), got ", t->sym_sizes());
    TORCH_CHECK(is_supported_float(t->scalar_type()), op, ": ", name,
                " must be a floating-point tensor, got ", t->scalar_type());
    TORCH_CHECK(t->device() == heatmaps.device(), op, ": ", name, " must be on the device of heatmaps (",
                heatmaps.device(), "), got ", t->device());
  }
}

// The largest dilation window: the kernels read k x k target pixels per output pixel (the CPU
// keeps a row of W + k - 1), and the paper uses 3.
constexpr int64_t kMaxKernelSize = 31;

inline void check_kernel_size(int64_t kernel_size, const char* op) {
  TORCH_CHECK(kernel_size > 0 && kernel_size % 2 == 1 && kernel_size <= kMaxKernelSize, op,
              ": kernel_size must be a positive odd integer <= ", kMaxKernelSize, ", got ",
              kernel_size);
}

// A loss parameter that must be > 0 (NaN is refused too).
inline void check_positive(double value, const char* op, const char* name) {
  TORCH_CHECK(value > 0, op, ": ", name, " must be > 0, got ", value);
}

}  // namespace awing
