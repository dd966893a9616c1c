#pragma once
// An 8 x 8 transpose of floats in eight AVX registers (unpack, shuffle,
// then a 128-bit lane permute: 24 shuffles for 64 values), used to pack a
// transposed GEMM operand with full-width loads and stores instead of one
// strided scalar load per value.
#if defined(__AVX__)
#include <immintrin.h>

#include <cstddef>

namespace ingot::simd::detail {

inline void transpose8x8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5, __m256& r6,
                         __m256& r7) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// out[k * ld_out + r] = src[r * ld_src + k] for r, k in [0, 8).
inline void transpose8x8(const float* src, std::size_t ld_src, float* out, std::size_t ld_out) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ld_src), r2 = _mm256_loadu_ps(src + 2 * ld_src),
         r3 = _mm256_loadu_ps(src + 3 * ld_src), r4 = _mm256_loadu_ps(src + 4 * ld_src),
         r5 = _mm256_loadu_ps(src + 5 * ld_src), r6 = _mm256_loadu_ps(src + 6 * ld_src),
         r7 = _mm256_loadu_ps(src + 7 * ld_src);
  transpose8x8(r0, r1, r2, r3, r4, r5, r6, r7);
  _mm256_storeu_ps(out, r0);
  _mm256_storeu_ps(out + ld_out, r1);
  _mm256_storeu_ps(out + 2 * ld_out, r2);
  _mm256_storeu_ps(out + 3 * ld_out, r3);
  _mm256_storeu_ps(out + 4 * ld_out, r4);
  _mm256_storeu_ps(out + 5 * ld_out, r5);
  _mm256_storeu_ps(out + 6 * ld_out, r6);
  _mm256_storeu_ps(out + 7 * ld_out, r7);
}

}  // namespace ingot::simd::detail
#endif
