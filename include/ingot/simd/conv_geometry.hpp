#pragma once
// The shape of a 2-D convolution on channels-last images: input channels
// and size, output channels, kernel, stride, zero padding and dilation.
#include <cstddef>

namespace ingot::simd {

struct conv_geometry {
  std::size_t C, H, W;      // input channels and size
  std::size_t OC;           // output channels
  std::size_t KH, KW;       // kernel
  std::size_t SH, SW;       // stride
  std::size_t PH, PW;       // zero padding
  std::size_t DH = 1, DW = 1;  // dilation
  constexpr std::size_t OH() const { return (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1; }
  constexpr std::size_t OW() const { return (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1; }
  constexpr std::size_t K() const { return KH * KW * C; }
  constexpr std::size_t out_pixels() const { return OH() * OW(); }
};

}  // namespace ingot::simd
