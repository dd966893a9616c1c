#pragma once
// A convolution with few taps per output pixel (K = KH KW C <= few_taps_max:
// a first layer over one or three channels), without patch rows. Through
// im2col such a layer wrote K values per pixel only to read them back in a
// GEMM whose tiles are bound by their stores (9 multiply-adds per element
// of C at K = 9), and its weight gradient packed all of dY to form a
// 9-row product. Here each sample is copied once into a zero-padded image;
// tap k of output pixel q is then at corner(q) + offset(k) in it, with the
// same offsets for every pixel, so the multiply-adds read the image itself:
//
//   forward      y[q, o] = sum_k a(q, k) w[o, k]: the GEMM micro-kernel's
//                MR x 2W tile, one chain over k from zero, so every output
//                is the float the im2col GEMM gives;
//   weight grad  dW^T[k, o] = sum_q a(q, k) dy[q, o]: K x 2W sums held in
//                registers over one sample's pixels, then added to the
//                thread's running total, sample after sample.
#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "ingot/simd/conv_geometry.hpp"
#include "ingot/simd/gemm.hpp"
#include "ingot/simd/math.hpp"
#include "ingot/simd/tile_epilogue.hpp"

namespace ingot::simd::detail {

inline constexpr std::size_t few_taps_max = 12;

inline std::size_t padded_width(const conv_geometry& g) { return g.W + 2 * g.PW; }
inline std::size_t padded_image_size(const conv_geometry& g) { return (g.H + 2 * g.PH) * padded_width(g) * g.C; }

// Sample img [H, W, C] into dst [H + 2 PH, W + 2 PW, C], zeros around it.
template <class T>
void pad_image(const conv_geometry& g, const T* img, T* dst) {
  const std::size_t C = g.C, Wp = padded_width(g);
  std::fill_n(dst, g.PH * Wp * C, T(0));
  for (std::size_t h = 0; h < g.H; ++h) {
    T* row = dst + (g.PH + h) * Wp * C;
    std::fill_n(row, g.PW * C, T(0));
    std::copy_n(img + h * g.W * C, g.W * C, row + g.PW * C);
    std::fill_n(row + (g.PW + g.W) * C, g.PW * C, T(0));
  }
  std::fill_n(dst + (g.PH + g.H) * Wp * C, g.PH * Wp * C, T(0));
}

// Where each tap lies from an output pixel's corner in the padded image,
// in the patch's (kh, kw, c) order.
inline std::array<std::size_t, few_taps_max> tap_offsets(const conv_geometry& g) {
  std::array<std::size_t, few_taps_max> off{};
  const std::size_t Wp = padded_width(g);
  std::size_t k = 0;
  for (std::size_t kh = 0; kh < g.KH; ++kh)
    for (std::size_t kw = 0; kw < g.KW; ++kw)
      for (std::size_t c = 0; c < g.C; ++c) off[k++] = (kh * g.DH * Wp + kw * g.DW) * g.C + c;
  return off;
}

// f(std::integral_constant<std::size_t, K>) for the run-time K in [1, few_taps_max].
template <class F>
void with_taps(std::size_t K, F&& f) {
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (void)((K == I + 1 && (f(std::integral_constant<std::size_t, I + 1>{}), true)) || ...);
  }(std::make_index_sequence<few_taps_max>{});
}

// One MR x 2W tile of y: rows are output pixels (corner offsets), columns
// a panel of the packed weight pw[k][2W].
template <std::size_t K, class T>
inline void few_taps_tile(const T* image, const std::size_t* corner, const std::array<std::size_t, few_taps_max>& off,
                          const T* pw, T* c, std::size_t ldc, std::size_t mr, std::size_t nr) {
  using V = vec<T>;
  constexpr std::size_t MR = gemm_blocking<T>::MR;
  constexpr std::size_t W = width<T>;
  prefetch_tile_for_write(c, ldc, mr);
  V acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (std::size_t r = 0; r < MR; ++r) acc0[r] = acc1[r] = V(T(0));
  const T* row[MR];
  for (std::size_t r = 0; r < MR; ++r) row[r] = image + corner[r < mr ? r : 0];
#pragma GCC unroll 16
  for (std::size_t k = 0; k < K; ++k) {
    const V b0 = V::load_aligned(pw + k * 2 * W);
    const V b1 = V::load_aligned(pw + k * 2 * W + W);
#pragma GCC unroll 6
    for (std::size_t r = 0; r < MR; ++r) {
      const V a(row[r][off[k]]);
      acc0[r] = xsimd::fma(a, b0, acc0[r]);
      acc1[r] = xsimd::fma(a, b1, acc1[r]);
    }
  }
  store_tile(acc0, acc1, c, ldc, mr, nr, false);
}

// Packed weight for few_taps_tile: panels of 2W output channels, k-major,
// zero past OC. w is [OC, K].
template <class T>
void pack_few_taps_weight(const conv_geometry& g, const T* w, T* pw) {
  constexpr std::size_t NR = 2 * width<T>;
  const std::size_t K = g.K();
  for (std::size_t j0 = 0; j0 < g.OC; j0 += NR)
    for (std::size_t k = 0; k < K; ++k)
      for (std::size_t j = 0; j < NR; ++j) pw[j0 * K + k * NR + j] = j0 + j < g.OC ? w[(j0 + j) * K + k] : T(0);
}

inline std::size_t few_taps_weight_size(const conv_geometry& g, std::size_t nr) {
  return (g.OC + nr - 1) / nr * nr * g.K();
}

// y[s Q + q, :] for samples [s0, s1), the epilogue called on each tile.
// image holds padded_image_size(g) values, pw few_taps_weight_size(g, 2W).
template <class T>
void few_taps_forward(const conv_geometry& g, std::size_t s0, std::size_t s1, const T* x, const T* w, T* y, T* image,
                      T* pw, const tile_epilogue& epilogue) {
  constexpr std::size_t MR = gemm_blocking<T>::MR, NR = 2 * width<T>;
  const std::size_t Q = g.out_pixels(), OC = g.OC, K = g.K(), OW = g.OW(), Wp = padded_width(g);
  const auto off = tap_offsets(g);
  pack_few_taps_weight(g, w, pw);
  with_taps(K, [&](auto taps) {
    for (std::size_t s = s0; s < s1; ++s) {
      pad_image(g, x + s * g.H * g.W * g.C, image);
      std::size_t oh = 0, ow = 0;  // of pixel q0, kept by counting (no division per pixel)
      for (std::size_t q0 = 0; q0 < Q; q0 += MR) {
        const std::size_t mr = std::min(MR, Q - q0);
        std::size_t corner[MR];
        for (std::size_t r = 0; r < mr; ++r) {
          corner[r] = (oh * g.SH * Wp + ow * g.SW) * g.C;
          if (++ow == OW) ow = 0, ++oh;
        }
        for (std::size_t j0 = 0; j0 < OC; j0 += NR) {
          const std::size_t nr = std::min(NR, OC - j0);
          few_taps_tile<decltype(taps)::value>(image, corner, off, pw + j0 * K, y + (s * Q + q0) * OC + j0, OC, mr,
                                               nr);
          epilogue(s * Q + q0, j0, mr, nr);
        }
      }
    }
  });
}

// The sums of one sample for columns [j0, j0 + nr) of dW^T, added to (or,
// when first, stored in) acc[k, OC]. Load(p) reads the panel's part of a
// row of dy as two vectors.
template <std::size_t K, class T, class Load>
inline void few_taps_sample_sums(const conv_geometry& g, const T* image, const std::array<std::size_t, few_taps_max>& off,
                                 const T* dy, std::size_t nr, T* acc, bool first, Load load) {
  using V = vec<T>;
  constexpr std::size_t W = width<T>;
  const std::size_t OW = g.OW(), OH = g.OH(), OC = g.OC, Wp = padded_width(g);
  V s0[K], s1[K];
#pragma GCC unroll 16
  for (std::size_t k = 0; k < K; ++k) s0[k] = s1[k] = V(T(0));
  for (std::size_t oh = 0; oh < OH; ++oh) {
    const T* corner = image + oh * g.SH * Wp * g.C;
    for (std::size_t ow = 0; ow < OW; ++ow, corner += g.SW * g.C, dy += OC) {
      const auto [d0, d1] = load(dy);
#pragma GCC unroll 16
      for (std::size_t k = 0; k < K; ++k) {
        const V a(corner[off[k]]);
        s0[k] = xsimd::fma(a, d0, s0[k]);
        s1[k] = xsimd::fma(a, d1, s1[k]);
      }
    }
  }
#pragma GCC unroll 16
  for (std::size_t k = 0; k < K; ++k) {
    T* row = acc + k * OC;
    const std::size_t n0 = std::min(nr, W), n1 = nr - n0;
    store_partial(row, first ? s0[k] : s0[k] + load_partial(row, n0), n0);
    if (n1 > 0) store_partial(row + W, first ? s1[k] : s1[k] + load_partial(row + W, n1), n1);
  }
}

// dW^T[k, o] summed over samples [s0, s1) into acc[K, OC] (overwritten).
template <class T>
void few_taps_weight_grad(const conv_geometry& g, std::size_t s0, std::size_t s1, const T* x, const T* dy, T* image,
                          T* acc) {
  using V = vec<T>;
  constexpr std::size_t W = width<T>, NR = 2 * W;
  const std::size_t Q = g.out_pixels(), OC = g.OC, K = g.K();
  const auto off = tap_offsets(g);
  with_taps(K, [&](auto taps) {
    constexpr std::size_t KT = decltype(taps)::value;
    for (std::size_t s = s0; s < s1; ++s) {
      pad_image(g, x + s * g.H * g.W * g.C, image);
      for (std::size_t j0 = 0; j0 < OC; j0 += NR) {
        const std::size_t nr = std::min(NR, OC - j0);
        const T* d = dy + s * Q * OC + j0;
        T* a = acc + j0;
        const bool first = s == s0;
        if (nr == NR)
          few_taps_sample_sums<KT>(g, image, off, d, nr, a, first, [](const T* p) {
            return std::pair{V::load_unaligned(p), V::load_unaligned(p + width<T>)};
          });
        else if (nr > W)
          few_taps_sample_sums<KT>(g, image, off, d, nr, a, first, [nr](const T* p) {
            return std::pair{V::load_unaligned(p), load_partial(p + width<T>, nr - width<T>)};
          });
        else
          few_taps_sample_sums<KT>(g, image, off, d, nr, a, first,
                                   [nr](const T* p) { return std::pair{load_partial(p, nr), V(T(0))}; });
      }
    }
  });
}

}  // namespace ingot::simd::detail
