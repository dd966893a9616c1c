#pragma once
// Between flat feature rows and images:
//   Unflatten<C, H, W>  C H W features per sample, in PyTorch's (c, h, w)
//                       order, as a C x H x W image (PyTorch's
//                       nn.Unflatten(1, (C, H, W)) on a flat input)
//   Flatten             an image as C H W features in PyTorch's (c, h, w)
//                       order (nn.Flatten), so the Dense layer after it has
//                       PyTorch's weight; a flat input passes unchanged
// ingot keeps images channels-last, so both reorder each sample's values
// (a transpose of [C, H W] and back), a small pass beside a convolution.
#include <cstddef>
#include <string>

#include "ingot/expr/kernels/layout.hpp"
#include "ingot/expr/operators.hpp"

namespace ingot::nn {

template <std::size_t C, std::size_t H, std::size_t W>
struct Unflatten {
  static_assert(C > 0 && H > 0 && W > 0, "ingot::nn::Unflatten: sizes must be positive");
  static constexpr std::size_t in_features = C * H * W;
  static std::string summary_name() {
    return "Unflatten(" + std::to_string(C) + ", " + std::to_string(H) + ", " + std::to_string(W) + ")";
  }
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X) {
    static_assert(!X::shape::is_image && X::shape::batched && X::shape::cols == C * H * W,
                  "ingot::nn::Unflatten: the input must be a batch of C H W features");
    return expr::block_transpose_node<X, C, H * W, image_shape<C, H, W>>{};
  }
};

struct Flatten {
  static std::string summary_name() { return "Flatten"; }
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    using S = typename X::shape;
    if constexpr (!S::is_image) return x;
    else return expr::block_transpose_node<X, S::per_sample, S::channels, shape<batch, S::channels * S::per_sample>>{};
  }
};

}  // namespace ingot::nn
