// at::vec::Vectorized overloads of the primitives in awing/math.h, so the shared AWING_HD
// templates run in SIMD lanes on the CPU (Sleef exp/log under AVX2/AVX-512 builds).
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <limits>

#include "awing/math.h"

namespace awing {
namespace math {

template <typename T>
using Vec = at::vec::Vectorized<T>;

// float lanes use the faster variants: at::vec's inline polynomial exp (exp_u20) and, under
// AVX2, Sleef's 3.5-ulp log; both far below what a float32 loss can resolve, and measured
// against the float64 reference in tests/test_loss_values.py.
inline Vec<float> vexp(const Vec<float>& x) { return x.exp_u20(); }
#if defined(CPU_CAPABILITY_AVX2)
inline Vec<float> vlog(const Vec<float>& x) { return Vec<float>(Sleef_logf8_u35(x)); }
#endif
template <typename T> inline Vec<T> vexp(const Vec<T>& x) { return x.exp(); }
template <typename T> inline Vec<T> vlog(const Vec<T>& x) { return x.log(); }
// log1p from log (Goldberg): log(u) * x / (u - 1) with u = 1 + x is accurate to a few ulp and
// about twice as fast as Sleef's log1p; u == 1 (|x| below half an ulp of 1) gives x itself.
template <typename T>
inline Vec<T> vlog1p(const Vec<T>& x) {
  const Vec<T> one(T(1));
  const Vec<T> u = x + one;
  const Vec<T> r = vlog(u) * x / (u - one);
  const Vec<T> inf(std::numeric_limits<T>::infinity());
  return Vec<T>::blendv(Vec<T>::blendv(r, x, u == one), u, u == inf);
}
template <typename T> inline Vec<T> vabs(const Vec<T>& x) { return x.abs(); }
// Comparisons give an all-ones bit mask per lane, which Vectorized::blendv consumes.
template <typename T> inline Vec<T> vlt(const Vec<T>& a, const Vec<T>& b) { return a < b; }
template <typename T> inline Vec<T> vgt(const Vec<T>& a, const Vec<T>& b) { return a > b; }
template <typename T>
inline Vec<T> vselect(const Vec<T>& mask, const Vec<T>& a, const Vec<T>& b) {
  return Vec<T>::blendv(b, a, mask);
}

}  // namespace math
}  // namespace awing
