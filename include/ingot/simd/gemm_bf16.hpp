#pragma once
// C = op(A) op(B) for float matrices with both operands rounded to bfloat16
// (nearest even) and each element's products summed in float: what
// simd::gemm runs when the matmul precision is bfloat16
// (core/matmul_precision.hpp) and the target has AVX-512 BF16.
//
// vdpbf16ps multiplies 16 pairs of bfloat16 values and adds both products
// to a float lane: a zmm instruction does 32 multiply-adds where a float
// FMA does 16, at the same rate (measured on this Zen 4, 233 GFLOP/s per
// core against 117). A lane n of an accumulator takes, per pair p of k,
// A[m][2p] B[2p][n] + A[m][2p+1] B[2p+1][n]: B is packed in panels of NR
// columns whose row p holds the NR pairs (B[2p][n], B[2p+1][n]) as dwords,
// and A is converted to row-major bfloat16, where (A[m][2p], A[m][2p+1]) is
// already one dword, broadcast from memory. An odd K gets a zero last pair.
//
// Each element of C is one chain over the pairs of a block of K (blocks of
// KC, fixed by K alone) and the blocks are added to C in order, so results
// do not depend on how rows and columns are dealt to threads.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "ingot/core/aligned.hpp"
#include "ingot/core/matmul_precision.hpp"
#include "ingot/core/prefetch.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/simd/tile_epilogue.hpp"

#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

namespace ingot::simd::bf16 {

// The bfloat16 nearest to x (ties to even), as vcvtneps2bf16 rounds: a NaN
// stays a NaN (made quiet), and a denormal float becomes a zero of its
// sign, since the instruction treats denormal inputs as zero. The reference
// of the tests.
inline std::uint16_t round_to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  if ((u & 0x7f800000u) == 0) return static_cast<std::uint16_t>((u >> 16) & 0x8000u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

inline float to_float(std::uint16_t h) {
  const std::uint32_t u = std::uint32_t{h} << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)

struct blocking {
  // 8 rows x 2 vectors of 16 floats: 16 accumulators, with a latency of 6
  // cycles and one vdpbf16ps per cycle, hide the chain's latency well;
  // per pair the tile loads two B vectors and broadcasts eight A dwords
  // (folded into the instruction).
  static constexpr std::size_t MR = 8;
  static constexpr std::size_t NR = 32;
  // K in blocks of up to KC values (even): a layer's K up to 2048 is one
  // block, so partial sums stay in registers rather than going through C.
  // A panel of B then holds NR x KC bfloat16, 128 KB at most (L2).
  static constexpr std::size_t KC = 2048;
};

// Products below this many multiply-adds run on one thread (as float
// products do; see gemm.hpp).
inline constexpr std::size_t parallel_min_fma = std::size_t{1} << 15;

namespace detail {

inline __mmask16 first_n(std::size_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }

// n <= 16 floats from p (the rest zero), as bfloat16.
inline __m256i convert16(const float* p, std::size_t n) {
  return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(first_n(n), p)));
}

// Rows ic.. ic+mc, values pc.. pc+kc of op(A) as row-major bfloat16, rows
// kp (kc rounded up to even) apart, the pad value and the rows up to a
// multiple of MR zero.
template <bool TA>
void pack_a(const float* a, std::size_t lda, std::size_t ic, std::size_t pc, std::size_t mc, std::size_t kc,
            std::uint16_t* out) {
  constexpr std::size_t MR = blocking::MR;
  const std::size_t kp = (kc + 1) / 2 * 2, rows = (mc + MR - 1) / MR * MR;
  if constexpr (!TA) {
    for (std::size_t m = 0; m < mc; ++m) {
      const float* src = a + (ic + m) * lda + pc;
      std::uint16_t* dst = out + m * kp;
      // Whole runs of 32 with plain loads and stores; the tail masked.
      std::size_t k = 0;
      for (; k + 32 <= kc; k += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + k + 16), _mm512_loadu_ps(src + k));
        _mm512_storeu_si512(dst + k, reinterpret_cast<__m512i>(v));
      }
      for (; k < kp; k += 16) {
        const std::size_t n = std::min<std::size_t>(16, kc - k);
        _mm256_mask_storeu_epi16(dst + k, first_n(std::min<std::size_t>(16, kp - k)), convert16(src + k, n));
      }
    }
  } else {
    // op(A)[m][k] = a[(pc + k) lda + ic + m]: each k gives mc contiguous
    // values, converted 16 at a time and written down a column.
    alignas(32) std::uint16_t t[16];
    for (std::size_t k = 0; k < kc; ++k) {
      for (std::size_t m0 = 0; m0 < mc; m0 += 16) {
        const std::size_t n = std::min<std::size_t>(16, mc - m0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), convert16(a + (pc + k) * lda + ic + m0, n));
        for (std::size_t i = 0; i < n; ++i) out[(m0 + i) * kp + k] = t[i];
      }
    }
    if (kp != kc)
      for (std::size_t m = 0; m < mc; ++m) out[m * kp + kc] = 0;
  }
  std::memset(out + mc * kp, 0, (rows - mc) * kp * sizeof(std::uint16_t));
}

// r[i] holds row i of a 16 x 16 matrix of dwords; afterwards r[i] holds
// column i. Dwords interleave within 128-bit lanes (two unpack steps make
// 4 x 4 blocks transposed in each lane), then whole lanes move.
inline void transpose_16x16_dwords(__m512i (&r)[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  // Lane L of u[4q + j] now holds column 4L + j of rows 4q .. 4q + 3.
  __m512i u[16];
  for (int q = 0; q < 16; q += 4) {
    u[q] = _mm512_unpacklo_epi64(t[q], t[q + 2]);
    u[q + 1] = _mm512_unpackhi_epi64(t[q], t[q + 2]);
    u[q + 2] = _mm512_unpacklo_epi64(t[q + 1], t[q + 3]);
    u[q + 3] = _mm512_unpackhi_epi64(t[q + 1], t[q + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
    const __m512i w0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
    const __m512i w1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
    r[j] = _mm512_shuffle_i32x4(v0, w0, 0x88);
    r[4 + j] = _mm512_shuffle_i32x4(v1, w1, 0x88);
    r[8 + j] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
    r[12 + j] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
  }
}

// Values pc.. pc+kc, columns jc.. jc+nc of op(B) as panels of NR columns:
// dword (p, n) of a panel is the pair (B[2p][n], B[2p+1][n]); columns past
// nc and an odd K's last half pair are zero.
template <bool TB>
void pack_b(const float* b, std::size_t ldb, std::size_t pc, std::size_t jc, std::size_t kc, std::size_t nc,
            std::uint32_t* out) {
  constexpr std::size_t NR = blocking::NR;
  const std::size_t pairs = (kc + 1) / 2;
  for (std::size_t j0 = 0; j0 < nc; j0 += NR) {
    std::uint32_t* panel = out + j0 * pairs;
    const std::size_t nr = std::min(NR, nc - j0);
    if constexpr (!TB) {
      // Rows 2p and 2p + 1 of B, 16 columns at a time: both converted into
      // one vector (words 0-15 and 16-31), then interleaved word by word.
      const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23,
                                                  7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      for (std::size_t p = 0; p < pairs; ++p) {
        const float* r0 = b + (pc + 2 * p) * ldb + jc + j0;
        const bool second = 2 * p + 1 < kc;
        for (std::size_t h = 0; h < NR; h += 16) {
          const std::size_t n = nr > h ? std::min<std::size_t>(16, nr - h) : 0;
          const __m512 lo = _mm512_maskz_loadu_ps(first_n(n), r0 + h);
          const __m512 hi = second ? _mm512_maskz_loadu_ps(first_n(n), r0 + ldb + h) : _mm512_setzero_ps();
          const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
          _mm512_storeu_si512(panel + p * NR + h, _mm512_permutexvar_epi16(interleave, both));
        }
      }
    } else {
      // Column n of B is row jc + n of b, so its pairs of k are adjacent:
      // 32 values of each of 16 columns convert to 16 rows of 16 pairs,
      // and a 16 x 16 transpose of those dwords gives 16 rows of the panel.
      for (std::size_t h = 0; h < NR; h += 16) {
        const std::size_t cols = nr > h ? std::min<std::size_t>(16, nr - h) : 0;
        for (std::size_t k = 0; k < kc; k += 32) {
          const std::size_t n0 = std::min<std::size_t>(16, kc - k);
          const std::size_t n1 = kc - k > 16 ? std::min<std::size_t>(16, kc - k - 16) : 0;
          __m512i rows[16];
          for (std::size_t n = 0; n < 16; ++n) {
            if (n >= cols) {
              rows[n] = _mm512_setzero_si512();
              continue;
            }
            const float* src = b + (jc + j0 + h + n) * ldb + pc + k;
            const __m512 lo = _mm512_maskz_loadu_ps(first_n(n0), src);
            const __m512 hi = _mm512_maskz_loadu_ps(first_n(n1), src + 16);
            rows[n] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
          }
          transpose_16x16_dwords(rows);
          const std::size_t count = std::min<std::size_t>(16, pairs - k / 2);
          for (std::size_t i = 0; i < count; ++i) _mm512_storeu_si512(panel + (k / 2 + i) * NR + h, rows[i]);
        }
      }
    }
  }
}

// C[0:mr, 0:nr] (=|+=) the MR rows of A (row-major bfloat16 pairs, lda
// dwords apart) x one packed panel of B, over `pairs` pairs of k. The rows
// of C are asked for, for writing, first: C larger than the caches (a
// layer's output over the test set) missed on every store, and the
// epilogue then read it back from memory (its bias + ReLU pass took 7% of
// inference over the test set on one thread, 2% with the request).
inline void micro_kernel(std::size_t pairs, const std::uint32_t* a, std::size_t lda, const std::uint32_t* b, float* c,
                         std::size_t ldc, std::size_t mr, std::size_t nr, bool accumulate) {
  constexpr std::size_t MR = blocking::MR, NR = blocking::NR;
  for (std::size_t r = 0; r < mr; ++r) {
    prefetch_for_write(c + r * ldc);
    prefetch_for_write(c + r * ldc + nr - 1);
  }
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (std::size_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + p * NR));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(b + p * NR + 16));
#pragma GCC unroll 8
    for (std::size_t r = 0; r < MR; ++r) {
      const __m512bh ar = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[r * lda + p])));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], ar, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], ar, b1);
    }
  }
  const __mmask16 m0 = first_n(nr), m1 = first_n(nr > 16 ? nr - 16 : 0);
  // Unrolled with a test per row, so that the accumulators stay in
  // registers (a loop to mr indexes them, and they went through the stack).
#pragma GCC unroll 8
  for (std::size_t r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* row = c + r * ldc;
    __m512 v0 = acc[r][0], v1 = acc[r][1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, row));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

// The blocked product on one thread. a_buf holds a_cap bfloat16 values,
// b_buf b_cap dwords (both 64-byte aligned).
template <bool TA, bool TB>
void gemm_serial(std::size_t M, std::size_t N, std::size_t K, const float* a, std::size_t lda, const float* b,
                 std::size_t ldb, float* c, std::size_t ldc, std::uint16_t* a_buf, std::size_t a_cap,
                 std::uint32_t* b_buf, std::size_t b_cap, const tile_epilogue& epilogue) {
  constexpr std::size_t MR = blocking::MR, NR = blocking::NR;
  // Block sizes follow from K alone (the longest block's kp).
  const std::size_t kp_max = (std::min(K, blocking::KC) + 1) / 2 * 2;
  const std::size_t nc_block = std::max(NR, b_cap / (kp_max / 2) / NR * NR);
  const std::size_t mc_block = std::max(MR, std::min<std::size_t>(256, a_cap / kp_max / MR * MR));
  for (std::size_t jc = 0; jc < N; jc += nc_block) {
    const std::size_t nc = std::min(nc_block, N - jc);
    for (std::size_t pc = 0; pc < K; pc += blocking::KC) {
      const std::size_t kc = std::min(blocking::KC, K - pc), pairs = (kc + 1) / 2;
      const bool last_k = pc + kc == K;
      pack_b<TB>(b, ldb, pc, jc, kc, nc, b_buf);
      for (std::size_t ic = 0; ic < M; ic += mc_block) {
        const std::size_t mc = std::min(mc_block, M - ic);
        pack_a<TA>(a, lda, ic, pc, mc, kc, a_buf);
        const auto* pa = reinterpret_cast<const std::uint32_t*>(a_buf);
        for (std::size_t jr = 0; jr < nc; jr += NR) {
          const std::size_t nr = std::min(NR, nc - jr);
          for (std::size_t ir = 0; ir < mc; ir += MR) {
            const std::size_t mr = std::min(MR, mc - ir);
            micro_kernel(pairs, pa + ir * pairs, pairs, b_buf + jr * pairs, c + (ic + ir) * ldc + jc + jr, ldc, mr,
                         nr, pc != 0);
            if (last_k) epilogue(ic + ir, jc + jr, mr, nr);
          }
        }
      }
    }
  }
}
}  // namespace detail

// C[M x N] = op(A) op(B) with bfloat16 operands, on the pool's threads:
// whole tiles of MR rows when the product is tall (M > 2N, or fewer
// column panels than threads), whole panels of NR columns otherwise. The
// buffers hold a_size and b_size floats; workers use their own.
template <bool TA, bool TB>
void gemm(std::size_t M, std::size_t N, std::size_t K, const float* a, std::size_t lda, const float* b,
          std::size_t ldb, float* c, std::size_t ldc, float* pack_a, std::size_t a_size, float* pack_b,
          std::size_t b_size, tile_epilogue epilogue) {
  constexpr std::size_t MR = blocking::MR, NR = blocking::NR;
  thread_pool& threads = pool();
  const std::size_t panels = (N + NR - 1) / NR, tiles = (M + MR - 1) / MR;
  const bool split_rows = M > 2 * N || (panels < threads.size() && tiles > panels);
  const std::size_t split = std::min(threads.size(), split_rows ? tiles : panels);
  auto run = [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1, float* pa, float* pb) {
    tile_epilogue e = epilogue;
    e.row_offset += i0;
    e.col_offset += j0;
    detail::gemm_serial<TA, TB>(i1 - i0, j1 - j0, K, TA ? a + i0 : a + i0 * lda, lda, TB ? b + j0 * ldb : b + j0,
                                ldb, c + i0 * ldc + j0, ldc, reinterpret_cast<std::uint16_t*>(pa), 2 * a_size,
                                reinterpret_cast<std::uint32_t*>(pb), b_size, e);
  };
  if (split < 2 || M * N * K < parallel_min_fma) {
    run(0, M, 0, N, pack_a, pack_b);
    return;
  }
  threads.run([&](std::size_t t, std::size_t n) {
    const std::size_t parts = std::min(split, n);
    if (t >= parts) return;
    float* pa = pack_a;
    float* pb = pack_b;
    if (t != 0) {
      thread_local aligned_buffer<float> own_a, own_b;
      if (own_a.size() < a_size) own_a = aligned_buffer<float>(a_size);
      if (own_b.size() < b_size) own_b = aligned_buffer<float>(b_size);
      pa = own_a.data();
      pb = own_b.data();
    }
    if (split_rows) {
      const thread_range r = share(M, t, parts, MR);
      if (r.begin < r.end) run(r.begin, r.end, 0, N, pa, pb);
    } else {
      const thread_range r = share(N, t, parts, NR);
      if (r.begin < r.end) run(0, M, r.begin, r.end, pa, pb);
    }
  });
}

#endif

}  // namespace ingot::simd::bf16
