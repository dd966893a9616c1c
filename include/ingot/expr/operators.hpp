#pragma once
// The expression language a user writes. Shapes are checked here, at the
// call the user wrote, with a message that says what was expected; nothing
// deeper in the library has to explain a shape error.
//
//   x + b, x - y, x * y, x / y   element-wise, broadcasting a row or a scalar
//   W * x                        matrix times per-sample vector (W a matrix param)
//   A * B                        matrix product of two matrices
//   matmul(a, b)                 plain matrix product of the stored values
//   hadamard(a, b)               element-wise product, also of two matrices
//   exp log sqrt square tanh sigmoid relu leaky_relu<s> gelu, -x
//   sum(x) mean(x) sum<axis>(x) mean<axis>(x)   axis 0: over rows, 1: over columns
//   softmax(x) log_softmax(x)    over the features of each row
//   moments<axis>(x)             {mean, biased variance}: axis 0 over rows, 1 over columns
//   cross_entropy(z, labels)     mean over the batch of -log softmax(z)[label]
#include <type_traits>

#include "ingot/expr/kernels/cross_entropy.hpp"
#include "ingot/expr/kernels/matmul.hpp"
#include "ingot/expr/kernels/moments.hpp"
#include "ingot/expr/kernels/softmax.hpp"
#include "ingot/expr/kernels/sum.hpp"

namespace ingot::expr {

namespace diagnostics {
// Instantiated only to carry sizes into a compiler message.
template <std::size_t LeftRows, std::size_t LeftCols, std::size_t RightRows, std::size_t RightCols>
struct elementwise_operands {
  static_assert(ingot::detail::dims_broadcast(LeftRows, RightRows) && ingot::detail::dims_broadcast(LeftCols, RightCols),
                "ingot: element-wise operands must have equal shapes, or 1 where one of them is broadcast "
                "(shapes are <rows, cols> above; 18446744073709551615 rows means the batch)");
  static constexpr bool ok = true;
};
template <std::size_t MatrixCols, std::size_t VectorFeatures>
struct matrix_times_vector {
  static_assert(MatrixCols == VectorFeatures,
                "ingot: W * x needs as many columns in W as features in x (see <MatrixCols, VectorFeatures> above)");
  static constexpr bool ok = MatrixCols == VectorFeatures;
};
template <std::size_t LeftCols, std::size_t RightRows>
struct matrix_product {
  static_assert(LeftCols == RightRows,
                "ingot: A * B needs as many columns in A as rows in B (see <LeftCols, RightRows> above)");
  static constexpr bool ok = LeftCols == RightRows;
};
template <class T>
inline constexpr bool always_false = false;
}  // namespace diagnostics

template <class A, class B>
constexpr bool check_elementwise() {
  return diagnostics::elementwise_operands<A::shape::rows_ct, A::shape::cols, B::shape::rows_ct, B::shape::cols>::ok;
}

#define INGOT_UNARY(fn, opname)                          \
  template <node A>                                      \
  constexpr auto fn(A) { return ew<opname, A>{}; }
INGOT_UNARY(exp, exp_op)
INGOT_UNARY(log, log_op)
INGOT_UNARY(sqrt, sqrt_op)
INGOT_UNARY(square, square_op)
INGOT_UNARY(tanh, tanh_op)
INGOT_UNARY(sigmoid, sigmoid_op)
INGOT_UNARY(relu, relu_op)
INGOT_UNARY(gelu, gelu_op)
INGOT_UNARY(abs, abs_op)
INGOT_UNARY(softplus, softplus_op)
#undef INGOT_UNARY

template <double Slope = 0.01, node A>
constexpr auto leaky_relu(A) { return ew<leaky_relu_op<Slope>, A>{}; }

template <double Beta = 1.0, node A>
constexpr auto smooth_l1(A) { return ew<smooth_l1_op<Beta>, A>{}; }
template <double Delta = 1.0, node A>
constexpr auto huber(A) { return ew<huber_op<Delta>, A>{}; }

template <node A>
constexpr auto operator-(A) { return ew<neg_op, A>{}; }

template <node A, node B>
constexpr auto operator+(A, B) {
  static_assert(check_elementwise<A, B>());
  return ew<add_op, A, B>{};
}
template <node A, node B>
constexpr auto operator-(A, B) {
  static_assert(check_elementwise<A, B>());
  return ew<sub_op, A, B>{};
}
template <node A, node B>
constexpr auto operator/(A, B) {
  static_assert(check_elementwise<A, B>());
  return ew<div_op, A, B>{};
}

// Element-wise product whatever the operands are (for two matrices, where
// operator* means the matrix product).
template <node A, node B>
constexpr auto hadamard(A, B) {
  static_assert(check_elementwise<A, B>());
  return ew<mul_op, A, B>{};
}

template <node A, node B>
constexpr auto matmul(A, B) {
  if constexpr (!diagnostics::matrix_product<A::shape::cols, B::shape::rows_ct>::ok) return A{};
  else return matmul_node<false, false, A, B>{};
}

// A matrix on the left multiplies (per sample, for a batched right side);
// anything else multiplies element-wise.
template <node A, node B>
constexpr auto operator*(A, B) {
  // After a failed shape check the left operand is returned unchanged, so
  // that the message above is the only error.
  if constexpr (A::is_matrix && B::is_matrix) {
    if constexpr (!diagnostics::matrix_product<A::shape::cols, B::shape::rows_ct>::ok) return A{};
    else return matmul_node<false, false, A, B>{};
  } else if constexpr (A::is_matrix) {
    // Rows of B are samples: (W x_i) for each i is X W^T.
    if constexpr (!diagnostics::matrix_times_vector<A::shape::cols, B::shape::cols>::ok) return A{};
    else return matmul_node<false, true, B, A, false>{};
  } else {
    static_assert(check_elementwise<A, B>());
    return ew<mul_op, A, B>{};
  }
}

#define INGOT_NO_RUNTIME_SCALAR(op)                                                                       \
  template <node A, class S>                                                                              \
    requires std::is_arithmetic_v<S>                                                                      \
  constexpr auto operator op(A, S) {                                                                      \
    static_assert(diagnostics::always_false<S>,                                                           \
                  "ingot: an expression holds no run-time numbers; write a constant as expr::lit<2.0>"); \
    return A{};                                                                                           \
  }                                                                                                       \
  template <node A, class S>                                                                              \
    requires std::is_arithmetic_v<S>                                                                      \
  constexpr auto operator op(S, A) {                                                                      \
    static_assert(diagnostics::always_false<S>,                                                           \
                  "ingot: an expression holds no run-time numbers; write a constant as expr::lit<2.0>"); \
    return A{};                                                                                           \
  }
INGOT_NO_RUNTIME_SCALAR(+)
INGOT_NO_RUNTIME_SCALAR(-)
INGOT_NO_RUNTIME_SCALAR(*)
INGOT_NO_RUNTIME_SCALAR(/)
#undef INGOT_NO_RUNTIME_SCALAR

template <int Axis = -1, node A>
constexpr auto sum(A) { return sum_node<Axis, A>{}; }

// mean = sum * (1 / count); the count may depend on the run-time batch.
template <int Axis = -1, node A>
constexpr auto mean(A) {
  using S = typename A::shape;
  using counted = std::conditional_t<Axis == 0, ingot::shape<S::rows_ct, 1>,
                                     std::conditional_t<Axis == 1, ingot::shape<1, S::cols>, S>>;
  return ew<mul_op, sum_node<Axis, A>, inv_count<counted>>{};
}

template <node A>
constexpr auto softmax(A) { return softmax_node<A>{}; }
template <node A>
constexpr auto log_softmax(A) { return log_softmax_node<A>{}; }

// Mean over the batch of -log softmax(logits)[label]: PyTorch's
// CrossEntropyLoss with integer targets and reduction='mean'.
template <node A, class L>
constexpr auto cross_entropy(A, L) {
  static_assert(is_labels_v<L>, "ingot: cross_entropy takes integer labels (expr::labels<\"name\">) as its target");
  static_assert(A::shape::batched, "ingot: cross_entropy takes a batch of logits");
  return mean(softmax_xent_node<A, L>{});
}

}  // namespace ingot::expr
