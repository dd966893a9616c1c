#pragma once
// Dense<In, Out>: y = W x + b per sample, PyTorch's nn.Linear. The layer only
// builds that expression; its gradient comes from expr::grad like any other.
#include <cmath>
#include <cstddef>

#include "ingot/core/rng.hpp"
#include "ingot/expr/operators.hpp"

namespace ingot::nn {

template <std::size_t In, std::size_t Out>
struct Dense {
  static_assert(In > 0 && Out > 0, "ingot::nn::Dense: sizes must be positive");
  static constexpr std::size_t in_features = In;
  static constexpr std::size_t out_features = Out;
  // W x + b per sample: In multiplies and In adds per output (the bias as the last add).
  static constexpr std::size_t flops_per_sample() { return 2 * In * Out; }

  template <fixed_string Prefix>
  using weight = expr::param_leaf<concat(Prefix, fixed_string("weight")), Out, In, true>;
  template <fixed_string Prefix>
  using bias = expr::param_leaf<concat(Prefix, fixed_string("bias")), 1, Out, false>;

  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X) {
    return weight<Prefix>{} * X{} + bias<Prefix>{};
  }

  // PyTorch's Linear.reset_parameters: kaiming_uniform_(a = sqrt(5)) on the
  // weight, which is U(-1/sqrt(In), 1/sqrt(In)), and the same bound for the bias.
  template <fixed_string Prefix, class Arena>
  static void init(Arena& arena, rng& g) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(In));
    g.fill_uniform(arena.template get<weight<Prefix>>(), -bound, bound);
    g.fill_uniform(arena.template get<bias<Prefix>>(), -bound, bound);
  }
};

}  // namespace ingot::nn
