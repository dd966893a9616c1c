#pragma once
// A multiply-add rounded once, where the target has the instruction.
// xsimd 8.1's fma is a generic a * b + c on AVX-512, which the compiler may
// or may not contract (g++ does at -O2; clang only with -ffp-contract=fast,
// and neither at -O0), so code whose bits must not depend on the build
// (Adam's exact division, the row groups of a narrow product) asks for the
// instruction here.
#include <cmath>
#include <type_traits>

#include "ingot/simd/math.hpp"

namespace ingot::simd {

namespace detail {
// Whether fused_fma below gives a b + c with one rounding on V, a float or
// a batch of floats (not xsimd's generic a * b + c, which the compiler may
// or may not contract).
template <class V>
inline constexpr bool has_fused_fma = [] {
  if constexpr (!std::is_same_v<scalar_of_t<V>, float>) return false;
  else if constexpr (is_scalar_v<V>) return true;  // std::fma rounds once
#if defined(__AVX512F__)
  else if constexpr (V::size == 16) return true;
#endif
#if defined(__FMA__)
  else if constexpr (V::size == 8) return true;
#endif
  else return false;
}();

// a b + c with one rounding, where has_fused_fma<V>.
template <class V>
inline V fused_fma(const V& a, const V& b, const V& c) {
  static_assert(has_fused_fma<V>);
  if constexpr (is_scalar_v<V>) return std::fma(a, b, c);
#if defined(__AVX512F__)
  else if constexpr (V::size == 16) return V(_mm512_fmadd_ps(a, b, c));
#endif
#if defined(__FMA__)
  else if constexpr (V::size == 8) return V(_mm256_fmadd_ps(a, b, c));
#endif
}

// a b + c rounded once where has_fused_fma<V>, else xsimd's (or std::fma's)
// a * b + c as the build compiles it.
template <class V>
inline V multiply_add(const V& a, const V& b, const V& c) {
  if constexpr (has_fused_fma<V>) return fused_fma(a, b, c);
  else return simd::fma(a, b, c);
}
}  // namespace detail

}  // namespace ingot::simd
