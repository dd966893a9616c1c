#pragma once
// The loops of 2-D max and average pooling on channels-last images (a
// matrix of b H W pixel rows of C channels). Every loop runs over the
// channels of one pixel innermost, which is contiguous. Samples are dealt
// out to the pool's threads; the backward loop scatters into one sample's
// image only, so threads never write the same values. (Max pooling's
// gradient is an element-wise value instead: expr/kernels/pool.hpp.)
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "ingot/core/config.hpp"
#include "ingot/simd/math.hpp"
#include "ingot/simd/samples.hpp"

namespace ingot::simd {

struct pool_geometry {
  std::size_t C, H, W;  // channels and input size
  std::size_t KH, KW;   // window
  std::size_t SH, SW;   // stride
  constexpr std::size_t OH() const { return (H - KH) / SH + 1; }
  constexpr std::size_t OW() const { return (W - KW) / SW + 1; }
};


namespace detail {
// One output pixel's maxima over channels [c0, c0 + lanes of V) of sample
// s: each window tap replaces the running maximum where it is larger, or is
// a NaN where the maximum is not; `where` follows the replacements.
// load<V>(row, c) gives the input's values at pixel row `row` of the batch.
template <class V, class Load>
inline void max_window(const pool_geometry& g, const Load& load, std::size_t s, std::size_t oh, std::size_t ow,
                       std::size_t c0, scalar_of_t<V>* best_out, scalar_of_t<V>* where_out) {
  using T = scalar_of_t<V>;
  const std::size_t base = s * g.H * g.W;
  const std::size_t first = oh * g.SH * g.W + ow * g.SW;
  V best = load.template operator()<V>(base + first, c0);
  V where = V(static_cast<T>(first));
  for (std::size_t kh = 0; kh < g.KH; ++kh)
    for (std::size_t kw = 0; kw < g.KW; ++kw) {
      const std::size_t pix = (oh * g.SH + kh) * g.W + ow * g.SW + kw;
      if (pix == first) continue;
      const V v = load.template operator()<V>(base + pix, c0);
      if constexpr (is_scalar_v<V>) {
        const bool take = v > best || (v != v && best == best);
        best = take ? v : best;
        where = take ? static_cast<T>(pix) : where;
      } else {
        const auto take = (v > best) | ((v != v) & (best == best));
        best = xsimd::select(take, v, best);
        where = xsimd::select(take, V(static_cast<T>(pix)), where);
      }
    }
  simd::store(best_out + c0, best);  // qualified: ADL would find xsimd::store, an aligned store
  simd::store(where_out + c0, where);
}
}  // namespace detail

// y = the maximum of each window; arg = the pixel (ih W + iw) within its
// sample where it was found, the first in scan order on ties, as PyTorch
// does. A NaN in a window is its maximum (PyTorch propagates it too). The
// input is read through load.template operator()<V>(row, c) (V a vector or
// T), so it can be a value computed on the spot (a BatchNorm's normalised,
// activated output) rather than an image in memory.
template <class T, class Load>
void max_pool_forward_from(const pool_geometry& g, std::size_t batch, const Load& load, T* y, T* arg) {
  const std::size_t OH = g.OH(), OW = g.OW(), C = g.C;
  const std::size_t full = C / width<T> * width<T>;  // channels in whole vectors
  detail::for_samples(batch, g.H * g.W * C, [&](std::size_t s0, std::size_t s1) {
    for (std::size_t s = s0; s < s1; ++s)
      for (std::size_t oh = 0; oh < OH; ++oh)
        for (std::size_t ow = 0; ow < OW; ++ow) {
          const std::size_t q = (s * OH + oh) * OW + ow;
          for (std::size_t c = 0; c < full; c += width<T>)
            detail::max_window<vec<T>>(g, load, s, oh, ow, c, y + q * C, arg + q * C);
          for (std::size_t c = full; c < C; ++c) detail::max_window<T>(g, load, s, oh, ow, c, y + q * C, arg + q * C);
        }
  });
}

// The same over an image batch x in memory.
template <class T>
void max_pool_forward(const pool_geometry& g, std::size_t batch, const T* x, T* y, T* arg) {
  const std::size_t C = g.C;
  max_pool_forward_from(g, batch, [x, C]<class V>(std::size_t row, std::size_t c) { return simd::load<V>(x + row * C + c); },
                        y, arg);
}

// y = the mean of each window.
template <class T>
void avg_pool_forward(const pool_geometry& g, std::size_t batch, const T* x, T* y) {
  const std::size_t OH = g.OH(), OW = g.OW(), C = g.C;
  const T scale = T(1) / static_cast<T>(g.KH * g.KW);
  detail::for_samples(batch, g.H * g.W * C, [&](std::size_t s0, std::size_t s1) {
    for (std::size_t s = s0; s < s1; ++s) {
      const T* img = x + s * g.H * g.W * C;
      for (std::size_t oh = 0; oh < OH; ++oh)
        for (std::size_t ow = 0; ow < OW; ++ow) {
          T* out = y + ((s * OH + oh) * OW + ow) * C;
          std::fill_n(out, C, T(0));
          for (std::size_t kh = 0; kh < g.KH; ++kh)
            for (std::size_t kw = 0; kw < g.KW; ++kw) {
              const T* v = img + ((oh * g.SH + kh) * g.W + ow * g.SW + kw) * C;
              for (std::size_t c = 0; c < C; ++c) out[c] += v[c];
            }
          for (std::size_t c = 0; c < C; ++c) out[c] *= scale;
        }
    }
  });
}

// dx = dy / (KH KW) spread over each window.
template <class T>
void avg_pool_backward(const pool_geometry& g, std::size_t batch, const T* dy, T* dx) {
  const std::size_t OH = g.OH(), OW = g.OW(), C = g.C, HW = g.H * g.W;
  const T scale = T(1) / static_cast<T>(g.KH * g.KW);
  detail::for_samples(batch, HW * C, [&](std::size_t s0, std::size_t s1) {
    for (std::size_t s = s0; s < s1; ++s) {
      T* img = dx + s * HW * C;
      std::fill_n(img, HW * C, T(0));
      for (std::size_t oh = 0; oh < OH; ++oh)
        for (std::size_t ow = 0; ow < OW; ++ow) {
          const T* gq = dy + ((s * OH + oh) * OW + ow) * C;
          for (std::size_t kh = 0; kh < g.KH; ++kh)
            for (std::size_t kw = 0; kw < g.KW; ++kw) {
              T* d = img + ((oh * g.SH + kh) * g.W + ow * g.SW + kw) * C;
              for (std::size_t c = 0; c < C; ++c) d[c] += gq[c] * scale;
            }
        }
    }
  });
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void max_pool_forward<float>(const pool_geometry&, std::size_t, const float*, float*, float*))
INGOT_INSTANTIATE(void avg_pool_forward<float>(const pool_geometry&, std::size_t, const float*, float*))
INGOT_INSTANTIATE(void avg_pool_backward<float>(const pool_geometry&, std::size_t, const float*, float*))

}  // namespace ingot::simd
