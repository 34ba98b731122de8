// sign(x) for the shared formulas: -1, 0 or 1, and NaN for NaN (so a NaN input gives a NaN
// gradient rather than 0). The subgradient the L1-type losses use at 0, as torch's l1_loss does.
#pragma once

#include "awing/math.h"

namespace awing {

template <typename V, typename T>
AWING_HD V sign_of(const V& x) {
  using namespace awing::math;
  const V zero(T(0));
  return vselect(vlt(x, zero), V(T(-1)), vselect(vgt(x, zero), V(T(1)), zero)) + zero * x;
}

}  // namespace awing
