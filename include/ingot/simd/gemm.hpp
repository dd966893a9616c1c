#pragma once
// C = op(A) op(B) with packed operands and a register-blocked xsimd
// micro-kernel, plus an epilogue called on each finished tile of C while it
// is still in L1 (bias + activation of a layer run there).
//
// Blocking: the micro-kernel holds an MR x NR tile of C in registers
// (6 rows x 2 vectors: 12 accumulators, 2 B vectors and 1 broadcast A value
// fit the 16 AVX2 registers). K is cut in blocks of KC so a packed B panel
// stays in L1/L2; rows in blocks of MC so the block of A (packed when A is
// transposed, read in place when not) stays in L2.
#include <algorithm>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "ingot/core/aligned.hpp"
#include "ingot/core/config.hpp"
#include "ingot/core/prefetch.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/simd/fma.hpp"
#include "ingot/simd/gemm_bf16.hpp"
#include "ingot/simd/math.hpp"
#include "ingot/simd/tile_epilogue.hpp"
#include "ingot/simd/transpose.hpp"

namespace ingot::simd {

template <class T>
struct gemm_blocking {
  static constexpr std::size_t W = width<T>;
  static constexpr std::size_t MR = 6;
  static constexpr std::size_t NR = 2 * W;
  static constexpr std::size_t KC = 256;
  static constexpr std::size_t MC = 72;  // multiple of MR
  static constexpr std::size_t NC = 512 / NR * NR;
  static constexpr std::size_t pack_a_size = MC * KC;
  // Twice a block of NC x KC: a product that takes all of K as one block
  // (up to 8 KC) packs fewer columns at a time, and over many rows each
  // block of columns reads A again. The 10,000 test images' forward
  // 784 -> 256 (320 columns per block instead of 160): inference 0.97x the
  // time on one and two threads, alternated; other shapes level.
  static constexpr std::size_t pack_b_size = 2 * NC * KC;
};

namespace detail {
// Element (m, k) of op(A), where A is stored row-major with leading dim lda.
template <bool Trans, class T>
inline T at(const T* a, std::size_t lda, std::size_t m, std::size_t k) {
  return Trans ? a[k * lda + m] : a[m * lda + k];
}

// Packs op(A)[ic:ic+mc, pc:pc+kc] as panels of MR rows, k-major inside a
// panel, zero-padding the last panel.
template <bool TA, class T>
void pack_a(const T* a, std::size_t lda, std::size_t ic, std::size_t pc, std::size_t mc, std::size_t kc, T* out) {
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  if constexpr (TA) {
    // op(A) = A^T (dY^T in a weight gradient): row k of A holds the mc
    // values of every panel at k, so each row is read once, front to back,
    // and dealt out to the panels. Panel by panel instead read MR values
    // from each of kc rows in turn; with rows a power of two apart (a
    // 256-wide layer) those rows fall into a few L1 sets and were fetched
    // again for every panel (5% of the product).
    const std::size_t full = mc / MR * MR;
    for (std::size_t k = 0; k < kc; ++k) {
      const T* src = a + (pc + k) * lda + ic;
      T* dst = out + k * MR;
      // A fixed-size copy: two moves (16 + 8 bytes) per panel, not six.
      for (std::size_t ir = 0; ir < full; ir += MR, dst += MR * kc) std::memcpy(dst, src + ir, MR * sizeof(T));
      if (full < mc) {
        const std::size_t mr = mc - full;
#pragma GCC unroll 8
        for (std::size_t r = 0; r < MR; ++r) dst[r] = r < mr ? src[full + r] : T(0);
      }
    }
    return;
  }
  for (std::size_t ir = 0; ir < mc; ir += MR) {
    const std::size_t mr = std::min(MR, mc - ir);
    for (std::size_t k = 0; k < kc; ++k) {
      // Zero the whole panel row first: fixed-size stores, where a loop
      // from mr to MR would become a memset call per row.
      if (mr < MR) {
#pragma GCC unroll 8
        for (std::size_t r = 0; r < MR; ++r) out[r] = T(0);
      }
      for (std::size_t r = 0; r < mr; ++r) out[r] = at<TA>(a, lda, ic + ir + r, pc + k);
      out += MR;
    }
  }
}

// The rows of B's next panel that one tile asks the caches for while it
// runs: B read in place is fetched from memory by the panel's first tile
// unless the tiles before it have asked for it, so each of the previous
// panel's tiles asks for its share of the rows, spread over its k loop.
template <class T>
struct b_prefetch {
  const T* rows = nullptr;  // the first row this tile asks for
  std::size_t count = 0;    // how many rows, ld apart
};

// Copies one full panel of a row-major B (kc rows, NR columns, ldb apart)
// into out as pack_b lays it out, and asks L2 for the next panel's rows
// meanwhile (next: the first row and how many).
template <class T>
inline void pack_panel(const T* b, std::size_t ldb, std::size_t kc, T* out, b_prefetch<T> next) {
  constexpr std::size_t W = width<T>;
  for (std::size_t k = 0; k < kc; ++k) {
    if (k < next.count) {
      prefetch_to_l2(next.rows + k * ldb);
      prefetch_to_l2(next.rows + k * ldb + W);
    }
    simd::store(out + k * 2 * W, simd::load<vec<T>>(b + k * ldb));
    simd::store(out + k * 2 * W + W, simd::load<vec<T>>(b + k * ldb + W));
  }
}

// Packs op(B)[pc:pc+kc, jc:jc+nc] as panels of NR columns, k-major inside a
// panel, zero-padding the last panel.
template <bool TB, class T>
void pack_b(const T* b, std::size_t ldb, std::size_t pc, std::size_t jc, std::size_t kc, std::size_t nc, T* out) {
  constexpr std::size_t NR = gemm_blocking<T>::NR;
  for (std::size_t jr = 0; jr < nc; jr += NR) {
    const std::size_t nr = std::min(NR, nc - jr);
#if defined(__AVX__)
    // A full panel of a transposed operand (a layer's weight in the forward
    // product): 8 x 8 register transposes, 8 rows of B's storage at a time.
    // This replaced a strided scalar load per value: packing a 256 x 784
    // weight went from 41 to 28 us, a 128 x 784 one from 19 to 11 us, and
    // the MLP epoch from 0.951 to 0.927 s.
    if constexpr (TB && std::is_same_v<T, float> && NR % 8 == 0) {
      if (nr == NR) {
        const std::size_t k8 = kc / 8 * 8;
        for (std::size_t c = 0; c < NR; c += 8) {
          const T* src = b + (jc + jr + c) * ldb + pc;
          for (std::size_t k = 0; k < k8; k += 8) transpose8x8(src + k, ldb, out + k * NR + c, NR);
          for (std::size_t k = k8; k < kc; ++k)
            for (std::size_t r = 0; r < 8; ++r) out[k * NR + c + r] = src[r * ldb + k];
        }
        out += kc * NR;
        continue;
      }
    }
#endif
    if (!TB && nr == NR) {
      pack_panel(b + pc * ldb + jc + jr, ldb, kc, out, b_prefetch<T>{});
      out += kc * NR;
      continue;
    }
    for (std::size_t k = 0; k < kc; ++k) {
      if (nr < NR) {
        simd::store(out, vec<T>(T(0)));
        simd::store(out + width<T>, vec<T>(T(0)));
      }
      for (std::size_t c = 0; c < nr; ++c) out[c] = at<TB>(b, ldb, pc + k, jc + jr + c);
      out += NR;
    }
  }
}

// Stores an MR x NR register tile of C' = C^T (rows r, columns j) into C:
// element (r, j) goes to c[j * ldc + r], the first mr of each of the first
// nr rows of C. Floats are turned round in 8 x 8 register transposes (MR = 6
// rows plus two zero rows), so each row of C gets its mr values in one or
// two stores; other types go through a tile in memory.
template <class T>
[[gnu::always_inline]] inline void store_transposed(const vec<T>* acc0, const vec<T>* acc1, T* c, std::size_t ldc,
                                                    std::size_t mr, std::size_t nr, bool accumulate) {
  using V = vec<T>;
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  constexpr std::size_t W = width<T>;
#if defined(__AVX__)
  if constexpr (std::is_same_v<T, float> && MR <= 8 && (W == 8 || W == 16)) {
    // 8 columns of the tile at a time: eight 256-bit registers, rows past MR zero.
    auto eight_columns = [&](auto column_of_row, std::size_t j0) {
      if (j0 >= nr) return;
      __m256 r[8];
      for (std::size_t i = 0; i < 8; ++i) r[i] = i < MR ? column_of_row(i) : _mm256_setzero_ps();
      transpose8x8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
      const std::size_t n = std::min<std::size_t>(8, nr - j0);
      for (std::size_t j = 0; j < n; ++j) {
        T* row = c + (j0 + j) * ldc;
        if (MR == 6 && mr == 6) {
          // Four and two values: plain stores (a masked store is slow on
          // some cores, and this runs once per row of C per tile).
          __m128 lo = _mm256_castps256_ps128(r[j]), hi = _mm256_extractf128_ps(r[j], 1);
          if (accumulate) {
            lo = _mm_add_ps(lo, _mm_loadu_ps(row));
            hi = _mm_add_ps(hi, _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(row + 4))));
          }
          _mm_storeu_ps(row, lo);
          _mm_store_sd(reinterpret_cast<double*>(row + 4), _mm_castps_pd(hi));
          continue;
        }
        V v;
        if constexpr (W == 8) v = V(r[j]);
        else v = V(_mm512_castps256_ps512(r[j]));
        if (accumulate) v = v + load_partial(row, mr);
        store_partial(row, v, mr);
      }
    };
    if constexpr (W == 8) {
      eight_columns([&](std::size_t i) { return __m256(acc0[i]); }, 0);
      eight_columns([&](std::size_t i) { return __m256(acc1[i]); }, 8);
    } else {
      auto half = [](const V& v, int h) {
        return h == 0 ? _mm512_castps512_ps256(v)
                      : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
      };
      eight_columns([&](std::size_t i) { return half(acc0[i], 0); }, 0);
      eight_columns([&](std::size_t i) { return half(acc0[i], 1); }, 8);
      eight_columns([&](std::size_t i) { return half(acc1[i], 0); }, 16);
      eight_columns([&](std::size_t i) { return half(acc1[i], 1); }, 24);
    }
    return;
  }
#endif
  alignas(64) T tile[MR][2 * W];
  for (std::size_t r = 0; r < mr; ++r) {
    acc0[r].store_aligned(tile[r]);
    acc1[r].store_aligned(tile[r] + W);
  }
  for (std::size_t j = 0; j < nr; ++j) {
    T* row = c + j * ldc;
    for (std::size_t r = 0; r < mr; ++r) row[r] = accumulate ? row[r] + tile[r][j] : tile[r][j];
  }
}

// Stores (or adds) the first mr rows and nr columns of an MR x NR register
// tile into C. Always inlined, as store_transposed is: clang 19 called it
// out of line, so every tile's accumulators went through the stack, and a
// weight gradient (K = 64: little work per tile) took 1.10x the time.
template <class T>
[[gnu::always_inline]] inline void store_tile(const vec<T>* acc0, const vec<T>* acc1, T* c, std::size_t ldc,
                                              std::size_t mr, std::size_t nr, bool accumulate) {
  using V = vec<T>;
  constexpr std::size_t W = width<T>;
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  // Loops over all MR rows with a test, fully unrolled: each accumulator is
  // then named by a constant index and stays in its register. A loop to the
  // run-time mr indexes the arrays, which puts the whole tile on the stack
  // (twelve stores and loads per tile, 6-10% of a product whose K is a
  // batch of 64).
  if (nr == 2 * W) {
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r) {
      if (r >= mr) continue;
      T* row = c + r * ldc;
      if (accumulate) {
        (acc0[r] + V::load_unaligned(row)).store_unaligned(row);
        (acc1[r] + V::load_unaligned(row + W)).store_unaligned(row + W);
      } else {
        acc0[r].store_unaligned(row);
        acc1[r].store_unaligned(row + W);
      }
    }
    return;
  }
  alignas(64) T tile[2 * W];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < MR; ++r) {
    if (r >= mr) continue;
    acc0[r].store_aligned(tile);
    acc1[r].store_aligned(tile + W);
    T* row = c + r * ldc;
    for (std::size_t j = 0; j < nr; ++j) row[j] = accumulate ? row[j] + tile[j] : tile[j];
  }
}

// Asks for the rows of C an MR-row tile will write (for writing) before the
// FMAs run: a C larger than the caches (the weight gradient of a wide layer)
// would otherwise miss on every row at the final stores, and the full store
// queue would stall the next tile. Measured one thread, dW = dY^T X at batch
// 64: 2048 x 2048 0.69-0.71x the time, 1024 x 1024 0.74-0.83x, no change
// where C fits in L2.
template <class T>
inline void prefetch_tile_for_write(T* c, std::size_t ldc, std::size_t mr) {
  for (std::size_t r = 0; r < mr; ++r) {
    prefetch_for_write(c + r * ldc);
    prefetch_for_write(c + r * ldc + width<T>);
  }
}

// Calls f.template operator()<mr>() for a tile of mr rows, 1 <= mr <= MR.
// A tile of fewer than MR rows (the last of a batch of 64: 10 x 6 + 4)
// runs only its own rows' multiply-adds: with all MR rows, the padding rows
// cost as much as real ones, and a thread's last tile of a split product
// was often a short one (128 rows are 21 tiles and 2 rows). Each element is
// the same chain over k in every variant, so results do not depend on which
// tile a row falls in.
template <class T, class F>
inline void with_tile_rows(std::size_t mr, F&& f) {
  static_assert(gemm_blocking<T>::MR == 6);
  switch (mr) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 3: return f.template operator()<3>();
    case 4: return f.template operator()<4>();
    case 5: return f.template operator()<5>();
    default: return f.template operator()<6>();
  }
}

// C[0:mr, 0:NR] (=|+=) A (row-major, read in place) x B (row-major, read in
// place: kc rows ldb apart, a full panel of NR columns). Same sums in the
// same order as the packed micro-kernel; the difference is where B's rows
// come from.
template <std::size_t Rows, class T>
inline void micro_kernel_b_in_place_rows(std::size_t kc, const T* pa, std::size_t lda, const T* pb, std::size_t ldb,
                                         T* c, std::size_t ldc, bool accumulate, b_prefetch<T> next) {
  using V = vec<T>;
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  constexpr std::size_t W = width<T>;
  prefetch_tile_for_write(c, ldc, Rows);
  V acc0[MR], acc1[MR];
  for (std::size_t r = 0; r < MR; ++r) acc0[r] = acc1[r] = V(T(0));
  const T* row[Rows];
  for (std::size_t r = 0; r < Rows; ++r) row[r] = pa + r * lda;
  // next.count rows over kc iterations: one every kc / count, by a running credit.
  std::size_t credit = 0;
  for (std::size_t k = 0; k < kc; ++k) {
    credit += next.count;
    if (credit >= kc) {
      credit -= kc;
      __builtin_prefetch(next.rows);
      __builtin_prefetch(next.rows + W);
      next.rows += ldb;
    }
    const V b0 = V::load_unaligned(pb);
    const V b1 = V::load_unaligned(pb + W);
#pragma GCC unroll 6
    for (std::size_t r = 0; r < Rows; ++r) {
      const V a(row[r][k]);
      acc0[r] = xsimd::fma(a, b0, acc0[r]);
      acc1[r] = xsimd::fma(a, b1, acc1[r]);
    }
    pb += ldb;
  }
  store_tile(acc0, acc1, c, ldc, Rows, 2 * W, accumulate);
}

template <class T>
inline void micro_kernel_b_in_place(std::size_t kc, const T* pa, std::size_t lda, const T* pb, std::size_t ldb, T* c,
                                    std::size_t ldc, std::size_t mr, bool accumulate, b_prefetch<T> next) {
  with_tile_rows<T>(mr, [&]<std::size_t Rows>() {
    micro_kernel_b_in_place_rows<Rows>(kc, pa, lda, pb, ldb, c, ldc, accumulate, next);
  });
}

// C[0:mr, 0:nr] (=|+=) A panel x packed B panel over kc (TransC: the tile
// is of C^T and is stored turned round). The A panel is either packed
// (PackedA: MR values per k, contiguous) or read in place from a row-major A
// (lda apart, only the tile's own rows read): each value
// is broadcast from memory once per k either way, and reading in place saves
// packing A, which cost as much as a third of a large forward product (every
// row of A packed again by every thread).
//
// Never inlined: inlined into a large caller (a convolution's weight
// gradient calling gemm_blocked directly) its tile went to the stack, and
// that product took 1.2x the time.
template <bool PackedA, bool TransC, std::size_t Rows, class T>
[[gnu::noinline]] inline void micro_kernel_rows(std::size_t kc, const T* pa, std::size_t lda, const T* pb, T* c,
                                              std::size_t ldc, std::size_t nr, bool accumulate) {
  using V = vec<T>;
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  constexpr std::size_t W = width<T>;
  constexpr std::size_t mr = Rows;
  if constexpr (!TransC) prefetch_tile_for_write(c, ldc, mr);
  V acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < MR; ++r) acc0[r] = acc1[r] = V(T(0));
  if constexpr (PackedA) {
    (void)lda;
    for (std::size_t k = 0; k < kc; ++k) {
      const V b0 = V::load_aligned(pb);
      const V b1 = V::load_aligned(pb + W);
#pragma GCC unroll 6
      for (std::size_t r = 0; r < Rows; ++r) {
        const V a(pa[r]);
        acc0[r] = xsimd::fma(a, b0, acc0[r]);
        acc1[r] = xsimd::fma(a, b1, acc1[r]);
      }
      pa += MR;
      pb += 2 * W;
    }
  } else {
    const T* row[Rows];
    for (std::size_t r = 0; r < Rows; ++r) row[r] = pa + r * lda;
    constexpr std::size_t KC = gemm_blocking<T>::KC;
    if (kc <= KC) {
      // One chain straight into the tile's registers. Through the chain
      // helper below, the tile went to the stack and back around the loop
      // (24 stores and 24 loads per tile), which doubled the time of a
      // first convolution's product (K = 9).
      for (std::size_t k = 0; k < kc; ++k) {
        const V b0 = V::load_aligned(pb);
        const V b1 = V::load_aligned(pb + W);
#pragma GCC unroll 6
        for (std::size_t r = 0; r < Rows; ++r) {
          const V a(row[r][k]);
          acc0[r] = xsimd::fma(a, b0, acc0[r]);
          acc1[r] = xsimd::fma(a, b1, acc1[r]);
        }
        pb += 2 * W;
      }
    } else {
      // A K block longer than KC is summed as blocks of KC are: a fresh
      // chain per KC, each added to the total in order, so that every
      // element is the same float either way. The total waits in memory;
      // the chains need the registers. Each chain sums into its own copy of
      // the tile: clang kept the lambda's captured accumulators in memory,
      // a store per multiply-add.
      auto chain = [&](std::size_t k0, std::size_t k1) {
        V c0[Rows], c1[Rows];
        for (std::size_t r = 0; r < Rows; ++r) c0[r] = c1[r] = V(T(0));
        for (std::size_t k = k0; k < k1; ++k) {
          const V b0 = V::load_aligned(pb);
          const V b1 = V::load_aligned(pb + W);
#pragma GCC unroll 6
          for (std::size_t r = 0; r < Rows; ++r) {
            const V a(row[r][k]);
            c0[r] = xsimd::fma(a, b0, c0[r]);
            c1[r] = xsimd::fma(a, b1, c1[r]);
          }
          pb += 2 * W;
        }
        for (std::size_t r = 0; r < Rows; ++r) {
          acc0[r] = k0 == 0 ? c0[r] : acc0[r] + c0[r];
          acc1[r] = k0 == 0 ? c1[r] : acc1[r] + c1[r];
        }
      };
      for (std::size_t k0 = 0; k0 < kc; k0 += KC) chain(k0, std::min(kc, k0 + KC));
    }
  }
  if constexpr (TransC) store_transposed(acc0, acc1, c, ldc, mr, nr, accumulate);
  else store_tile(acc0, acc1, c, ldc, mr, nr, accumulate);
}

template <bool PackedA, bool TransC, class T>
inline void micro_kernel(std::size_t kc, const T* pa, std::size_t lda, const T* pb, T* c, std::size_t ldc,
                         std::size_t mr, std::size_t nr, bool accumulate) {
  with_tile_rows<T>(mr, [&]<std::size_t Rows>() {
    micro_kernel_rows<PackedA, TransC, Rows>(kc, pa, lda, pb, c, ldc, nr, accumulate);
  });
}
}  // namespace detail


namespace detail {
// Rows of C computed by the direct path before their epilogue runs: the
// block stays in L1 (64 rows of at most 31 floats).
inline constexpr std::size_t narrow_block_rows = 64;

// The horizontal sums of four vectors. With AVX-512 floats each vector is
// folded to 128 bits and two rounds of hadd finish all four together, about
// half the work of four separate reductions. Every caller reduces this way,
// a single vector included, so a sum does not depend on how rows were
// grouped.
template <class T>
inline void hsum4(const vec<T>& v0, const vec<T>& v1, const vec<T>& v2, const vec<T>& v3, T* out) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && width<T> == 16) {
    auto fold = [](__m512 v) {
      const __m256 lo = _mm512_castps512_ps256(v);
      const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
      const __m256 h = _mm256_add_ps(lo, hi);
      return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    };
    const __m128 s = _mm_hadd_ps(_mm_hadd_ps(fold(v0), fold(v1)), _mm_hadd_ps(fold(v2), fold(v3)));
    _mm_storeu_ps(out, s);
    return;
  }
#endif
  out[0] = hsum(v0);
  out[1] = hsum(v1);
  out[2] = hsum(v2);
  out[3] = hsum(v3);
}

// C[i0:i0+R, j] = A[i0:i0+R, :] . B[j, :] for R rows at once: the rows
// share each load of B's row, keep R independent accumulators, and a K
// tail shorter than a vector is one masked load (K = 10 in a regression
// head would otherwise be ten dependent scalar FMAs per element). The
// multiply-adds are rounded once (multiply_add), as dot_rows16's are, so
// that row groups of 16, 4 and 1 sum alike in every build.
template <std::size_t R, class T>
inline void dot_rows(const T* a, std::size_t lda, const T* bj, std::size_t K, T* c, std::size_t ldc) {
  static_assert(R == 1 || R == 4);
  using V = vec<T>;
  constexpr std::size_t W = width<T>;
  const T* a0 = a;
  const T* a1 = a + (R == 4 ? lda : 0);
  const T* a2 = a + (R == 4 ? 2 * lda : 0);
  const T* a3 = a + (R == 4 ? 3 * lda : 0);
  V acc0(T(0)), acc1(T(0)), acc2(T(0)), acc3(T(0));
  std::size_t k = 0;
  for (; k + W <= K; k += W) {
    const V b = V::load_unaligned(bj + k);
    acc0 = multiply_add(V::load_unaligned(a0 + k), b, acc0);
    if constexpr (R == 4) {
      acc1 = multiply_add(V::load_unaligned(a1 + k), b, acc1);
      acc2 = multiply_add(V::load_unaligned(a2 + k), b, acc2);
      acc3 = multiply_add(V::load_unaligned(a3 + k), b, acc3);
    }
  }
  if (k < K) {
    const V b = load_partial(bj + k, K - k);
    acc0 = multiply_add(load_partial(a0 + k, K - k), b, acc0);
    if constexpr (R == 4) {
      acc1 = multiply_add(load_partial(a1 + k, K - k), b, acc1);
      acc2 = multiply_add(load_partial(a2 + k, K - k), b, acc2);
      acc3 = multiply_add(load_partial(a3 + k, K - k), b, acc3);
    }
  }
  T sums[4];
  if constexpr (R == 4) {
    hsum4(acc0, acc1, acc2, acc3, sums);
    c[0] = sums[0];
    c[ldc] = sums[1];
    c[2 * ldc] = sums[2];
    c[3 * ldc] = sums[3];
  } else {
    hsum4(acc0, acc0, acc0, acc0, sums);
    c[0] = sums[0];
  }
}

#if defined(__AVX512F__)
// C[i0 + r, j] = A[i0 + r, :] . B[j, :] for 16 rows at once (AVX-512
// floats). The 16 sums are reduced together, each row by hsum4's tree in
// the same association (lanes i and i+8, then i and i+4, then neighbours,
// then pairs), so every element is the float that dot_rows gives; the
// shuffles of one round serve two rows, where hsum4 spends a fold on each
// row and leaves its four sums in one register to be stored one by one.
inline void dot_rows16(const float* a, std::size_t lda, const float* bj, std::size_t K, float* c, std::size_t ldc) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < 16; ++r) acc[r] = _mm512_setzero_ps();
  std::size_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 b = _mm512_loadu_ps(bj + k);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < 16; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(a + r * lda + k), b, acc[r]);
  }
  if (k < K) {
    const __mmask16 m = static_cast<__mmask16>((1u << (K - k)) - 1u);
    const __m512 b = _mm512_maskz_loadu_ps(m, bj + k);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < 16; ++r) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + r * lda + k), b, acc[r]);
  }
  // Lanes i + lanes i+8: rows 2p (low half) and 2p+1 (high half).
  __m512 w[8];
#pragma GCC unroll 8
  for (std::size_t p = 0; p < 8; ++p)
    w[p] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], 0x44),
                         _mm512_shuffle_f32x4(acc[2 * p], acc[2 * p + 1], 0xEE));
  // Lanes i + lanes i+4: 128-bit lane L of x[q] holds row 4q + L.
  __m512 x[4];
#pragma GCC unroll 4
  for (std::size_t q = 0; q < 4; ++q)
    x[q] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], 0x88),
                         _mm512_shuffle_f32x4(w[2 * q], w[2 * q + 1], 0xDD));
  // Neighbours, then pairs of neighbours (hadd twice).
  const __m512 y0 = _mm512_add_ps(_mm512_shuffle_ps(x[0], x[1], 0x88), _mm512_shuffle_ps(x[0], x[1], 0xDD));
  const __m512 y1 = _mm512_add_ps(_mm512_shuffle_ps(x[2], x[3], 0x88), _mm512_shuffle_ps(x[2], x[3], 0xDD));
  const __m512 z = _mm512_add_ps(_mm512_shuffle_ps(y0, y1, 0x88), _mm512_shuffle_ps(y0, y1, 0xDD));
  // Element e of 128-bit lane L is row 4e + L: put the rows in order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512 sums = _mm512_permutexvar_ps(order, z);
  if (ldc == 1) {
    _mm512_storeu_ps(c, sums);
  } else {
    alignas(64) float out[16];
    _mm512_store_ps(out, sums);
    for (std::size_t r = 0; r < 16; ++r) c[r * ldc] = out[r];
  }
}
#endif

// A product narrower than one register tile (N < NR, the last layer of a
// classifier, a regression head): packing would pad every row of B to NR
// columns and waste most of the tile, so C is computed directly from
// contiguous rows, in blocks of rows that each get their epilogue while in
// L1. Each element's sum has one fixed order, whatever the blocking.
template <bool TA, bool TB, class T>
void narrow_gemm(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b,
                 std::size_t ldb, T* c, std::size_t ldc, const tile_epilogue& epilogue) {
  using V = vec<T>;
  constexpr std::size_t W = width<T>;
  for (std::size_t i0 = 0; i0 < M; i0 += narrow_block_rows) {
    const std::size_t i1 = std::min(M, i0 + narrow_block_rows);
    if constexpr (!TA && TB) {
      // C[i, j] = A[i, :] . B[j, :], four rows at a time.
      std::size_t i = i0;
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float> && W == 16) {
        for (; i + 16 <= i1; i += 16)
          for (std::size_t j = 0; j < N; ++j) dot_rows16(a + i * lda, lda, b + j * ldb, K, c + i * ldc + j, ldc);
      }
#endif
      for (; i + 4 <= i1; i += 4)
        for (std::size_t j = 0; j < N; ++j) dot_rows<4>(a + i * lda, lda, b + j * ldb, K, c + i * ldc + j, ldc);
      for (; i < i1; ++i)
        for (std::size_t j = 0; j < N; ++j) dot_rows<1>(a + i * lda, lda, b + j * ldb, K, c + i * ldc + j, ldc);
    } else if constexpr (!TB) {
      // C[i, :] = sum_k op(A)[i, k] B[k, :]: the row of C stays in registers
      // (N < NR: at most two vectors, the second one masked), summed in four
      // interleaved chains over k so that the FMA latency does not serialise
      // a long K (the weight gradient of a narrow layer sums over the batch).
      for (std::size_t i = i0; i < i1; ++i) {
        for (std::size_t j = 0; j < N; j += W) {
          const std::size_t n = std::min(W, N - j);
          auto row = [&](std::size_t k) { return n == W ? V::load_unaligned(b + k * ldb + j) : load_partial(b + k * ldb + j, n); };
          V acc[4] = {V(T(0)), V(T(0)), V(T(0)), V(T(0))};
          std::size_t k = 0;
          for (; k + 4 <= K; k += 4)
            for (std::size_t u = 0; u < 4; ++u) acc[u] = xsimd::fma(V(at<TA>(a, lda, i, k + u)), row(k + u), acc[u]);
          for (; k < K; ++k) acc[0] = xsimd::fma(V(at<TA>(a, lda, i, k)), row(k), acc[0]);
          const V sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
          if (n == W) sum.store_unaligned(c + i * ldc + j);
          else store_partial(c + i * ldc + j, sum, n);
        }
      }
    } else {
      for (std::size_t i = i0; i < i1; ++i)
        for (std::size_t j = 0; j < N; ++j) {
          T sum = 0;
          for (std::size_t k = 0; k < K; ++k) sum += at<TA>(a, lda, i, k) * b[j * ldb + k];
          c[i * ldc + j] = sum;
        }
    }
    epilogue(i0, 0, i1 - i0, N);
  }
}
}  // namespace detail

namespace detail {
// The blocked product. TransC: the product computed is C' = C^T (M, N, a
// and b are C^T's, A' row-major), each tile stored turned round into C, and
// the epilogue called with C's coordinates once a block of NR rows and MC
// columns of C is finished.
// With add_to_c the product is added to C (each tile's sums to the values
// there, as a later block of K is). With b_packed, pack_b already holds B
// as pack_b would write it, and the product is one block of K and of N.
template <bool TA, bool TB, bool TransC, class T>
void gemm_blocked(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b,
                  std::size_t ldb, T* c, std::size_t ldc, T* pack_a, T* pack_b, const tile_epilogue& epilogue,
                  bool add_to_c = false, bool b_packed = false) {
  static_assert(!(TA && TransC));
  using blk = gemm_blocking<T>;
  // A row-major B (the weight in a layer's input gradient dY W) is read in
  // place by a small batch instead of packed: packing copied all of W
  // through memory before its first FMA (a third of a 2048-wide product's
  // time), while read in place each panel's rows are fetched during the
  // previous panel's tiles (b_prefetch). Full panels only; a last partial
  // panel is packed. Measured one thread, alternated against packing, batch
  // 64: 2048 -> 2048 0.73x the time, 1024 -> 1024 0.77x, 784 -> 256 0.92x,
  // 256 -> 128 0.93x; batch 256 level, batch 1024 4-6% slower (a panel
  // reused by that many tiles repays its packing), hence up to 4 MC rows.
  const bool b_in_place = !TA && !TB && !TransC && M <= 4 * blk::MC;
  // A row-major B read in place whose rows are a multiple of 4 KB apart (a
  // layer 1024 or 2048 wide): a panel's kc rows then fall into a sixteenth
  // of L2's sets or fewer and do not stay cached from one tile to the next.
  // Each panel is copied once instead, just before its tiles, into the
  // packed buffer, asking for the next panel's rows while copying, and K is
  // one block (the copied panel streams from L2 as the packed one does).
  // Measured on Zen 5, batch 64, input gradient, alternated against reading
  // in place (167 GFLOP/s on one thread here, 240 at other widths): one
  // thread 1024 -> 1024 0.77-0.80x the time, 2048 -> 2048 0.84-0.89x;
  // packing all of B up front instead 0.87x and 0.93x; K as one block,
  // against blocks of KC, level on one thread and 0.89-0.97x on two.
  const bool pack_panels = b_in_place && (ldb * sizeof(T)) % 4096 == 0;
  // C^T of a small batch has N <= 96 columns: when the whole packed batch
  // fits the pack buffer and K is at most 8 KC, K is one block, so partial
  // sums stay in the micro-kernel instead of going through C in memory
  // (summed in the same order: see micro_kernel). Only a whole K can be one
  // block: a later block's chains would be added together before C, not to
  // C one by one. The B panel then lives in L2 rather than L1. Measured one
  // thread, batch 64, against blocks of KC: 784 -> 1024 13-15% faster,
  // 1024 -> 1024 11-14%, 2048 -> 2048 16-22%; no gain for the input
  // gradient's products.
  std::size_t kc_block = blk::KC, nc_block = blk::NC;
  if constexpr (TransC) {
    const std::size_t n_padded = (N + blk::NR - 1) / blk::NR * blk::NR;
    if (K <= std::min(8 * blk::KC, blk::pack_b_size / n_padded)) kc_block = std::max(K, blk::KC);
    nc_block = blk::pack_b_size / kc_block / blk::NR * blk::NR;
  } else if constexpr (!TA) {
    // So does a row-major A read in place against a packed B (a forward
    // product of more than 96 rows, an input gradient of more than 4 MC):
    // with blocks of KC every block of K passed over all of C, storing and
    // reloading each tile (C of 10,000 x 256 four times over for 784
    // inputs, the last pass only 16 deep). The packed B then holds fewer
    // columns per block. Measured one thread, alternated against blocks of
    // KC: forward 784 -> 256 at 256 rows 0.98x the time, at 1024 rows
    // 0.95x, 784 -> 1024 0.94x, 2048 -> 2048 at 256 rows 0.92x; input
    // gradients level. A packed A (TA) keeps blocks of KC: its buffer holds
    // MC x KC.
    if ((!(!TB && M <= 4 * blk::MC) || pack_panels) && K <= 8 * blk::KC) {
      kc_block = std::max(K, blk::KC);
      nc_block = blk::pack_b_size / kc_block / blk::NR * blk::NR;
    }
  }
  // The panel after panel jr of block (jc, pc): its first row and row count.
  auto next_panel = [&](std::size_t jc, std::size_t nc, std::size_t full, std::size_t pc, std::size_t kc,
                        std::size_t jr) -> b_prefetch<T> {
    if (jr + blk::NR < full) return {b + pc * ldb + jc + jr + blk::NR, kc};
    if (pc + kc < K) return {b + (pc + kc) * ldb + jc, std::min(kc_block, K - pc - kc)};
    if (jc + nc < N) return {b + jc + nc, std::min(kc_block, K)};
    return {};
  };
  for (std::size_t jc = 0; jc < N; jc += nc_block) {
    const std::size_t nc = std::min(nc_block, N - jc);
    for (std::size_t pc = 0; pc < K; pc += kc_block) {
      const std::size_t kc = std::min(kc_block, K - pc);
      const bool last_k = pc + kc == K, add = pc != 0 || add_to_c;
      const std::size_t full = b_in_place ? nc / blk::NR * blk::NR : 0;
      if (full < nc && !b_packed) detail::pack_b<TB>(b, ldb, pc, jc + full, kc, nc - full, pack_b + full * kc);
      for (std::size_t ic = 0; ic < M; ic += blk::MC) {
        const std::size_t mc = std::min(blk::MC, M - ic);
        const std::size_t tiles = (mc + blk::MR - 1) / blk::MR;
        // A transposed A is packed (its MR values for one k are contiguous,
        // but consecutive k are lda apart); a row-major A is read in place.
        if constexpr (TA) detail::pack_a<TA>(a, lda, ic, pc, mc, kc, pack_a);
        for (std::size_t jr = 0; jr < nc; jr += blk::NR) {
          const std::size_t nr = std::min(blk::NR, nc - jr);
          const T* pb = pack_b + jr * kc;
          const b_prefetch<T> next = jr < full ? next_panel(jc, nc, full, pc, kc, jr) : b_prefetch<T>{};
          if (pack_panels && ic == 0 && jr < full)
            detail::pack_panel(b + pc * ldb + jc + jr, ldb, kc, pack_b + jr * kc, next);
          for (std::size_t ir = 0; ir < mc; ir += blk::MR) {
            const std::size_t mr = std::min(blk::MR, mc - ir);
            T* ct = TransC ? c + (jc + jr) * ldc + ic + ir : c + (ic + ir) * ldc + jc + jr;
            if constexpr (TA) {
              detail::micro_kernel<true, false>(kc, pack_a + ir * kc, 0, pb, ct, ldc, mr, nr, add);
            } else if (jr < full && !pack_panels) {
              // This tile's share of the next panel's rows.
              const std::size_t t = ir / blk::MR, r0 = next.count * t / tiles, r1 = next.count * (t + 1) / tiles;
              detail::micro_kernel_b_in_place(kc, a + (ic + ir) * lda + pc, lda, b + pc * ldb + jc + jr, ldb, ct, ldc,
                                              mr, add, b_prefetch<T>{next.rows + r0 * ldb, r1 - r0});
            } else {
              detail::micro_kernel<false, TransC>(kc, a + (ic + ir) * lda + pc, lda, pb, ct, ldc, mr, nr, add);
            }
            if (!TransC && last_k) epilogue(ic + ir, jc + jr, mr, nr);
          }
          if (TransC && last_k) epilogue(jc + jr, ic, nr, mc);
        }
      }
    }
  }
}

template <bool TA, bool TB, class T>
void gemm_serial(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb,
                 T* c, std::size_t ldc, T* pack_a, T* pack_b, tile_epilogue epilogue) {
  using blk = gemm_blocking<T>;
  if (N < blk::NR && K > 0) {
    detail::narrow_gemm<TA, TB>(M, N, K, a, lda, b, ldb, c, ldc, epilogue);
    return;
  }
  if (K == 0) {
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t j = 0; j < N; ++j) c[i * ldc + j] = T(0);
    for (std::size_t i = 0; i < M; i += blk::MR)
      for (std::size_t j = 0; j < N; j += blk::NR) epilogue(i, j, std::min(blk::MR, M - i), std::min(blk::NR, N - j));
    return;
  }
  // A layer's forward product at a small batch (Y = X W^T, M rows of X
  // against N > M rows of W): packing W^T (8 x 8 transposes of all of W)
  // would be reused by only M / MR row tiles. C^T = W X^T instead reads W in
  // place as the row-major A and packs the batch, X^T. Each element of C is
  // the same sum in the same order either way. Measured one thread, float,
  // AVX2, 784 -> 256 / 1024 -> 1024: 16-28% faster at 32 rows, 5-9% at 64,
  // even at 128, 3-8% slower at 256; hence up to 16 row tiles.
  if constexpr (!TA && TB) {
    if (M < N && M >= blk::NR && M <= 16 * blk::MR) {
      detail::gemm_blocked<false, true, true>(N, M, K, b, ldb, a, lda, c, ldc, pack_a, pack_b, epilogue);
      return;
    }
  }
  detail::gemm_blocked<TA, TB, false>(M, N, K, a, lda, b, ldb, c, ldc, pack_a, pack_b, epilogue);
}
}  // namespace detail

// Products of at least this many multiply-adds are split across the pool's
// threads. Within a step the workers are awake (spinning between runs), and
// a split pays for itself well below a microsecond of work: a 10-wide last
// layer's three products at batch 64 and width 128 (82K multiply-adds each)
// took 0.70-0.77x the time on two threads, at width 64 (41K) 0.77-0.91x,
// against one thread (the earlier bound, 2^18, kept them on one).
inline constexpr std::size_t gemm_parallel_min_fma = std::size_t{1} << 15;

// C[M x N] (leading dim ldc) = op(A)[M x K] op(B)[K x N]. pack_a and pack_b
// hold gemm_blocking<T>::pack_a_size / pack_b_size elements, 64-byte aligned.
//
// On several threads the columns of C are dealt out in whole panels of NR,
// or, when there are fewer panels than threads and more row tiles (a tall
// product with few columns: a classifier's last layer over a large batch,
// a narrow layer on a machine with many cores) or M > 2N, the rows in
// whole tiles of MR. Each thread runs the serial GEMM on its part with its
// own packing buffers. Every element of C is then the same sum, in the same order, as on
// one thread: results are bit-identical for any thread count. A column split
// gives each thread at least one full panel (a narrower slice would take the
// direct path, which sums in another order); the direct path itself sums
// each row the same way whichever rows it is given.
template <bool TA, bool TB, class T>
void gemm(std::size_t M, std::size_t N, std::size_t K, const T* a, std::size_t lda, const T* b, std::size_t ldb,
          T* c, std::size_t ldc, T* pack_a, T* pack_b, tile_epilogue epilogue = {}) {
  using blk = gemm_blocking<T>;
#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  // Products of at least 16 columns take bfloat16 operands when asked to;
  // narrower ones (a classifier's last layer) stay float, on the direct
  // path, whose cost is in reading A rather than in multiply-adds.
  if constexpr (std::is_same_v<T, float>) {
    if (get_matmul_precision() == matmul_precision::bfloat16 && N >= 16 && K > 0) {
      bf16::gemm<TA, TB>(M, N, K, a, lda, b, ldb, c, ldc, pack_a, blk::pack_a_size, pack_b, blk::pack_b_size,
                         epilogue);
      return;
    }
  }
#endif
  thread_pool& threads = pool();
  const std::size_t panels = N / blk::NR, row_tiles = M / blk::MR;
  const std::size_t by_cols = std::min(threads.size(), panels), by_rows = std::min(threads.size(), row_tiles);
  // Rows also when the product is tall (M > 2N: a layer's forward over the
  // 10,000 test images): by columns every thread reads all of A and packs
  // its part of B, by rows it reads its part of A and packs all of B, and
  // A is the larger. The forward 784 -> 256 over 10,000 rows read the
  // 31 MB of images once per thread. Inference over the test set on two
  // threads, alternated: 0.84x and 0.93x the time (two sets of six pairs).
  const bool split_rows = by_rows > by_cols || (by_rows == by_cols && M > 2 * N);
  const std::size_t split = split_rows ? by_rows : by_cols;
  if (split < 2 || M * N * K < gemm_parallel_min_fma) {
    detail::gemm_serial<TA, TB>(M, N, K, a, lda, b, ldb, c, ldc, pack_a, pack_b, epilogue);
    return;
  }
  threads.run([&](std::size_t t, std::size_t n) {
    // n is 1 when this product runs inside another parallel loop (a
    // convolution's block of pixels): thread 0 then takes the whole product.
    const std::size_t parts = std::min(split, n);
    if (t >= parts) return;
    T* pa = pack_a;
    T* pb = pack_b;
    if (t != 0) {
      // Each worker's own packing buffers, made on its first product.
      thread_local aligned_buffer<T> own_a(blk::pack_a_size), own_b(blk::pack_b_size);
      pa = own_a.data();
      pb = own_b.data();
    }
    tile_epilogue e = epilogue;
    if (split_rows) {
      // Thread t takes row tiles [r0, r1); the last also takes the rows
      // after the last full tile.
      const std::size_t i0 = row_tiles * t / parts * blk::MR;
      const std::size_t i1 = t + 1 == parts ? M : row_tiles * (t + 1) / parts * blk::MR;
      e.row_offset += i0;
      detail::gemm_serial<TA, TB>(i1 - i0, N, K, TA ? a + i0 : a + i0 * lda, lda, b, ldb, c + i0 * ldc, ldc, pa, pb,
                                  e);
      return;
    }
    // Thread t takes full panels [p0, p1), and its share of the rows of the
    // columns after the last full panel (in whole tiles of MR). That narrow
    // panel, zero-padded to NR, costs as much as a full one: given to one
    // thread it made that thread's share of a 784-wide weight gradient 13
    // panels against 12 (main thread idle 10% of the product).
    const std::size_t p0 = panels * t / parts, p1 = panels * (t + 1) / parts;
    const std::size_t j0 = p0 * blk::NR, j1 = p1 * blk::NR;
    tile_epilogue cols = e;
    cols.col_offset += j0;
    detail::gemm_serial<TA, TB>(M, j1 - j0, K, a, lda, TB ? b + j0 * ldb : b + j0, ldb, c + j0, ldc, pa, pb, cols);
    const std::size_t jt = panels * blk::NR;
    if (jt == N) return;
    const thread_range rows = share(M, t, parts, blk::MR);
    if (rows.begin == rows.end) return;
    tile_epilogue tail = e;
    tail.row_offset += rows.begin;
    tail.col_offset += jt;
    // gemm_blocked, not gemm_serial: a slice narrower than a panel would take
    // the direct path, which sums in another order than the one-thread product.
    detail::gemm_blocked<TA, TB, false>(rows.end - rows.begin, N - jt, K, TA ? a + rows.begin : a + rows.begin * lda,
                                        lda, TB ? b + jt * ldb : b + jt, ldb, c + rows.begin * ldc + jt, ldc, pa, pb,
                                        tail);
  });
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void gemm<false, false, float>(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                                               const float*, std::size_t, float*, std::size_t, float*, float*,
                                               tile_epilogue))
INGOT_INSTANTIATE(void gemm<false, true, float>(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                                               const float*, std::size_t, float*, std::size_t, float*, float*,
                                               tile_epilogue))
INGOT_INSTANTIATE(void gemm<true, false, float>(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                                               const float*, std::size_t, float*, std::size_t, float*, float*,
                                               tile_epilogue))
INGOT_INSTANTIATE(void gemm<true, true, float>(std::size_t, std::size_t, std::size_t, const float*, std::size_t,
                                               const float*, std::size_t, float*, std::size_t, float*, float*,
                                               tile_epilogue))

}  // namespace ingot::simd
