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
// Natural log of 8 floats, inline (no call, so the caller's registers stay live): the Cephes
// logf reduction and polynomial (~1 ulp), subnormals rescaled, log(0) = -inf, log(inf) = inf,
// log(x < 0 or NaN) = NaN.
inline Vec<float> vlog(const Vec<float>& xv) {
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
