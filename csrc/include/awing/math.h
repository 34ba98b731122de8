// Portable element-wise primitives for the shared AWING_HD formulas.
//
// The per-element formulas (adaptive_wing_loss.h, gaussian.h, ...) are templates over a value
// type V: `float`/`double` in the CUDA kernels and the CPU tail loops, at::vec::Vectorized<T> in
// the CPU main loops. They call vexp, vlog, ... below, which forward to Ops<V>. Ops is a class
// template, so its specialisations are picked where a formula is instantiated, not where it is
// defined: the Vectorized one (cpu/vec_math.h) works whatever order the headers are included in.
#pragma once

#include <cmath>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define AWING_HD __host__ __device__ __forceinline__
#else
#define AWING_HD inline
#endif

namespace awing {
namespace math {

// exp, log, log1p, abs, lt/gt (a mask) and select(mask, a, b) for the value type V.
template <typename V>
struct Ops;

template <typename T>
struct ScalarOps {
  using Mask = bool;
  static AWING_HD T exp(T x) { return ::exp(x); }
  static AWING_HD T log(T x) { return ::log(x); }
  static AWING_HD T log1p(T x) { return ::log1p(x); }
  static AWING_HD T abs(T x) { return ::fabs(x); }
  static AWING_HD bool lt(T a, T b) { return a < b; }
  static AWING_HD bool gt(T a, T b) { return a > b; }
  static AWING_HD T select(bool m, T a, T b) { return m ? a : b; }
};

template <>
struct Ops<double> : ScalarOps<double> {};

template <>
struct Ops<float> : ScalarOps<float> {
  static AWING_HD float exp(float x) { return ::expf(x); }
  static AWING_HD float log(float x) { return ::logf(x); }
  static AWING_HD float log1p(float x) { return ::log1pf(x); }
  static AWING_HD float abs(float x) { return ::fabsf(x); }
};

template <typename V> AWING_HD V vexp(const V& x) { return Ops<V>::exp(x); }
template <typename V> AWING_HD V vlog(const V& x) { return Ops<V>::log(x); }
template <typename V> AWING_HD V vlog1p(const V& x) { return Ops<V>::log1p(x); }
template <typename V> AWING_HD V vabs(const V& x) { return Ops<V>::abs(x); }
template <typename V> AWING_HD typename Ops<V>::Mask vlt(const V& a, const V& b) { return Ops<V>::lt(a, b); }
template <typename V> AWING_HD typename Ops<V>::Mask vgt(const V& a, const V& b) { return Ops<V>::gt(a, b); }
// a where mask is set, else b.
template <typename V>
AWING_HD V vselect(const typename Ops<V>::Mask& m, const V& a, const V& b) { return Ops<V>::select(m, a, b); }

}  // namespace math
}  // namespace awing
