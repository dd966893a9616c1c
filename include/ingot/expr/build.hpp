#pragma once
// Constructors the derivative rules use. They build element-wise nodes with
// broadcasting and fold the trivial cases (x * 1, 1 * x), so the adjoint of
// a mean does not carry a multiplication by the seed 1. User-facing
// operators with their shape checks live in operators.hpp.
#include "ingot/expr/node.hpp"

namespace ingot::expr {

template <class Op, class... A>
struct ew;
template <class S>
struct expand_op;
struct add_op;
struct sub_op;
struct mul_op;
struct div_op;
struct neg_op;
template <int Axis, class A>
struct sum_node;
template <double V>
struct constant;

template <class A, class B>
constexpr auto add(A, B) { return ew<add_op, A, B>{}; }
template <class A, class B>
constexpr auto sub(A, B) { return ew<sub_op, A, B>{}; }
template <class A, class B>
constexpr auto mul(A, B) {
  if constexpr (std::is_same_v<A, constant<1.0>> && !std::is_same_v<B, constant<1.0>>) return B{};
  else if constexpr (std::is_same_v<B, constant<1.0>>) return A{};
  else return ew<mul_op, A, B>{};
}
template <class A, class B>
constexpr auto div(A, B) { return ew<div_op, A, B>{}; }
template <class A>
constexpr auto neg(A) { return ew<neg_op, A>{}; }

// Broadcast g to shape S (a view: no copy unless a consumer needs memory).
template <class S, class G>
constexpr auto expand(G) {
  if constexpr (std::is_same_v<S, typename G::shape>) return G{};
  else return ew<expand_op<S>, G>{};
}

// The adjoint of a broadcast operand: sum g over the dimensions that were
// stretched, so the gradient has the operand's own shape.
template <class S, class G>
constexpr auto unbroadcast(G) {
  using GS = typename G::shape;
  if constexpr (std::is_same_v<S, GS>) return G{};
  else if constexpr (S::rows_ct == 1 && S::cols == 1) return sum_node<-1, G>{};
  else if constexpr (S::rows_ct == 1 && GS::rows_ct != 1) {
    static_assert(S::cols == GS::cols, "ingot: internal error, unbroadcast over rows");
    return sum_node<0, G>{};
  } else {
    static_assert(S::cols == 1 && S::rows_ct == GS::rows_ct, "ingot: internal error, unbroadcast over columns");
    return sum_node<1, G>{};
  }
}

}  // namespace ingot::expr
