#pragma once
// Layout changes between PyTorch's channels-first order and ingot's
// channels-last one.
#include <algorithm>
#include <cstddef>

#include "ingot/simd/samples.hpp"

namespace ingot::simd {

// out[g] = in[g] transposed, for each of `groups` A x B row-major blocks:
// the layout change between PyTorch's channels-first order and ingot's
// channels-last one (a sample's [C, H W] to [H W, C] and back; a
// convolution weight's [OC][C, KH KW] to [OC][KH KW, C]).
template <class T>
void transpose_blocks(std::size_t groups, std::size_t A, std::size_t B, const T* in, T* out) {
  auto run = [&](std::size_t g0, std::size_t g1) {
    for (std::size_t g = g0; g < g1; ++g) {
      const T* src = in + g * A * B;
      T* dst = out + g * A * B;
      if (A == 1 || B == 1) {
        std::copy_n(src, A * B, dst);
        continue;
      }
      for (std::size_t i = 0; i < A; ++i)
        for (std::size_t j = 0; j < B; ++j) dst[j * A + i] = src[i * B + j];
    }
  };
  detail::for_samples(groups, A * B, [&](std::size_t g0, std::size_t g1) { run(g0, g1); });
}

}  // namespace ingot::simd
