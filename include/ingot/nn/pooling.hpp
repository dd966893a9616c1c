#pragma once
// Pooling layers on channels-last images:
//   MaxPool2d<K, S = K>   PyTorch's nn.MaxPool2d(K, S)  (no padding)
//   AvgPool2d<K, S = K>   PyTorch's nn.AvgPool2d(K, S)  (no padding)
//   GlobalAvgPool2d       PyTorch's nn.AdaptiveAvgPool2d(1): C x 1 x 1
#include <cstddef>
#include <string>

#include "ingot/expr/kernels/pool.hpp"
#include "ingot/nn/image_checks.hpp"

namespace ingot::nn {

namespace detail {
template <class X, std::size_t KH, std::size_t KW, std::size_t SH, std::size_t SW>
constexpr simd::pool_geometry pool_geometry_of() {
  using S = typename X::shape;
  return {S::channels, S::height, S::width, KH, KW, SH, SW};
}

template <class X>
constexpr bool pool_input_ok() {
  return diagnostics::layer_input_image<0, X::shape::is_image>::ok;
}
}  // namespace detail

template <std::size_t K, std::size_t S = K>
struct MaxPool2d {
  static_assert(K > 0 && S > 0, "ingot::nn::MaxPool2d: kernel and stride must be positive");
  static std::string summary_name() { return "MaxPool2d(" + std::to_string(K) + ", " + std::to_string(S) + ")"; }
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    if constexpr (!detail::pool_input_ok<X>()) return x;
    else if constexpr (!diagnostics::window_fits<X::shape::height, X::shape::width, K, K>::ok) return x;
    else return expr::max_pool_node<X, detail::pool_geometry_of<X, K, K, S, S>()>{};
  }
};

template <std::size_t K, std::size_t S = K>
struct AvgPool2d {
  static_assert(K > 0 && S > 0, "ingot::nn::AvgPool2d: kernel and stride must be positive");
  static std::string summary_name() { return "AvgPool2d(" + std::to_string(K) + ", " + std::to_string(S) + ")"; }
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    if constexpr (!detail::pool_input_ok<X>()) return x;
    else if constexpr (!diagnostics::window_fits<X::shape::height, X::shape::width, K, K>::ok) return x;
    else return expr::avg_pool_node<X, detail::pool_geometry_of<X, K, K, S, S>()>{};
  }
};

struct GlobalAvgPool2d {
  static std::string summary_name() { return "GlobalAvgPool2d"; }
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    if constexpr (!detail::pool_input_ok<X>()) {
      return x;
    } else {
      using S = typename X::shape;
      return expr::avg_pool_node<X, detail::pool_geometry_of<X, S::height, S::width, S::height, S::width>()>{};
    }
  }
};

}  // namespace ingot::nn
