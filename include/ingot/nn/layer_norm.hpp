#pragma once
// LayerNorm<N>: PyTorch's nn.LayerNorm(N) over the last dimension. Each row
// is normalised by its own mean and biased variance,
//   y = (x - mean) / sqrt(var + eps) * weight + bias,
// with weight (ones) and bias (zeros) when ElementwiseAffine. The same in
// training and evaluation. The statistics are the moments kernel (one node,
// two outputs); the gradient is derived.
#include <cstddef>
#include <cstdio>
#include <string>

#include "ingot/core/rng.hpp"
#include "ingot/expr/operators.hpp"
#include "ingot/nn/layer.hpp"

namespace ingot::nn {

template <std::size_t N, double Eps = 1e-5, bool ElementwiseAffine = true>
struct LayerNorm {
  static_assert(N > 0, "ingot::nn::LayerNorm: size must be positive");
  static_assert(Eps > 0, "ingot::nn::LayerNorm: eps must be positive");
  static std::string summary_name() { return "LayerNorm(" + std::to_string(N) + ")"; }
  static constexpr std::size_t in_features = N;
  static constexpr std::size_t out_features = N;

  template <fixed_string Prefix>
  using weight = expr::param_leaf<concat(Prefix, fixed_string("weight")), 1, N, false>;
  template <fixed_string Prefix>
  using bias = expr::param_leaf<concat(Prefix, fixed_string("bias")), 1, N, false>;

  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) {
    const auto [mean, var] = expr::moments<1>(x);
    const auto normalised = (x - mean) / expr::sqrt(var + expr::lit<Eps>);
    if constexpr (ElementwiseAffine) return normalised * weight<Prefix>{} + bias<Prefix>{};
    else return normalised;
  }

  template <fixed_string Prefix, class Arena>
  static void init(Arena& arena, rng&) {
    if constexpr (ElementwiseAffine) {
      for (auto& w : arena.template get<weight<Prefix>>()) w = 1;
      for (auto& b : arena.template get<bias<Prefix>>()) b = 0;
    }
  }
};

}  // namespace ingot::nn
