#pragma once
// The loops of a 2-D convolution on channels-last images, as GEMMs over
// patch matrices (im2col). An image batch is a matrix of b H W pixel rows of
// C channels; the patch matrix of the output pixels has one row per output
// pixel and K = KH KW C columns in (kh, kw, c) order, so each kernel tap
// copies C contiguous channels. The weight is [OC, K] in that order.
//
//   forward        Y[P, OC]  = col(X)[P, K] W^T             (P output pixels)
//   input grad     dX        = col2im(dY[P, OC] W[OC, K])   (scatter-add of patches)
//   weight grad    dW[OC, K] = dY^T col(X)
//
// Each is split across the pool's threads by whole blocks of output pixels
// (forward, weight grad) or whole samples (input grad, whose patches overlap
// within a sample only). The weight gradient is summed per thread over its
// blocks, then the threads' partial sums are added in thread order, so the
// result depends on the thread count but never on timing.
#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "ingot/core/aligned.hpp"
#include "ingot/core/config.hpp"
#include "ingot/core/matmul_precision.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/core/worker_buffer.hpp"
#include "ingot/simd/conv_geometry.hpp"
#include "ingot/simd/conv_few_taps.hpp"
#include "ingot/simd/gemm.hpp"

namespace ingot::simd {

namespace detail {

// Output pixels per block: the block's patch rows take about 128 KiB, so
// they stay in L2 between im2col and the GEMM that reads them.
template <class T>
constexpr std::size_t conv_block_rows(const conv_geometry& g) {
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  const std::size_t rows = (std::size_t{128} * 1024 / sizeof(T)) / g.K();
  return std::max(MR, rows / MR * MR);
}

// C contiguous channels of one tap, in SIMD vectors and a scalar tail: a
// memcpy call per tap cost more than the copy at 32 channels.
template <class T>
inline void copy_channels(T* dst, const T* src, std::size_t C) {
  constexpr std::size_t W = width<T>;
  std::size_t c = 0;
  for (; c + W <= C; c += W) vec<T>::load_unaligned(src + c).store_unaligned(dst + c);
  for (; c < C; ++c) dst[c] = src[c];
}

// dst[c] += src[c] over C channels, the same way: left to the compiler, the
// loop ran behind a run-time overlap check, 8% of an input gradient at 32
// channels.
template <class T>
inline void add_channels(T* dst, const T* src, std::size_t C) {
  constexpr std::size_t W = width<T>;
  std::size_t c = 0;
  for (; c + W <= C; c += W) (vec<T>::load_unaligned(dst + c) + vec<T>::load_unaligned(src + c)).store_unaligned(dst + c);
  for (; c < C; ++c) dst[c] += src[c];
}

// Of n output pixels of one output row starting at column ow0, those whose
// tap kw lands inside the input row: [lo, hi), the first at input column
// iw. Found by arithmetic (the smallest ow with ow SW >= a, no division at
// stride 1), not by a test per pixel.
struct tap_span {
  std::size_t lo, hi, iw;
};
inline tap_span tap_columns(const conv_geometry& g, std::size_t ow0, std::size_t n, std::size_t kw) {
  using idx = std::ptrdiff_t;
  const idx SW = static_cast<idx>(g.SW);
  auto ceil_div = [SW](idx a) {
    if (a <= 0) return idx{0};
    return SW == 1 ? a : (a + SW - 1) / SW;
  };
  // iw = ow SW - shift must lie in [0, W).
  const idx shift = static_cast<idx>(g.PW) - static_cast<idx>(kw * g.DW);
  const idx first = ceil_div(shift) - static_cast<idx>(ow0);
  const idx end = ceil_div(static_cast<idx>(g.W) + shift) - static_cast<idx>(ow0);
  const std::size_t lo = static_cast<std::size_t>(std::clamp<idx>(first, 0, static_cast<idx>(n)));
  const std::size_t hi = static_cast<std::size_t>(std::clamp<idx>(end, static_cast<idx>(lo), static_cast<idx>(n)));
  return {lo, hi, lo < hi ? static_cast<std::size_t>(static_cast<idx>((ow0 + lo) * g.SW) - shift) : 0};
}

// Where the patch rows go: row-major rows of K values (a col matrix), or
// the GEMM's packed B for a product whose k runs over the pixels (panels
// of NR columns, each rows x NR, k-major), so that a weight gradient's
// product needs no packing of its own. In the packed form one tap's C
// channels must lie in one panel (C divides NR).
template <class T>
struct patch_layout {
  T* base;
  std::size_t K;
  std::size_t panel_rows = 0;  // 0: row-major
  T* at(std::size_t i, std::size_t kk) const {
    constexpr std::size_t NR = gemm_blocking<T>::NR;
    return panel_rows == 0 ? base + i * K + kk : base + kk / NR * NR * panel_rows + i * NR + kk % NR;
  }
  std::size_t stride() const { return panel_rows == 0 ? K : gemm_blocking<T>::NR; }
};

// Patch rows of output pixels [p0, p1) of the batch (pixel p is sample
// p / OH OW) into out (rows of col, or packed panels). The range is cut at the ends of
// output rows; within one output row each tap (kh, kw) is one column of C
// values per pixel, read from one input row at a stride of SW pixels, with
// the pixels whose tap falls in the padding found by arithmetic, not by a
// test per value. That keeps the inner loop a load and a store (a first
// layer's single channel) or C / width vector copies: a test per tap cost
// about 200 instructions per pixel of a 3 x 3 single-channel layer.
template <class T>
void im2col_into(const conv_geometry& g, const T* x, std::size_t p0, std::size_t p1, const patch_layout<T>& out) {
  using idx = std::ptrdiff_t;
  const std::size_t OH = g.OH(), OW = g.OW(), C = g.C;
  const std::size_t H = g.H, W = g.W, KH = g.KH, KW = g.KW, SW = g.SW, st = out.stride();
  // Zeros for pixels [i0, i1) of a tap's column (taps in the padding).
  auto zero = [C, st](T* dst, std::size_t i0, std::size_t i1) {
    for (std::size_t i = i0; i < i1; ++i)
      if (C == 1) dst[i * st] = T(0);
      else std::fill_n(dst + i * st, C, T(0));
  };
  for (std::size_t p = p0; p < p1;) {
    const std::size_t s = p / (OH * OW), oh = p % (OH * OW) / OW, ow0 = p % OW;
    const std::size_t n = std::min(OW - ow0, p1 - p);
    const T* img = x + s * H * W * C;
    for (std::size_t kh = 0; kh < KH; ++kh) {
      const idx ih = static_cast<idx>(oh * g.SH + kh * g.DH) - static_cast<idx>(g.PH);
      const bool row_in = ih >= 0 && ih < static_cast<idx>(H);
      for (std::size_t kw = 0; kw < KW; ++kw) {
        T* dst = out.at(p - p0, (kh * KW + kw) * C);
        const tap_span span = row_in ? tap_columns(g, ow0, n, kw) : tap_span{n, n, 0};
        const std::size_t lo = span.lo, hi = span.hi;
        zero(dst, 0, lo);
        if (lo < hi) {
          const T* src = img + (static_cast<std::size_t>(ih) * W + span.iw) * C;
          T* d = dst + lo * st;
          if (C == 1) {
            for (std::size_t i = lo; i < hi; ++i, d += st, src += SW) *d = *src;
          } else {
            for (std::size_t i = lo; i < hi; ++i, d += st, src += SW * C) copy_channels(d, src, C);
          }
        }
        zero(dst, hi, n);
      }
    }
    p += n;
  }
  // The packed form's last panel past K: zeros, as pack_b leaves them. The
  // lanes are computed and never stored; zeros keep a stale value (a
  // denormal, a NaN) out of their arithmetic.
  constexpr std::size_t NR = gemm_blocking<T>::NR;
  if (out.panel_rows != 0 && out.K % NR != 0)
    for (std::size_t i = 0; i < p1 - p0; ++i) std::fill_n(out.at(i, out.K), NR - out.K % NR, T(0));
}

// Into col, rows of K values.
template <class T>
void im2col(const conv_geometry& g, const T* x, std::size_t p0, std::size_t p1, T* col) {
  im2col_into(g, x, p0, p1, patch_layout<T>{col, g.K()});
}

// Adds patch rows of output pixels [q0, q1) of one sample back onto the
// sample's image dx (the adjoint of im2col). Output row by output row, tap by
// tap, each tap's column added to the input pixels it came from: within a
// tap those are distinct pixels, so the additions do not wait on each other
// (pixel by pixel, consecutive taps' additions hit the same pixels and each
// waited on the store before it: 8% of a 32-channel input gradient). The
// taps go in reverse order, so each input pixel still receives its terms in
// the order of the output pixels they come from, as pixel by pixel: the
// same sums, bit for bit.
template <class T>
void col2im_add(const conv_geometry& g, const T* col, std::size_t q0, std::size_t q1, T* dx) {
  using idx = std::ptrdiff_t;
  const std::size_t OW = g.OW(), C = g.C, K = g.K(), SW = g.SW;
  for (std::size_t q = q0; q < q1;) {
    const std::size_t oh = q / OW, ow0 = q % OW, n = std::min(OW - ow0, q1 - q);
    const T* seg = col + (q - q0) * K;
    for (std::size_t kh = g.KH; kh-- > 0;) {
      const idx ih = static_cast<idx>(oh * g.SH + kh * g.DH) - static_cast<idx>(g.PH);
      if (ih < 0 || ih >= static_cast<idx>(g.H)) continue;
      for (std::size_t kw = g.KW; kw-- > 0;) {
        const auto [lo, hi, iw] = tap_columns(g, ow0, n, kw);
        if (lo >= hi) continue;
        const T* src = seg + lo * K + (kh * g.KW + kw) * C;
        T* d = dx + (static_cast<std::size_t>(ih) * g.W + iw) * C;
        for (std::size_t i = lo; i < hi; ++i, src += K, d += SW * C) add_channels(d, src, C);
      }
    }
    q += n;
  }
}

}  // namespace detail

// The scratch of a convolution loop on one thread (thread 0 uses the plan's,
// the others keep their own), each region on a cache line: a block of patch
// rows, two OC x K sums (the weight gradient's), the GEMM's packing buffers.
template <class T>
struct conv_scratch {
  T* col;
  T* acc;
  T* tmp;
  T* pack_a;
  T* pack_b;
  static constexpr std::size_t col_size(const conv_geometry& g) {
    return padded<T>(detail::conv_block_rows<T>(g) * g.K());
  }
  static constexpr std::size_t sum_size(const conv_geometry& g) { return padded<T>(g.OC * g.K()); }
  static constexpr std::size_t size(const conv_geometry& g) {
    return col_size(g) + 2 * sum_size(g) + gemm_blocking<T>::pack_a_size + gemm_blocking<T>::pack_b_size;
  }
  conv_scratch(const conv_geometry& g, T* base)
      : col(base), acc(col + col_size(g)), tmp(acc + sum_size(g)), pack_a(tmp + sum_size(g)),
        pack_b(pack_a + gemm_blocking<T>::pack_a_size) {}
};

template <class T>
constexpr std::size_t conv_scratch_size(const conv_geometry& g) {
  return conv_scratch<T>::size(g);
}

namespace detail {
// Whether a layer runs on the loops of conv_few_taps.hpp: few taps, one
// padded sample fits the block of patch rows of the scratch, and the
// packed weight its B packing buffer.
template <class T>
bool use_few_taps(const conv_geometry& g) {
  return g.K() <= few_taps_max && padded_image_size(g) <= conv_scratch<T>::col_size(g) &&
         few_taps_weight_size(g, gemm_blocking<T>::NR) <= gemm_blocking<T>::pack_b_size;
}

template <class T>
conv_scratch<T> thread_scratch(const conv_geometry& g, std::size_t t, T* scratch) {
  return conv_scratch<T>(g, t == 0 ? scratch : ingot::worker_buffer<T, conv_scratch<T>>(conv_scratch_size<T>(g)));
}
}  // namespace detail

// y[b P, OC] = col(x) w^T, with the epilogue called on each finished tile.
template <class T>
void conv_forward(const conv_geometry& g, std::size_t batch, const T* x, const T* w, T* y, T* scratch,
                  tile_epilogue epilogue) {
  const std::size_t P = batch * g.out_pixels(), K = g.K(), mb = detail::conv_block_rows<T>(g);
  const std::size_t blocks = (P + mb - 1) / mb;
  if (detail::use_few_taps<T>(g)) {
    pool().run([&](std::size_t t, std::size_t n) {
      const auto [s0, s1] = share(batch, t, n);
      if (s0 == s1) return;
      const conv_scratch<T> sc = detail::thread_scratch(g, t, scratch);
      detail::few_taps_forward(g, s0, s1, x, w, y, sc.col, sc.pack_b, epilogue);
    });
    return;
  }
  pool().run([&](std::size_t t, std::size_t n) {
    const auto [b0, b1] = share(blocks, t, n);
    if (b0 == b1) return;
    const conv_scratch<T> sc = detail::thread_scratch(g, t, scratch);
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const std::size_t p0 = blk * mb, p1 = std::min(P, p0 + mb);
      detail::im2col(g, x, p0, p1, sc.col);
      tile_epilogue e = epilogue;
      e.row_offset += p0;
      gemm<false, true>(p1 - p0, g.OC, K, sc.col, K, w, K, y + p0 * g.OC, g.OC, sc.pack_a, sc.pack_b, e);
    }
  });
}

// dx[b H W, C] = col2im(dy w): per sample, patch gradients in blocks of
// output pixels, scattered onto the sample's image.
template <class T>
void conv_input_grad(const conv_geometry& g, std::size_t batch, const T* dy, const T* w, T* dx, T* scratch) {
  const std::size_t Q = g.out_pixels(), K = g.K(), mb = detail::conv_block_rows<T>(g);
  pool().run([&](std::size_t t, std::size_t n) {
    const auto [s0, s1] = share(batch, t, n);
    if (s0 == s1) return;
    const conv_scratch<T> sc = detail::thread_scratch(g, t, scratch);
    for (std::size_t s = s0; s < s1; ++s) {
      T* img = dx + s * g.H * g.W * g.C;
      std::fill_n(img, g.H * g.W * g.C, T(0));
      for (std::size_t q0 = 0; q0 < Q; q0 += mb) {
        const std::size_t q1 = std::min(Q, q0 + mb);
        gemm<false, false>(q1 - q0, K, g.OC, dy + (s * Q + q0) * g.OC, g.OC, w, K, sc.col, K, sc.pack_a, sc.pack_b);
        detail::col2im_add(g, sc.col, q0, q1, img);
      }
    }
  });
}

// dw[OC, K] = dy^T col(x), summed per thread over its blocks of output
// pixels, then over threads in thread order. When K fills a register tile
// the block's product is formed as it stands (op(A) = dy^T, a block of only
// OC x pixels to pack; B = the patch rows, packed with vector copies). A
// narrower K (9 for a first layer) would waste most of each tile, so there
// the product is formed transposed, dw^T[K, OC] = col^T dy, with the output
// channels as its columns, and transposed at the end.
template <class T>
void conv_weight_grad(const conv_geometry& g, std::size_t batch, const T* x, const T* dy, T* dw, T* scratch) {
  const std::size_t P = batch * g.out_pixels(), K = g.K(), OC = g.OC, mb = detail::conv_block_rows<T>(g);
  const std::size_t blocks = (P + mb - 1) / mb;
  // Few taps: per thread a share of the samples, summed as dW^T like the
  // narrow product below.
  const bool few = detail::use_few_taps<T>(g);
  const bool direct = K >= gemm_blocking<T>::NR && !few;
  // Patch rows written straight into the product's packed B (one block of
  // K columns and of pixels, and each tap within one panel): same values,
  // one copy of them fewer.
  // Both shortcuts call the float GEMM's loops directly, so neither is
  // taken when products are asked for in bfloat16 (gemm routes those).
  using blk_t = gemm_blocking<T>;
  const bool float_products =
      !(std::is_same_v<T, float> && get_matmul_precision() == matmul_precision::bfloat16);
  const bool packed = direct && float_products && blk_t::NR % g.C == 0 && K <= blk_t::NC && mb <= blk_t::KC;
  if (P == 0) {
    std::fill_n(dw, OC * K, T(0));
    return;
  }
  constexpr std::size_t max_threads = 256;
  T* partial[max_threads] = {};
  thread_pool& threads = pool();
  const std::size_t used = std::min({threads.size(), few ? batch : blocks, max_threads});
  std::size_t parts = 1;
  threads.run([&](std::size_t t, std::size_t n) {
    // n is 1 when this runs inside another parallel loop: thread 0 takes every block.
    const std::size_t k = std::min(used, n);
    if (t >= k) return;
    if (t == 0) parts = k;
    const conv_scratch<T> sc = detail::thread_scratch(g, t, scratch);
    if (few) {
      const auto [s0, s1] = share(batch, t, k);
      detail::few_taps_weight_grad(g, s0, s1, x, dy, sc.col, sc.acc);
      partial[t] = sc.acc;
      return;
    }
    const auto [b0, b1] = share(blocks, t, k);
    for (std::size_t blk = b0; blk < b1; ++blk) {
      const std::size_t p0 = blk * mb, p1 = std::min(P, p0 + mb);
      if (packed) {
        detail::im2col_into(g, x, p0, p1, detail::patch_layout<T>{sc.pack_b, K, p1 - p0});
        detail::gemm_blocked<true, false, false>(OC, K, p1 - p0, dy + p0 * OC, OC, sc.pack_b, K, sc.acc, K,
                                                 sc.pack_a, sc.pack_b, tile_epilogue{}, blk != b0, true);
        continue;
      }
      detail::im2col(g, x, p0, p1, sc.col);
      // A later block whose pixels are one run of the micro-kernel's k
      // loop (at most KC) adds its product to the total in the GEMM: each
      // sum is then the one a separate product added afterwards gives.
      if (direct && float_products && blk != b0 && p1 - p0 <= blk_t::KC) {
        detail::gemm_blocked<true, false, false>(OC, K, p1 - p0, dy + p0 * OC, OC, sc.col, K, sc.acc, K, sc.pack_a,
                                                 sc.pack_b, tile_epilogue{}, true);
        continue;
      }
      T* out = blk == b0 ? sc.acc : sc.tmp;
      if (direct) gemm<true, false>(OC, K, p1 - p0, dy + p0 * OC, OC, sc.col, K, out, K, sc.pack_a, sc.pack_b);
      else gemm<true, false>(K, OC, p1 - p0, sc.col, K, dy + p0 * OC, OC, out, OC, sc.pack_a, sc.pack_b);
      if (blk != b0)
        for_each_batch<T>(OC * K, [&]<class U>(std::size_t i) {
          simd::store(sc.acc + i, simd::load<U>(sc.acc + i) + simd::load<U>(sc.tmp + i));
        });
    }
    partial[t] = sc.acc;
  });
  for (std::size_t t = 1; t < parts; ++t)
    for (std::size_t i = 0; i < OC * K; ++i) partial[0][i] += partial[t][i];
  if (direct) {
    std::copy_n(partial[0], OC * K, dw);
  } else {
    for (std::size_t o = 0; o < OC; ++o)
      for (std::size_t k = 0; k < K; ++k) dw[o * K + k] = partial[0][k * OC + o];
  }
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void conv_forward<float>(const conv_geometry&, std::size_t, const float*, const float*, float*, float*,
                                           tile_epilogue))
INGOT_INSTANTIATE(void conv_input_grad<float>(const conv_geometry&, std::size_t, const float*, const float*, float*,
                                              float*))
INGOT_INSTANTIATE(void conv_weight_grad<float>(const conv_geometry&, std::size_t, const float*, const float*, float*,
                                               float*))

}  // namespace ingot::simd
