#pragma once
// Kernel nodes: each runs its own loop (a GEMM, a reduction, a row-wise
// softmax) into a buffer of its own. Their derivative rules are expressions
// too, built from the same nodes, so the backward pass of a kernel is planned
// and fused like any other part of the graph.
#include "ingot/expr/elementwise.hpp"

namespace ingot::expr {

// op(A) * op(B), where op transposes when TA / TB is set. The transposes are
// never materialised: the GEMM packs operands in the order it needs.
// Matrix says whether the result counts as a matrix for operator* (W * v of
// a matrix and a vector is a vector).
template <bool TA, bool TB, class A, class B, bool Matrix = (TA ? A::shape::cols : A::shape::rows_ct) != batch>
struct matmul_node : node_base {
  using SA = typename A::shape;
  using SB = typename B::shape;
  static constexpr std::size_t M = TA ? SA::cols : SA::rows_ct;
  static constexpr std::size_t K = TA ? SA::rows_ct : SA::cols;
  static constexpr std::size_t KB = TB ? SB::cols : SB::rows_ct;
  static constexpr std::size_t N = TB ? SB::rows_ct : SB::cols;
  static_assert(K == KB, "ingot: matmul inner dimensions differ");
  static_assert(N != batch, "ingot: a matmul result cannot have the batch as its columns");
  static constexpr bool trans_a = TA;
  static constexpr bool trans_b = TB;
  using shape = ingot::shape<M, N>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = Matrix;
  static constexpr auto children = hana::tuple_t<A, B>;

  // C = op(A) op(B):  dA = dC op(B)^T (or its transpose when TA),
  //                   dB = op(A)^T dC (or its transpose when TB).
  template <std::size_t I, class G>
  static constexpr auto vjp(G) {
    if constexpr (I == 0) {
      if constexpr (!TA) return matmul_node<false, !TB, G, B>{};
      else return matmul_node<TB, true, B, G>{};
    } else {
      if constexpr (!TB) return matmul_node<!TA, false, A, G>{};
      else return matmul_node<true, TA, G, A>{};
    }
  }
};

// Sum over rows (Axis 0, giving a row), over columns (Axis 1, giving a
// column) or over everything (Axis -1, giving a scalar).
template <int Axis, class A>
struct sum_node : node_base {
  static_assert(Axis == 0 || Axis == 1 || Axis == -1, "ingot: sum axis must be 0, 1 or -1 (all)");
  using SA = typename A::shape;
  static constexpr int axis = Axis;
  using shape = std::conditional_t<Axis == 0, ingot::shape<1, SA::cols>,
                                   std::conditional_t<Axis == 1, ingot::shape<SA::rows_ct, 1>, scalar_shape>>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix && Axis != -1;
  static constexpr auto children = hana::tuple_t<A>;

  // Every summed element receives the gradient of its sum.
  template <std::size_t I, class G>
  static constexpr auto vjp(G g) { return expand<SA>(g); }
};

// Softmax over the columns of each row.
template <class A>
struct softmax_node : node_base {
  using shape = typename A::shape;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix;
  static constexpr auto children = hana::tuple_t<A>;

  // dx = y * (g - sum_j g_j y_j), row by row.
  template <std::size_t I, class G>
  static constexpr auto vjp(G g) {
    return mul(softmax_node{}, sub(g, sum_node<1, decltype(mul(g, softmax_node{}))>{}));
  }
};

template <class A>
struct log_softmax_node : node_base {
  using shape = typename A::shape;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = A::is_matrix;
  static constexpr auto children = hana::tuple_t<A>;

  // y = x - logsumexp(x): dx = g - exp(y) * sum_j g_j.
  template <std::size_t I, class G>
  static constexpr auto vjp(G) {
    return sub(G{}, mul(ew<exp_op, log_softmax_node>{}, sum_node<1, G>{}));
  }
};

// Per-row cross-entropy of logits against integer labels:
// loss_i = logsumexp(x_i) - x_i[label_i], computed stably in one pass.
template <class A, class L>
struct softmax_xent_node : node_base {
  using shape = ingot::shape<A::shape::rows_ct, 1>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  static constexpr auto children = hana::tuple_t<A, L>;

  // dx_i = (softmax(x_i) - onehot(label_i)) * g_i; labels take no gradient.
  template <std::size_t I, class G>
  static constexpr auto vjp(G g) {
    if constexpr (I == 1) return no_grad{};
    else return mul(sub(softmax_node<A>{}, ew<onehot_op<A::shape::cols>, L>{}), g);
  }
};

template <class N>
struct is_matmul : std::false_type {};
template <bool TA, bool TB, class A, class B, bool M>
struct is_matmul<matmul_node<TA, TB, A, B, M>> : std::true_type {};
template <class N>
struct is_sum : std::false_type {};
template <int Ax, class A>
struct is_sum<sum_node<Ax, A>> : std::true_type {};
template <class N>
struct is_softmax : std::false_type {};
template <class A>
struct is_softmax<softmax_node<A>> : std::true_type {};
template <class N>
struct is_log_softmax : std::false_type {};
template <class A>
struct is_log_softmax<log_softmax_node<A>> : std::true_type {};
template <class N>
struct is_xent : std::false_type {};
template <class A, class L>
struct is_xent<softmax_xent_node<A, L>> : std::true_type {};

}  // namespace ingot::expr
