#pragma once
// Element-wise math that works on one scalar (the tail of a loop, or the
// scalar path) and on an xsimd batch (the body), so each op states its
// formula once. xsimd 8.1 spells the horizontal sum `hadd`; newer releases
// call it `reduce_add`: only `hsum` below knows which.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
// g++ 12 warns that the AVX-512 intrinsics' deliberately undefined
// registers (_mm512_undefined_*) are uninitialised once xsimd inlines them;
// the warning is about the compiler's own header, so it is silenced there.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__))
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <xsimd/xsimd.hpp>
#pragma GCC diagnostic pop
#else
#include <xsimd/xsimd.hpp>
#endif

namespace ingot::simd {

// The instruction set every ingot batch uses: xsimd's best for the target,
// except in an unoptimised g++ build for AVX-512BW. There g++ 12 defines
// _mm512_mask_blend_epi8/16 as macros that cast their arguments to vector
// types, which xsimd 8.1's integer select (reached from log and exp) cannot
// pass, so -O0 would not compile; avx512dq has the same 16-float registers
// and blends 32-bit lanes with an inline function instead.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__) && XSIMD_WITH_AVX512BW
using arch = xsimd::avx512dq;
#else
using arch = xsimd::default_arch;
#endif

template <class T>
using vec = xsimd::batch<T, arch>;

template <class T>
inline constexpr std::size_t width = vec<T>::size;

template <class V>
inline constexpr bool is_scalar_v = std::is_arithmetic_v<V>;

template <class V>
struct scalar_of { using type = V; };
template <class T, class A>
struct scalar_of<xsimd::batch<T, A>> { using type = T; };
template <class V>
using scalar_of_t = typename scalar_of<V>::type;

template <class V>
inline V load(const scalar_of_t<V>* p) {
  if constexpr (is_scalar_v<V>) return *p;
  else return V::load_unaligned(p);
}
template <class V>
inline void store(scalar_of_t<V>* p, const V& v) {
  if constexpr (is_scalar_v<V>) *p = v;
  else v.store_unaligned(p);
}
// Calls body.template operator()<V>(i) on each full SIMD batch of [0, n),
// then body.template operator()<T>(i) on each element of the tail.
// Always inlined: called out of line (clang 19 did so for Adam's pass), the
// body reads every value it captured by reference from memory again after
// each of its stores, which may alias them, and Adam's pass took 1.75x the
// time.
template <class T, class Body>
[[gnu::always_inline]] inline void for_each_batch(std::size_t n, Body&& body) {
  std::size_t i = 0;
  for (; i + width<T> <= n; i += width<T>) body.template operator()<vec<T>>(i);
  for (; i < n; ++i) body.template operator()<T>(i);
}

template <class T>
inline T hsum(const vec<T>& v) {
#if XSIMD_VERSION_MAJOR >= 9
  return xsimd::reduce_add(v);
#else
  return xsimd::hadd(v);
#endif
}
template <class T>
inline T hmax(const vec<T>& v) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16) return _mm512_reduce_max_ps(v);
  else if constexpr (std::is_same_v<T, double> && width<T> == 8) return _mm512_reduce_max_pd(v);
#endif
  alignas(64) T tmp[width<T>];
  v.store_aligned(tmp);
  T m = tmp[0];
  for (std::size_t i = 1; i < width<T>; ++i) m = tmp[i] > m ? tmp[i] : m;
  return m;
}

// The first n < width<T> values at p as a batch, the other lanes zero, and
// the store of a batch's first n lanes: the tail of a short row in one
// vector operation. AVX-512 and AVX2 mask the lanes (masked-off lanes are
// never touched, so reading past the row cannot fault); elsewhere the values
// go through a zeroed buffer. On AVX2 the buffer cost a failed store
// forwarding per tail (scalar stores read back as one vector): with it the
// seed step (two narrow products, a K = 10 tail per four rows and an N = 10
// tail per row of the batch) took 2.8 µs on a Zen 3, with the masks 0.5 µs.
namespace detail {
#if defined(__AVX2__)
// Lane i (of T's lanes) of the mask is all ones when i < n.
template <class T>
inline __m256i first_lanes_mask(std::size_t n) {
  const __m256i count = _mm256_set1_epi32(static_cast<int>(n));
  if constexpr (sizeof(T) == 4) return _mm256_cmpgt_epi32(count, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  else return _mm256_cmpgt_epi32(count, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
}
#endif
}  // namespace detail

template <class T>
inline vec<T> load_partial(const T* p, std::size_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p);
  } else if constexpr (std::is_same_v<T, double> && width<T> == 8) {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1u), p);
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> && width<T> == 8) {
    return _mm256_maskload_ps(p, detail::first_lanes_mask<T>(n));
  } else if constexpr (std::is_same_v<T, double> && width<T> == 4) {
    return _mm256_maskload_pd(p, detail::first_lanes_mask<T>(n));
  }
#endif
  alignas(64) T lanes[width<T>] = {};
  for (std::size_t k = 0; k < n; ++k) lanes[k] = p[k];
  return vec<T>::load_aligned(lanes);
}
// Whether a row's tail is best one masked batch: with AVX-512, for float.
// AVX2's vmaskmovps store is several times slower on AMD cores (64 rows of
// 10 logits took 2.2 us through masked tails against 1.4 us with scalar
// ones), and xsimd 8.1's exp of a double batch converts to integers one
// lane at a time (slow, and undefined for infinities under UBSan).
template <class T>
inline constexpr bool cheap_masked_tails =
#if defined(__AVX512F__)
    std::is_same_v<T, float>;
#else
    false;
#endif

// The first n lanes at p with the others set to fill (-inf for a row's
// maximum), and v with the lanes from n on set to zero: the tails of
// cheap_masked_tails, so masked for float with AVX-512, elsewhere through
// a buffer (correct, not fast).
template <class T>
inline vec<T> load_partial(const T* p, std::size_t n, T fill) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16)
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << n) - 1u), p);
#endif
  alignas(64) T lanes[width<T>];
  for (std::size_t k = 0; k < width<T>; ++k) lanes[k] = k < n ? p[k] : fill;
  return vec<T>::load_aligned(lanes);
}
template <class T>
inline vec<T> first_lanes(const vec<T>& v, std::size_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16)
    return _mm512_maskz_mov_ps(static_cast<__mmask16>((1u << n) - 1u), v);
#endif
  alignas(64) T lanes[width<T>];
  v.store_aligned(lanes);
  for (std::size_t k = n; k < width<T>; ++k) lanes[k] = T(0);
  return vec<T>::load_aligned(lanes);
}

template <class T>
inline void store_partial(T* p, const vec<T>& v, std::size_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
    return;
  } else if constexpr (std::is_same_v<T, double> && width<T> == 8) {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1u), v);
    return;
  }
#endif
#if defined(__AVX2__)
  if constexpr (std::is_same_v<T, float> && width<T> == 8) {
    _mm256_maskstore_ps(p, detail::first_lanes_mask<T>(n), v);
    return;
  } else if constexpr (std::is_same_v<T, double> && width<T> == 4) {
    _mm256_maskstore_pd(p, detail::first_lanes_mask<T>(n), v);
    return;
  }
#endif
  alignas(64) T lanes[width<T>];
  v.store_aligned(lanes);
  for (std::size_t k = 0; k < n; ++k) p[k] = lanes[k];
}

#define INGOT_UNARY_MATH(name, stdfn)                 \
  template <class V>                                  \
  inline V name(const V& x) {                         \
    if constexpr (is_scalar_v<V>) return std::stdfn(x); \
    else return xsimd::stdfn(x);                      \
  }
INGOT_UNARY_MATH(exp, exp)
INGOT_UNARY_MATH(log, log)
INGOT_UNARY_MATH(sqrt, sqrt)
INGOT_UNARY_MATH(tanh, tanh)
INGOT_UNARY_MATH(erf, erf)
INGOT_UNARY_MATH(log1p, log1p)
INGOT_UNARY_MATH(abs, abs)
#undef INGOT_UNARY_MATH

template <class V>
inline V max(const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return a > b ? a : b;
  else return xsimd::max(a, b);
}
template <class V>
inline V min(const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return a < b ? a : b;
  else return xsimd::min(a, b);
}
// where(|x| < limit, a, b), element-wise.
template <class V>
inline V where_below(const V& x, const V& limit, const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return x < limit ? a : b;
  else return xsimd::select(x < limit, a, b);
}
template <class V>
inline V fma(const V& a, const V& b, const V& c) {
  if constexpr (is_scalar_v<V>) return std::fma(a, b, c);
  else return xsimd::fma(a, b, c);
}
// where(x > 0, a, b), element-wise.
template <class V>
inline V where_positive(const V& x, const V& a, const V& b) {
  if constexpr (is_scalar_v<V>) return x > V(0) ? a : b;
  else return xsimd::select(x > V(0), a, b);
}
// where(idx == label, 1, 0) for the columns j, j+1, ... of one row.
template <class V>
inline V onehot_row(std::size_t j, std::int64_t label) {
  using T = scalar_of_t<V>;
  if constexpr (is_scalar_v<V>) return static_cast<std::int64_t>(j) == label ? T(1) : T(0);
  else {
    alignas(64) T lanes[V::size];
    for (std::size_t k = 0; k < V::size; ++k) lanes[k] = static_cast<std::int64_t>(j + k) == label ? T(1) : T(0);
    return V::load_aligned(lanes);
  }
}

}  // namespace ingot::simd
