#pragma once
// Mean and biased variance of X over its rows (Axis 0: one value per column,
// the batch statistics of BatchNorm) or over its columns (Axis 1: one value
// per row, the statistics of LayerNorm). A kernel with two outputs: 0 is the
// mean, 1 the variance; both come from two passes over X (the mean, then the
// squared deviations from it, which is exact where one pass of sums of
// squares would cancel).
#include <cstddef>

#include "ingot/expr/elementwise.hpp"
#include "ingot/expr/outputs.hpp"
#include "ingot/simd/moments.hpp"

namespace ingot::expr {

template <int Axis>
struct moments_kernel {
  using kind = moments_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = false, .row_split = Axis == 1};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    const auto* x = ctx.template in<0>();
    const std::size_t C = ctx.in_cols(0);
    if constexpr (Axis == 0) {
      simd::column_moments(x, ctx.in_rows(0), C, ctx.template out<0>(), ctx.template out<1>());
    } else {
      const std::size_t r0 = ctx.row_begin();
      simd::row_moments(x + r0 * C, ctx.row_end() - r0, C, ctx.template out<0>() + r0, ctx.template out<1>() + r0);
    }
  }
};

template <int Axis, class X>
struct moments_node : node_base, moments_kernel<Axis> {
  static_assert(Axis == 0 || Axis == 1, "ingot: moments are taken over axis 0 (rows) or 1 (columns)");
  using SX = typename X::shape;
  using shape = std::conditional_t<Axis == 0, ingot::shape<1, SX::cols>, ingot::shape<SX::rows_ct, 1>>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X>;

  static constexpr std::size_t num_outputs = 2;
  template <std::size_t I>
  using output_shape = shape;
  static constexpr bool output_optional(std::size_t) { return false; }

  using variance = output_of<moments_node, 1>;

  // With n the count reduced over, mean = sum x / n and
  // var = sum (x - mean)^2 / n:
  //   d mean / dx = 1 / n;   d var / dx = 2 (x - mean) / n
  // (the term through the mean vanishes: the deviations sum to zero).
  using inv_n = inv_count<std::conditional_t<Axis == 0, ingot::shape<SX::rows_ct, 1>, ingot::shape<1, SX::cols>>>;
  struct mean_term {
    template <class G>
    using apply = expand_t<SX, mul_t<G, inv_n>>;
  };
  struct variance_term {
    template <class G>
    using apply = mul_t<sub_t<X, moments_node>, mul_t<G, mul_t<constant<2.0>, inv_n>>>;
  };
  template <std::size_t O, class G>
  using term = typename std::conditional_t<O == 0, mean_term, variance_term>::template apply<G>;
  template <std::size_t I, class Adj>
  using vjp = typename Adj::template sum<term>;
};

template <class Mean, class Variance>
struct moments_pair {
  Mean mean;
  Variance variance;
};

// The mean and biased variance of x over Axis: auto [m, v] = moments<0>(x).
template <int Axis, node X>
constexpr auto moments(X) {
  using K = moments_node<Axis, X>;
  return moments_pair<K, typename K::variance>{};
}

}  // namespace ingot::expr
