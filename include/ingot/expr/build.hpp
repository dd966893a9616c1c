#pragma once
// Type constructors the derivative rules use. Derivative rules are written
// with these aliases, not with functions: a function instantiated with a
// deep expression type costs the compiler a long symbol name even when it is
// only evaluated at compile time, while an alias costs nothing. mul_t folds
// the trivial cases (x * 1, 1 * x), so the adjoint of a mean does not carry
// a multiplication by the seed 1. User-facing operators with their shape
// checks live in operators.hpp.
#include <type_traits>

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
struct square_op;
template <int Axis, class A>
struct sum_node;
template <double V>
struct constant;

namespace detail {
// Compared with is_same, never matched by a partial specialization: g++ 12
// crashes deducing floating-point template arguments.
template <class A>
inline constexpr bool is_one = std::is_same_v<A, constant<1.0>>;

template <class A, class B>
struct mul_fold {
  using type = std::conditional_t<is_one<A>, B, std::conditional_t<is_one<B>, A, ew<mul_op, A, B>>>;
};

template <class S, class G, class GS = typename G::shape>
struct expand {
  using type = ew<expand_op<S>, G>;
};
template <class S, class G>
struct expand<S, G, S> {
  using type = G;
};

// The adjoint of a broadcast operand: sum g over the dimensions that were
// stretched, so the gradient has the operand's own shape.
template <class S, class G, class GS = typename G::shape>
struct unbroadcast {
  static constexpr int axis = (S::rows_ct == 1 && S::cols == 1) ? -1 : (S::rows_ct == 1 && GS::rows_ct != 1) ? 0 : 1;
  static_assert(axis != 0 || S::cols == GS::cols, "ingot: internal error, unbroadcast over rows");
  static_assert(axis != 1 || (S::cols == 1 && S::rows_ct == GS::rows_ct),
                "ingot: internal error, unbroadcast over columns");
  using type = sum_node<axis, G>;
};
template <class S, class G>
struct unbroadcast<S, G, S> {
  using type = G;
};
}  // namespace detail

template <class A, class B>
using add_t = ew<add_op, A, B>;
template <class A, class B>
using sub_t = ew<sub_op, A, B>;
template <class A, class B>
using mul_t = typename detail::mul_fold<A, B>::type;
template <class A, class B>
using div_t = ew<div_op, A, B>;
template <class A>
using neg_t = ew<neg_op, A>;
template <class A>
using square_t = ew<square_op, A>;
// g broadcast to shape S (a view: no copy unless a consumer needs memory).
template <class S, class G>
using expand_t = typename detail::expand<S, G>::type;
template <class S, class G>
using unbroadcast_t = typename detail::unbroadcast<S, G>::type;

}  // namespace ingot::expr
