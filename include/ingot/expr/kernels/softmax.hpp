#pragma once
// Softmax and log-softmax over the columns of each row.
#include <cstddef>

#include "ingot/expr/elementwise.hpp"
#include "ingot/expr/kernels/sum.hpp"
#include "ingot/simd/rows.hpp"

namespace ingot::expr {

// Each row is read twice (its maximum, then its exponentials), so the
// operand is kept in memory; rows are independent.
inline constexpr kernel_traits row_kernel_traits{.operands_in_memory = true, .epilogue = false, .row_split = true};

struct softmax_kernel {
  using kind = softmax_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits = row_kernel_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    const std::size_t C = ctx.in_cols(0), r0 = ctx.row_begin();
    simd::softmax_rows(ctx.template in<0>() + r0 * C, ctx.template out<0>() + r0 * C, ctx.row_end() - r0, C);
  }
};

struct log_softmax_kernel {
  using kind = log_softmax_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits = row_kernel_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    const std::size_t C = ctx.in_cols(0), r0 = ctx.row_begin();
    simd::log_softmax_rows(ctx.template in<0>() + r0 * C, ctx.template out<0>() + r0 * C, ctx.row_end() - r0, C);
  }
};

template <class A>
struct softmax_node : node_base, softmax_kernel {
  using shape = typename A::shape;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix;
  using children = type_list<A>;

  // dx = y * (g - sum_j g_j y_j), row by row.
  template <std::size_t I, class G>
  using vjp = mul_t<softmax_node, sub_t<G, sum_node<1, mul_t<G, softmax_node>>>>;
};

template <class A>
struct log_softmax_node : node_base, log_softmax_kernel {
  using shape = typename A::shape;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix;
  using children = type_list<A>;

  // y = x - logsumexp(x): dx = g - exp(y) * sum_j g_j.
  template <std::size_t I, class G>
  using vjp = sub_t<G, mul_t<ew<exp_op, log_softmax_node>, sum_node<1, G>>>;
};

}  // namespace ingot::expr
