#pragma once
// BatchNorm1d<N>: PyTorch's nn.BatchNorm1d(N) on a batch of N-feature rows.
//   training:   y = (x - mean_B) / sqrt(var_B + eps) * weight + bias, with
//               the batch's mean and biased variance; after the step
//                 running_mean <- (1 - momentum) running_mean + momentum mean_B
//                 running_var  <- (1 - momentum) running_var
//                                 + momentum var_B n / (n - 1)   (unbiased)
//                 num_batches_tracked += 1
//   evaluation: the same formula with running_mean and running_var.
// weight starts at ones, bias at zeros, running_mean at 0, running_var at 1.
// A training batch needs at least 2 rows, as in PyTorch.
#include <cstddef>
#include <cstdio>
#include <string>

#include "ingot/core/rng.hpp"
#include "ingot/expr/operators.hpp"
#include "ingot/nn/image_checks.hpp"
#include "ingot/nn/layer.hpp"

namespace ingot::nn {

namespace detail {
// What BatchNorm1d and BatchNorm2d share: on images the rows are pixels, so
// the statistics per channel run over the batch and the pixels (n = b H W),
// and every formula is the same.
template <std::size_t N, double Eps, double Momentum, bool Image>
struct batch_norm {
  static_assert(N > 0, "ingot::nn::BatchNorm: size must be positive");
  static_assert(Eps > 0, "ingot::nn::BatchNorm: eps must be positive");
  static_assert(Momentum >= 0 && Momentum <= 1, "ingot::nn::BatchNorm: momentum lies in [0, 1]");
  static constexpr auto kind_name = Image ? fixed_string("BatchNorm2d") : fixed_string("BatchNorm1d");
  static std::string summary_name() { return std::string(kind_name.view()) + "(" + std::to_string(N) + ")"; }

  template <fixed_string Prefix>
  using weight = expr::param_leaf<concat(Prefix, fixed_string("weight")), 1, N, false>;
  template <fixed_string Prefix>
  using bias = expr::param_leaf<concat(Prefix, fixed_string("bias")), 1, N, false>;
  template <fixed_string Prefix>
  using running_mean = expr::state_leaf<concat(Prefix, fixed_string("running_mean")), N, 0.0>;
  template <fixed_string Prefix>
  using running_var = expr::state_leaf<concat(Prefix, fixed_string("running_var")), N, 1.0>;
  template <fixed_string Prefix>
  using num_batches_tracked = state_counter<concat(Prefix, fixed_string("num_batches_tracked"))>;

  template <class X>
  static constexpr bool input_ok() {
    if constexpr (Image) return diagnostics::image_input_ok<X, N>();
    else return X::shape::batched && !X::shape::is_image;
  }

  template <fixed_string Prefix, mode M, expr::node X>
  static constexpr auto forward(X x) {
    static_assert(Image || (X::shape::batched && !X::shape::is_image),
                  "ingot::nn::BatchNorm1d: the input must be a batch of rows (BatchNorm2d takes images)");
    using expr::lit;
    if constexpr (!input_ok<X>()) {
      return x;
    } else if constexpr (M == mode::train) {
      // The scale weight / sqrt(var + eps) is one row, computed once per
      // channel, so each element costs a subtract and a multiply-add (a
      // division per element was the slowest pass of a CNN step); PyTorch
      // also multiplies by the inverse standard deviation.
      const auto [mean, var] = expr::moments<0>(x);
      return (x - mean) * (weight<Prefix>{} / expr::sqrt(var + lit<Eps>)) + bias<Prefix>{};
    } else {
      return (x - running_mean<Prefix>{}) * (weight<Prefix>{} / expr::sqrt(running_var<Prefix>{} + lit<Eps>)) +
             bias<Prefix>{};
    }
  }

  template <fixed_string Prefix, expr::node X>
  static constexpr auto updates(X x) {
    if constexpr (!input_ok<X>()) {
      return type_list<>{};
    } else {
      using expr::lit;
      const auto [mean, var] = expr::moments<0>(x);
      constexpr auto keep = lit<1.0 - Momentum>;
      constexpr auto take = lit<Momentum>;
      constexpr auto unbiased = expr::unbiased_factor<concat(Prefix, kind_name), X::shape::per_sample>{};
      using new_mean = decltype(keep * running_mean<Prefix>{} + take * mean);
      using new_var = decltype(keep * running_var<Prefix>{} + take * (var * unbiased));
      return type_list<assign<running_mean<Prefix>, new_mean>, assign<running_var<Prefix>, new_var>,
                       count<num_batches_tracked<Prefix>>>{};
    }
  }

  template <fixed_string Prefix, class Arena>
  static void init(Arena& arena, rng&) {
    for (auto& w : arena.template get<weight<Prefix>>()) w = 1;
    for (auto& b : arena.template get<bias<Prefix>>()) b = 0;
  }
};
}  // namespace detail

template <std::size_t N, double Eps = 1e-5, double Momentum = 0.1>
struct BatchNorm1d : detail::batch_norm<N, Eps, Momentum, false> {
  static constexpr std::size_t in_features = N;
  static constexpr std::size_t out_features = N;
};

// BatchNorm2d<C>: PyTorch's nn.BatchNorm2d(C) on C x H x W images, with
// statistics per channel over the batch and the pixels.
template <std::size_t C, double Eps = 1e-5, double Momentum = 0.1>
struct BatchNorm2d : detail::batch_norm<C, Eps, Momentum, true> {
  static constexpr std::size_t in_channels = C;
};

}  // namespace ingot::nn
