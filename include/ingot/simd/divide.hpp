#pragma once
// Division by a number that stays the same over a whole pass (Adam's
// sqrt(1 - beta2^t)), giving the same bits as a / c but without a division
// instruction: q = a y with y = RN(1 / c), then one correction with fused
// multiply-adds, r = a - q c (exact when q is within an ulp of a / c) and
// q' = q + r y, which is a / c correctly rounded (Brisebarre, Muller and
// Raina, "Accelerating correctly rounded floating-point division when the
// divisor is known in advance", IEEE TC 2004). A division and a square root
// share one unpipelined unit, and Adam's pass has three of them per value;
// two multiply-adds and a multiplication go to the FMA pipes instead.
//
// The correction is exact while r neither underflows nor q overflows: for
// float, |a| from 2^-100 up to 2^64 with c in [2^-60, 1]. Checked
// exhaustively on every float a in [2^-75, 2^64] for 27 divisors (Adam's
// corrections at 15 steps, and 12 others): no difference from a / c; the
// first differences appear below |a| = 2^-102, where r is subnormal.
// Callers divide square roots of floats (0, or at least 2^-74.5), inside that
// range. A divisor outside [2^-60, 1], or a target without a fused
// multiply-add instruction, divides.
#include <cmath>
#include <type_traits>

#include "ingot/simd/fma.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::simd {


template <class T>
class exact_divisor {
 public:
  // y = 1 / c computed in double and rounded to float is RN(1 / c): a
  // quotient rounded first to 53 bits, then to 24, rounds as once when
  // 53 >= 2 * 24 + 2. No wider type gives that for double, which divides.
  explicit exact_divisor(T c)
      : c_(c),
        y_(static_cast<T>(1.0 / static_cast<double>(c))),
        multiply_(std::isfinite(c) && c >= std::ldexp(T(1), -60) && c <= T(1)) {}

  // a / c, bit for bit, for |a| from 2^-100 to 2^64 (and 0, infinities and
  // NaN, which come out as the division gives them).
  template <class V>
  V divide(const V& a) const {
    if constexpr (detail::has_fused_fma<V>) {
      if (multiply_) {
        const V q = a * V(y_);
        const V r = detail::fused_fma(-q, V(c_), a);
        const V corrected = detail::fused_fma(r, V(y_), q);
        // a = inf gives q = inf and r = NaN: q is then the quotient. (isnan,
        // not r != r: xsimd compares AVX-512 batches with an ordered !=,
        // false for NaN.)
        if constexpr (is_scalar_v<V>) return std::isnan(r) ? q : corrected;
        else return xsimd::select(xsimd::isnan(r), q, corrected);
      }
    }
    return a / V(c_);
  }

 private:
  T c_, y_;
  bool multiply_;
};

}  // namespace ingot::simd
