#pragma once
// Conv2d<In, Out, Kernel, Stride, Padding, Dilation>: PyTorch's
// nn.Conv2d(In, Out, Kernel, stride, padding, dilation) with a bias, on
// channels-last images. The weight is PyTorch's [Out, In, Kernel, Kernel]
// (state_dict "weight", "bias"); the forward turns it into the patch order
// [Out, Kernel Kernel In] with a layout node, so the checkpoint is PyTorch's
// and the gradient of that reordering is derived like any other.
#include <cmath>
#include <cstddef>
#include <string>

#include "ingot/core/rng.hpp"
#include "ingot/expr/kernels/conv.hpp"
#include "ingot/expr/kernels/layout.hpp"
#include "ingot/expr/operators.hpp"
#include "ingot/nn/image_checks.hpp"

namespace ingot::nn {

template <std::size_t In, std::size_t Out, std::size_t Kernel, std::size_t Stride = 1, std::size_t Padding = 0,
          std::size_t Dilation = 1>
struct Conv2d {
  static_assert(In > 0 && Out > 0 && Kernel > 0, "ingot::nn::Conv2d: channels and kernel size must be positive");
  static_assert(Stride > 0 && Dilation > 0, "ingot::nn::Conv2d: stride and dilation must be positive");
  static constexpr std::size_t in_channels = In;
  static constexpr std::size_t out_channels = Out;
  static std::string summary_name() {
    std::string s = "Conv2d(" + std::to_string(In) + ", " + std::to_string(Out) + ", " + std::to_string(Kernel);
    if (Stride != 1) s += ", stride=" + std::to_string(Stride);
    if (Padding != 0) s += ", padding=" + std::to_string(Padding);
    if (Dilation != 1) s += ", dilation=" + std::to_string(Dilation);
    return s + ")";
  }

  template <fixed_string Prefix>
  using weight = expr::param_leaf<concat(Prefix, fixed_string("weight")), Out, In * Kernel * Kernel, true, Kernel, Kernel>;
  template <fixed_string Prefix>
  using bias = expr::param_leaf<concat(Prefix, fixed_string("bias")), 1, Out, false>;

  template <class S>
  static constexpr simd::conv_geometry geometry{S::channels, S::height, S::width, Out, Kernel, Kernel,
                                                Stride, Stride, Padding, Padding, Dilation, Dilation};

  // Multiply-adds of the output per sample, and the bias.
  template <class S>
  static constexpr std::size_t flops_for() {
    constexpr auto g = geometry<S>;
    return 2 * g.out_pixels() * Out * g.K();
  }

  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    if constexpr (!diagnostics::image_input_ok<X, In>()) {
      return x;
    } else {
      using S = typename X::shape;
      constexpr std::size_t span = Dilation * (Kernel - 1) + 1;
      if constexpr (!diagnostics::window_fits<S::height + 2 * Padding, S::width + 2 * Padding, span, span>::ok) {
        return x;
      } else {
        constexpr auto g = geometry<S>;
        using patch_weight =
            expr::block_transpose_node<weight<Prefix>, In, Kernel * Kernel, expr::conv_weight_shape<g>>;
        return expr::conv_node<X, patch_weight, g>{} + bias<Prefix>{};
      }
    }
  }

  // PyTorch's Conv2d.reset_parameters: kaiming_uniform_(a = sqrt(5)), which
  // is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = In Kernel^2, and the
  // same bound for the bias.
  template <fixed_string Prefix, class Arena>
  static void init(Arena& arena, rng& g) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(In * Kernel * Kernel));
    g.fill_uniform(arena.template get<weight<Prefix>>(), -bound, bound);
    g.fill_uniform(arena.template get<bias<Prefix>>(), -bound, bound);
  }
};

}  // namespace ingot::nn
