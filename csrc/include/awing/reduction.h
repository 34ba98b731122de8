// Loss reductions: the parsed name, and the 0-d result both backends return (host code only).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/util/Exception.h>

#include <string>
#include <string_view>

namespace awing {

enum class Reduction { None = 0, Mean = 1, Sum = 2 };

// `op` names the loss in the message ("adaptive_wing_loss: reduction must be ...").
inline Reduction parse_reduction(std::string_view reduction, const char* op) {
  if (reduction == "none") return Reduction::None;
  if (reduction == "mean") return Reduction::Mean;
  if (reduction == "sum") return Reduction::Sum;
  TORCH_CHECK(false, op, ": reduction must be 'none', 'mean' or 'sum', got '",
              std::string(reduction), "'");
}

// A 0-d tensor of the dtype and device of `like` holding `value` (a sum or mean accumulated in
// double), converted as a cast converts: a value beyond the dtype's range becomes +-inf, as
// torch's own float16/float32 sums overflow (at::full would refuse it instead).
inline at::Tensor reduced_scalar(double value, const at::Tensor& like) {
  return at::scalar_tensor(value, like.options().dtype(at::kDouble)).to(like.scalar_type());
}

}  // namespace awing
