// Portable element-wise primitives for the shared AWING_HD math.
//
// The per-element formulas (adaptive_wing.h, ...) are templates over a value type V. They are
// instantiated with `float`/`double` by the CUDA kernels and the CPU tail loops, and with
// at::vec::Vectorized<float/double> by the CPU main loops (the overloads for those live in
// cpu/vec_math.h), so both backends run literally the same arithmetic.
#pragma once

#include <cmath>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define AWING_HD __host__ __device__ __forceinline__
#else
#define AWING_HD inline
#endif

namespace awing {
namespace math {

// Scalar overloads. The vector overloads have the same names and arity.
AWING_HD float vexp(float x) { return ::expf(x); }
AWING_HD double vexp(double x) { return ::exp(x); }
AWING_HD float vlog(float x) { return ::logf(x); }
AWING_HD double vlog(double x) { return ::log(x); }
AWING_HD float vlog1p(float x) { return ::log1pf(x); }
AWING_HD double vlog1p(double x) { return ::log1p(x); }
AWING_HD float vabs(float x) { return ::fabsf(x); }
AWING_HD double vabs(double x) { return ::fabs(x); }

// Comparisons return a "mask" usable by vselect; for scalars that is a bool.
AWING_HD bool vlt(float a, float b) { return a < b; }
AWING_HD bool vlt(double a, double b) { return a < b; }
AWING_HD bool vgt(float a, float b) { return a > b; }
AWING_HD bool vgt(double a, double b) { return a > b; }

// vselect(mask, a, b): a where mask is set, else b.
AWING_HD float vselect(bool m, float a, float b) { return m ? a : b; }
AWING_HD double vselect(bool m, double a, double b) { return m ? a : b; }

}  // namespace math
}  // namespace awing
