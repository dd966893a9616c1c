#pragma once
// Per-row cross-entropy of logits against integer labels, a kernel with two
// outputs: 0 is loss_i = logsumexp(x_i) - x_i[label_i], 1 is softmax(x_i).
// One pass over each row gives both; output 1 is optional and only computed
// in a plan that reads it (the gradient does: dx = (softmax - onehot) * g).
#include <cstddef>
#include <cstdint>

#include "ingot/expr/kernels/softmax.hpp"
#include "ingot/expr/outputs.hpp"
#include "ingot/simd/rows.hpp"

namespace ingot::expr {

struct softmax_xent_kernel {
  using kind = softmax_xent_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits = row_kernel_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    using T = typename Ctx::value_type;
    const std::size_t C = ctx.in_cols(0), r0 = ctx.row_begin();
    T* probs = ctx.template out<1>();
    simd::softmax_xent_rows(ctx.template in<0>() + r0 * C, ctx.template labels<1>() + r0, ctx.template out<0>() + r0,
                            ctx.row_end() - r0, C, probs ? probs + r0 * C : probs, r0);
  }
};

template <class A, class L>
struct softmax_xent_node : node_base, softmax_xent_kernel {
  using shape = ingot::shape<A::shape::rows_ct, 1>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<A, L>;

  static constexpr std::size_t num_outputs = 2;
  template <std::size_t I>
  using output_shape = std::conditional_t<I == 0, shape, typename A::shape>;
  static constexpr bool output_optional(std::size_t i) { return i == 1; }

  using probs = output_of<softmax_xent_node, 1>;

  // With g0 the loss rows' adjoint and g1 the probabilities':
  // dx = (p - onehot(label)) * g0  +  p * (g1 - sum_j g1_j p_j).
  // Labels take no gradient.
  struct loss_term {
    template <class G>
    using apply = mul_t<sub_t<probs, ew<onehot_op<A::shape::cols>, L>>, G>;
  };
  struct probs_term {
    template <class G>
    using apply = mul_t<probs, sub_t<G, sum_node<1, mul_t<G, probs>>>>;
  };
  template <std::size_t O, class G>
  using term = typename std::conditional_t<O == 0, loss_term, probs_term>::template apply<G>;
  template <std::size_t I, class Adj>
  using vjp = std::conditional_t<I == 0, typename Adj::template sum<term>, no_grad>;
};

}  // namespace ingot::expr
