#pragma once
// Element-wise nodes. Each op states its forward formula (on a scalar or an
// xsimd batch alike) and, right next to it, its vector-Jacobian product as an
// expression in terms of the operands x, the output y and the upstream
// gradient g. Which of x or y a rule uses decides what the forward pass must
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
}  // namespace detail

template <class Op, class... A>
struct ew : node_base {
  using shape = typename detail::result_shape_of<Op, A...>::type;
  static constexpr category cat = category::elementwise;
  static constexpr bool is_matrix = (A::is_matrix || ...) && !shape::batched;
  static constexpr auto children = hana::tuple_t<A...>;
  using op = Op;

  // The chain rule for operand I: the op's own VJP, summed back over any
  // dimension that broadcasting stretched.
  template <std::size_t I, class G>
  static constexpr auto vjp(G g) {
    auto local = Op::template vjp<I>(ew{}, g, A{}...);
    if constexpr (std::is_same_v<decltype(local), no_grad>) return no_grad{};
    else return unbroadcast<typename detail::nth<I, A...>::shape>(local);
  }
};

template <class S>
struct expand_op {
  template <class... In>
  using result_shape = S;
  template <class V>
  static V apply(const V& x) { return x; }
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X) { return g; }
};

struct neg_op {
  template <class V> static V apply(const V& x) { return -x; }
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X) { return neg(g); }
};

struct exp_op {
  template <class V> static V apply(const V& x) { return simd::exp(x); }
  // d exp(x) = exp(x) = y
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y y, G g, X) { return mul(g, y); }
};

struct log_op {
  template <class V> static V apply(const V& x) { return simd::log(x); }
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X x) { return div(g, x); }
};

struct sqrt_op {
  template <class V> static V apply(const V& x) { return simd::sqrt(x); }
  // d sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / y
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y y, G g, X) { return div(mul(g, constant<0.5>{}), y); }
};

struct square_op {
  template <class V> static V apply(const V& x) { return x * x; }
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X x) { return mul(g, mul(constant<2.0>{}, x)); }
};

struct tanh_op {
  template <class V> static V apply(const V& x) { return simd::tanh(x); }
  // d tanh(x) = 1 - tanh(x)^2 = 1 - y^2
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X) { return mul(g, sub(constant<1.0>{}, ew<square_op, Y>{})); }
};

struct sigmoid_op {
  template <class V> static V apply(const V& x) { return V(1) / (V(1) + simd::exp(-x)); }
  // d sigmoid(x) = y (1 - y)
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y y, G g, X) { return mul(g, mul(y, sub(constant<1.0>{}, y))); }
};

// 1 where x > 0, else 0 (the derivative of relu, written on its output).
struct step_op {
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) { return simd::where_positive(x, V(1), V(0)); }
};

struct relu_op {
  template <class V> static V apply(const V& x) { return simd::max(x, V(0)); }
  // relu(x) > 0 exactly where x > 0, so the mask comes from the output.
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X) { return mul(g, ew<step_op, Y>{}); }
};

template <double Slope>
struct leaky_step_op {
  static constexpr bool differentiable = false;
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    return simd::where_positive(x, V(1), V(static_cast<T>(Slope)));
  }
};

template <double Slope>
struct leaky_relu_op {
  template <class V> static V apply(const V& x) {
    using T = simd::scalar_of_t<V>;
    return simd::where_positive(x, x, x * V(static_cast<T>(Slope)));
  }
  // Masked on the input: with a negative slope the output's sign says nothing.
  template <std::size_t I, class Y, class G, class X>
  static constexpr auto vjp(Y, G g, X) { return mul(g, ew<leaky_step_op<Slope>, X>{}); }
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
  static constexpr auto vjp(Y, G g, X) { return mul(g, ew<gelu_grad_op, X>{}); }
};

struct add_op {
  template <class V> static V apply(const V& a, const V& b) { return a + b; }
  template <std::size_t I, class Y, class G, class A, class B>
  static constexpr auto vjp(Y, G g, A, B) { return g; }
};

struct sub_op {
  template <class V> static V apply(const V& a, const V& b) { return a - b; }
  template <std::size_t I, class Y, class G, class A, class B>
  static constexpr auto vjp(Y, G g, A, B) {
    if constexpr (I == 0) return g;
    else return neg(g);
  }
};

struct mul_op {
  template <class V> static V apply(const V& a, const V& b) { return a * b; }
  template <std::size_t I, class Y, class G, class A, class B>
  static constexpr auto vjp(Y, G g, A a, B b) {
    if constexpr (I == 0) return mul(g, b);
    else return mul(g, a);
  }
};

struct div_op {
  template <class V> static V apply(const V& a, const V& b) { return a / b; }
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -y/b
  template <std::size_t I, class Y, class G, class A, class B>
  static constexpr auto vjp(Y y, G g, A, B b) {
    if constexpr (I == 0) return div(g, b);
    else return neg(div(mul(g, y), b));
  }
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
  static V apply_indexed(std::size_t i, std::size_t j, const std::int32_t* labels) {
    return simd::onehot_row<V>(j, labels[i]);
  }
};

template <class Op>
inline constexpr bool op_differentiable = [] {
  if constexpr (requires { Op::differentiable; }) return Op::differentiable;
  else return true;
}();

template <class Op>
inline constexpr bool op_indexed = [] {
  if constexpr (requires { Op::indexed; }) return Op::indexed;
  else return false;
}();

}  // namespace ingot::expr
