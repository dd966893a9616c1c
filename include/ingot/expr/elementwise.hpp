#pragma once
// Element-wise nodes. Each op states its forward formula (on a scalar or an
// xsimd batch alike) and, right next to it, its vector-Jacobian product as an
// expression type, vjp<I, Y, G, X...>, in terms of the operands X, the
// output Y and the upstream gradient G (I: which operand). Which of x or y a rule uses decides what the forward pass must
// keep: rules that can be written with y (exp, tanh, sigmoid, relu, sqrt) let
// the pre-activation be fused away.
#include <cmath>
#include <cstdint>

#include "ingot/expr/build.hpp"
#include "ingot/expr/leaves.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::expr {

namespace detail {
template <class... S>
struct broadcast_all;
template <class S>
struct broadcast_all<S> { using type = S; };
template <class S, class T, class... Rest>
struct broadcast_all<S, T, Rest...> { using type = typename broadcast_all<broadcast_shape<S, T>, Rest...>::type; };

template <class Op, class... A>
struct result_shape_of { using type = typename broadcast_all<typename A::shape...>::type; };
template <class Op, class... A>
  requires requires { typename Op::template result_shape<typename A::shape...>; }
struct result_shape_of<Op, A...> { using type = typename Op::template result_shape<typename A::shape...>; };

template <std::size_t I, class... A>
using nth = std::tuple_element_t<I, std::tuple<A...>>;

template <class S, class V>
struct unbroadcast_vjp {
  using type = unbroadcast_t<S, V>;
};
template <class S>
struct unbroadcast_vjp<S, no_grad> {  // an operand that is an index, not a value
  using type = no_grad;
};
template <class Op, std::size_t I, class Y, class G, class... A>
struct ew_vjp {
  using type = typename unbroadcast_vjp<typename nth<I, A...>::shape, typename Op::template vjp<I, Y, G, A...>>::type;
};
}  // namespace detail

template <class Op, class... A>
struct ew : node_base {
  using shape = typename detail::result_shape_of<Op, A...>::type;
  static constexpr category cat = category::elementwise;
  static constexpr bool is_matrix = (A::is_matrix || ...) && !shape::batched;
  using children = type_list<A...>;
  using op = Op;

  // The chain rule for operand I: the op's own VJP, summed back over any
  // dimension that broadcasting stretched.
  template <std::size_t I, class G>
  using vjp = typename detail::ew_vjp<Op, I, ew, G, A...>::type;
};

template <class S>
struct expand_op {
  static constexpr bool cheap = true;
  template <class... In>
  using result_shape = S;
  template <class V>
  static V apply(const V& x) { return x; }
  template <std::size_t I, class Y, class G, class X>
  using vjp = G;
};

struct neg_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& x) { return -x; }
  template <std::size_t I, class Y, class G, class X>
  using vjp = neg_t<G>;
};

struct exp_op {
  template <class V> static V apply(const V& x) { return simd::exp(x); }
  // d exp(x) = exp(x) = y
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, Y>;
};

struct log_op {
  template <class V> static V apply(const V& x) { return simd::log(x); }
  template <std::size_t I, class Y, class G, class X>
  using vjp = div_t<G, X>;
};

struct sqrt_op {
  template <class V> static V apply(const V& x) { return simd::sqrt(x); }
  // d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y
  template <std::size_t I, class Y, class G, class X>
  using vjp = div_t<mul_t<G, constant<0.5>>, Y>;
};

struct square_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& x) { return x * x; }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, mul_t<constant<2.0>, X>>;
};

struct tanh_op {
  template <class V> static V apply(const V& x) { return simd::tanh(x); }
  // d tanh(x) = 1 - tanh(x)^2 = 1 - y^2
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, sub_t<constant<1.0>, square_t<Y>>>;
};

struct sigmoid_op {
  template <class V> static V apply(const V& x) { return V(1) / (V(1) + simd::exp(-x)); }
  // d sigmoid(x) = y (1 - y)
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, mul_t<Y, sub_t<constant<1.0>, Y>>>;
};

// 1 where x > 0, else 0 (the derivative of relu, written on its output).
struct step_op {
  static constexpr bool cheap = true;
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) { return simd::where_positive(x, V(1), V(0)); }
};

struct relu_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& x) { return simd::max(x, V(0)); }
  // relu(x) > 0 exactly where x > 0, so the mask comes from the output.
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<step_op, Y>>;
};

template <double Slope>
struct leaky_step_op {
  static constexpr bool cheap = true;
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    return simd::where_positive(x, V(1), V(static_cast<T>(Slope)));
  }
};

template <double Slope>
struct leaky_relu_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    return simd::where_positive(x, x, x * V(static_cast<T>(Slope)));
  }
  // Masked on the input: with a negative slope the output's sign says nothing.
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<leaky_step_op<Slope>, X>>;
};

// gelu'(x) = Phi(x) + x phi(x), Phi and phi the standard normal cdf and pdf.
struct gelu_grad_op {
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    const V cdf = V(T(0.5)) * (V(T(1)) + simd::erf(x * V(T(M_SQRT1_2))));
    const V pdf = V(T(0.3989422804014327)) * simd::exp(V(T(-0.5)) * x * x);
    return cdf + x * pdf;
  }
};

// PyTorch's default (exact, erf-based) GELU: x Phi(x).
struct gelu_op {
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    return V(T(0.5)) * x * (V(T(1)) + simd::erf(x * V(T(M_SQRT1_2))));
  }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<gelu_grad_op, X>>;
};

// sign(x): -1, 0 or 1 (torch.sign; the derivative of |x|, 0 at 0 as torch's).
struct sign_op {
  static constexpr bool cheap = true;
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) {
    return simd::where_positive(x, V(1), V(0)) - simd::where_positive(-x, V(1), V(0));
  }
};

struct abs_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& x) { return simd::abs(x); }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<sign_op, X>>;
};

// softplus(x) = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so
// that it never overflows; its derivative is sigmoid(x).
struct softplus_op {
  template <class V> static V apply(const V& x) {
    return simd::max(x, V(0)) + simd::log1p(simd::exp(-simd::abs(x)));
  }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<sigmoid_op, X>>;
};

// torch's smooth_l1 on a difference d: 0.5 d^2 / beta where |d| < beta,
// else |d| - 0.5 beta. Its derivative: d / beta, or sign(d).
template <double Beta>
struct smooth_l1_grad_op {
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& d) {
    using T = simd::scalar_of_t<V>;
    const V sign = simd::where_positive(d, V(1), V(0)) - simd::where_positive(-d, V(1), V(0));
    return simd::where_below(simd::abs(d), V(static_cast<T>(Beta)), d / V(static_cast<T>(Beta)), sign);
  }
};
template <double Beta>
struct smooth_l1_op {
  static_assert(Beta > 0, "ingot: smooth_l1 needs beta > 0 (beta = 0 is L1)");
  template <class V> static V apply(const V& d) {
    using T = simd::scalar_of_t<V>;
    const V a = simd::abs(d), b = V(static_cast<T>(Beta));
    return simd::where_below(a, b, V(T(0.5)) * d * d / b, a - V(T(0.5)) * b);
  }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<smooth_l1_grad_op<Beta>, X>>;
};

// torch's huber on a difference d: 0.5 d^2 where |d| < delta, else
// delta (|d| - 0.5 delta). Its derivative: d, or delta sign(d).
template <double Delta>
struct huber_grad_op {
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& d) {
    using T = simd::scalar_of_t<V>;
    const V dl = V(static_cast<T>(Delta));
    return simd::max(simd::min(d, dl), -dl);
  }
};
template <double Delta>
struct huber_op {
  static_assert(Delta > 0, "ingot: huber needs delta > 0");
  template <class V> static V apply(const V& d) {
    using T = simd::scalar_of_t<V>;
    const V a = simd::abs(d), dl = V(static_cast<T>(Delta));
    return simd::where_below(a, dl, V(T(0.5)) * d * d, dl * (a - V(T(0.5)) * dl));
  }
  template <std::size_t I, class Y, class G, class X>
  using vjp = mul_t<G, ew<huber_grad_op<Delta>, X>>;
};

struct add_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& a, const V& b) { return a + b; }
  template <std::size_t I, class Y, class G, class A, class B>
  using vjp = G;
};

struct sub_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& a, const V& b) { return a - b; }
  template <std::size_t I, class Y, class G, class A, class B>
  using vjp = std::conditional_t<I == 0, G, neg_t<G>>;
};

struct mul_op {
  static constexpr bool cheap = true;
  template <class V> static V apply(const V& a, const V& b) { return a * b; }
  template <std::size_t I, class Y, class G, class A, class B>
  using vjp = mul_t<G, std::conditional_t<I == 0, B, A>>;
};

struct div_op {
  template <class V> static V apply(const V& a, const V& b) { return a / b; }
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b
  template <std::size_t I, class Y, class G, class A, class B>
  using vjp = std::conditional_t<I == 0, div_t<G, B>, neg_t<div_t<mul_t<G, Y>, B>>>;
};

// One-hot rows from integer labels: element (i, j) is 1 where j == label[i].
// An indexed op: it reads its operand's storage by row instead of being
// handed the operand's value at (i, j), so the labels stay in memory.
template <std::size_t C>
struct onehot_op {
  static constexpr bool differentiable = false;
  static constexpr bool indexed = true;
  template <class... In>
  using result_shape = ingot::shape<batch, C>;
  template <class V>
  static V apply_indexed(std::size_t i, std::size_t j, const void* labels) {
    return simd::onehot_row<V>(j, static_cast<const std::int32_t*>(labels)[i]);
  }
};

namespace detail {
template <class Op>
struct differentiable_op : std::true_type {};
template <class Op>
  requires requires { Op::differentiable; }
struct differentiable_op<Op> : std::bool_constant<Op::differentiable> {};
template <class Op>
struct cheap_op : std::false_type {};
template <class Op>
  requires requires { Op::cheap; }
struct cheap_op<Op> : std::bool_constant<Op::cheap> {};
template <class Op>
struct indexed_op : std::false_type {};
template <class Op>
  requires requires { Op::indexed; }
struct indexed_op<Op> : std::bool_constant<Op::indexed> {};
}  // namespace detail

template <class Op>
inline constexpr bool op_differentiable = detail::differentiable_op<Op>::value;
template <class Op>
inline constexpr bool op_indexed = detail::indexed_op<Op>::value;
// A few instructions per value (arithmetic, masks, copies): the planner
// computes such a value again in each of its users rather than storing it.
template <class Op>
inline constexpr bool op_cheap = detail::cheap_op<Op>::value;

}  // namespace ingot::expr
