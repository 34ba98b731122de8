// awing::math::Ops for at::vec::Vectorized lanes, so the shared AWING_HD formulas run in SIMD
// lanes on the CPU (at::vec's exp_u20 and an inline AVX2 log for float; Sleef elsewhere), and
// LaneSum, the deterministic double accumulation of the CPU loss.
#pragma once

#include <ATen/cpu/vec/vec.h>

#include <limits>
#include <type_traits>

#include "awing/math.h"

namespace awing {
namespace math {

template <typename T>
using Vec = at::vec::Vectorized<T>;

// float lanes use the faster variants: at::vec's inline polynomial exp (exp_u20) and, under
// AVX2, Sleef's 3.5-ulp log; both far below what a float32 loss can resolve, and measured
// against the float64 reference in tests/test_adaptive_wing_loss_values.py.
#if defined(CPU_CAPABILITY_AVX2)
// Natural log of 8 floats, inline (no call, so the caller's registers stay live): the Cephes
// logf reduction and polynomial (~1 ulp), subnormals rescaled, log(0) = -inf, log(inf) = inf,
// log(x < 0 or NaN) = NaN.
inline Vec<float> log_avx2(const Vec<float>& xv) {
  const __m256 x = xv;
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 subnormal = _mm256_cmp_ps(x, _mm256_set1_ps(std::numeric_limits<float>::min()), _CMP_LT_OQ);
  const __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), subnormal);
  const __m256i bits = _mm256_castps_si256(xs);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  e = _mm256_sub_ps(e, _mm256_and_ps(subnormal, _mm256_set1_ps(23.0f)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));  // [1, 2)
  const __m256 upper = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), upper);  // [sqrt(1/2), sqrt(2)]
  e = _mm256_add_ps(e, _mm256_and_ps(upper, one));
  const __m256 f = _mm256_sub_ps(m, one);
  const __m256 z = _mm256_mul_ps(f, f);
  __m256 p = _mm256_set1_ps(7.0376836292E-2f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.1514610310E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.1676998740E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.2420140846E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.4249322787E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.6668057665E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.0000714765E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-2.4999993993E-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(3.3333331174E-1f));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, f), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440E-4f), y);
  y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
  __m256 r = _mm256_add_ps(f, y);
  r = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), r);
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  r = _mm256_blendv_ps(r, _mm256_sub_ps(_mm256_setzero_ps(), inf), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, inf, _mm256_cmp_ps(x, inf, _CMP_EQ_OQ));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN()),
                       _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
  return r;
}
#endif
template <typename T>
struct Ops<at::vec::Vectorized<T>> {
  using V = Vec<T>;
  using Mask = V;  // all-ones bits per lane where true, as Vectorized::blendv consumes
  static V exp(const V& x) {
    if constexpr (std::is_same_v<T, float>) {
      return x.exp_u20();
    } else {
      return x.exp();
    }
  }
  static V log(const V& x) {
#if defined(CPU_CAPABILITY_AVX2)
    if constexpr (std::is_same_v<T, float>) return log_avx2(x);
#endif
    return x.log();
  }
  // log1p from log (Goldberg): log(u) * x / (u - 1) with u = 1 + x is accurate to a few ulp and
  // about twice as fast as Sleef's log1p; u == 1 (|x| below half an ulp of 1) gives x itself.
  static V log1p(const V& x) {
    const V one(T(1));
    const V u = x + one;
    const V r = log(u) * x / (u - one);
    const V inf(std::numeric_limits<T>::infinity());
    return V::blendv(V::blendv(r, x, u == one), u, u == inf);
  }
  static V abs(const V& x) { return x.abs(); }
  static Mask lt(const V& a, const V& b) { return a < b; }
  static Mask gt(const V& a, const V& b) { return a > b; }
  static V select(const Mask& m, const V& a, const V& b) { return V::blendv(b, a, m); }
};

// Lane-wise sum of vectors in double, in a fixed order (so deterministic). The tail lanes of a
// partial vector (n < size) are ignored.
template <typename T>
struct LaneSum {
  double acc[Vec<T>::size()] = {};
  void add(const Vec<T>& v, int n) {
    T tmp[Vec<T>::size()];
    v.store(tmp);
    for (int k = 0; k < n; ++k) acc[k] += static_cast<double>(tmp[k]);
  }
  double total() const {
    double s = 0;
    for (const double a : acc) s += a;
    return s;
  }
};

#if defined(CPU_CAPABILITY_AVX2)
template <>
struct LaneSum<float> {
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  void add(const Vec<float>& v, int n) {
    const __m256 x = n == Vec<float>::size() ? __m256(v) : __m256(Vec<float>::set(Vec<float>(0.0f), v, n));
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  }
  double total() const {
    alignas(32) double a[8];
    _mm256_store_pd(a, lo);
    _mm256_store_pd(a + 4, hi);
    double s = 0;
    for (const double v : a) s += v;
    return s;
  }
};
#endif

}  // namespace math
}  // namespace awing
