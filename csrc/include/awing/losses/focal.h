// CornerNet's penalty-reduced focal loss of one pixel on a logit x (Law & Deng, ECCV 2018, eq. 1),
// the sigmoid fused: with p = sigmoid(x), a pixel is positive where y >= positive_threshold and
//   positive:  L = -(1 - p)^alpha * log(p)
//   negative:  L = -(1 - y)^beta * p^alpha * log(1 - p)
// Evaluated through softplus, which never overflows: log p = -softplus(-x), log(1 - p) = -softplus(x),
// p^alpha = exp(-alpha softplus(-x)), (1 - p)^alpha = exp(-alpha softplus(x)). The derivatives:
//   positive:  dL/dx = -(1 - p)^alpha * (alpha * p * softplus(-x) + (1 - p))
//   negative:  dL/dx =  (1 - y)^beta * p^alpha * (alpha * (1 - p) * softplus(x) + p)
// NaN in x or y gives NaN in both. With reduction "mean" the op divides by the number of planes
// (n, c) that hold a positive pixel, at least 1 (focal_normaliser): for landmark heatmaps that is
// the number of visible landmarks, CornerNet's "number of objects". CornerNet has exactly one
// positive per object (its targets peak at 1 on the object's pixel); sub-pixel Gaussians peak
// below 1, so positives are the pixels >= positive_threshold (1-4 per landmark at 0.75, sigma 1,
// symmetric about the true centre), and dividing by them instead would weigh a landmark by how
// its centre happens to fall on the grid. The kernels only see the divisor.
#pragma once

#include <optional>
#include <string_view>

#include "awing/heatmap_loss.h"
#include "awing/math.h"

namespace awing {

template <typename T>
struct FocalHeatmapLoss {
  T alpha;
  T beta;
  T positive_threshold;

  FocalHeatmapLoss(double alpha_, double beta_, double positive_threshold_)
      : alpha(static_cast<T>(alpha_)), beta(static_cast<T>(beta_)),
        positive_threshold(static_cast<T>(positive_threshold_)) {}

  template <typename V>
  AWING_HD void operator()(const V& logit, const V& target, V& loss, V& grad) const {
    using namespace awing::math;
    const V zero(T(0)), one(T(1)), valpha(alpha);
    const auto negative_x = vlt(logit, zero);
    const V e = vexp(zero - vabs(logit));                    // exp(-|x|), in (0, 1]
    const V sp_pos = vselect(negative_x, zero, logit) + vlog1p(e);   // softplus(x) = -log(1 - p)
    const V sp_neg = sp_pos - logit;                                  // softplus(-x) = -log(p)
    const V inv = one / (one + e);
    const V p = vselect(negative_x, e * inv, inv);                    // sigmoid(x)
    const V q = vselect(negative_x, inv, e * inv);                    // 1 - p

    const auto negative = vlt(target, V(positive_threshold));        // NaN y: positive (NaN added below)
    // (1 - p)^alpha for positives, p^alpha for negatives: one exp
    const V focus = vexp(zero - valpha * vselect(negative, sp_neg, sp_pos));
    const V penalty = vselect(negative, vexp(V(beta) * vlog(one - target)), one);   // (1 - y)^beta
    const V w = focus * penalty;
    const V nan_of_y = zero * target;
    loss = w * vselect(negative, sp_pos, sp_neg) + nan_of_y;
    grad = vselect(negative, w * (valpha * q * sp_pos + p), zero - w * (valpha * p * sp_neg + q)) + nan_of_y;
  }
};

// The "mean" divisor as a 0-d double tensor on target's device (no host sync): the planes (n, c)
// holding at least one pixel >= positive_threshold, at least 1. target has numel > 0.
inline at::Tensor focal_normaliser(const at::Tensor& target, double positive_threshold) {
  return target.ge(positive_threshold).flatten(2).any(2).sum(at::kDouble).clamp_min(1.0);
}

inline void check_focal_heatmap_loss_params(double alpha, double beta, double positive_threshold) {
  constexpr const char* op = "focal_heatmap_loss";
  check_non_negative(alpha, op, "alpha");
  check_non_negative(beta, op, "beta");
  TORCH_CHECK(positive_threshold > 0 && positive_threshold <= 1, op,
              ": positive_threshold must be in (0, 1] (targets are heatmaps of peak <= 1), got ",
              positive_threshold);
}

inline Reduction check_focal_heatmap_loss_args(const at::Tensor& logits, const at::Tensor& target,
                                               const std::optional<at::Tensor>& target_weight,
                                               const std::optional<at::Tensor>& weights, double alpha,
                                               double beta, double positive_threshold, double W,
                                               double threshold, int64_t kernel_size,
                                               std::string_view reduction) {
  check_focal_heatmap_loss_params(alpha, beta, positive_threshold);
  return check_heatmap_loss_args("focal_heatmap_loss", "logits", logits, target, target_weight, weights,
                                 {W, threshold, kernel_size}, reduction);
}

}  // namespace awing
