#pragma once
// Reverse mode, done by the compiler. This is the one place where the chain
// rule is applied: the adjoint of a node is the sum, over every use of the
// node, of its user's vector-Jacobian product applied to the user's adjoint.
// Adjoints are expression types like any other, so the whole backward pass
// is a set of expressions that the planner fuses and evaluates together with
// the forward pass; there is no tape and no per-layer backward.
//
// A kernel with several outputs has one adjoint per output: the uses of
// output I (output_of<K, I>) pass theirs back as output_adjoint<I, G>, the
// uses of the kernel itself (output 0) as plain expressions, and the kernel's
// vjp receives them together as output_adjoints<G0, G1, ...>.
#include <tuple>

#include "ingot/expr/graph.hpp"

namespace ingot::expr {

namespace detail {
// Everything here is a class template computing a type: no function is
// instantiated with an expression type, which keeps the compiler's symbol
// work small for deep models.

template <class A, class G>
struct add_adjoint {
  using type = add_t<A, G>;
};
template <class G>
struct add_adjoint<no_adjoint, G> {
  using type = G;
};

template <std::size_t I, class G, class Pack, class Seq>
struct add_to_output;
template <std::size_t I, class G, class... A, std::size_t... K>
struct add_to_output<I, G, output_adjoints<A...>, std::index_sequence<K...>> {
  using type = output_adjoints<std::conditional_t<K == I, typename add_adjoint<A, G>::type, A>...>;
};

// Acc (no_adjoint, an expression or output_adjoints) plus one contribution.
template <class Acc, class C>
struct accumulate {
  using type = typename add_adjoint<Acc, C>::type;
};
template <class Acc>
struct accumulate<Acc, no_grad> {
  using type = Acc;
};
template <class... A, class C>
struct accumulate<output_adjoints<A...>, C> {
  using type = typename add_to_output<0, C, output_adjoints<A...>, std::index_sequence_for<A...>>::type;
};
template <class... A>
struct accumulate<output_adjoints<A...>, no_grad> {
  using type = output_adjoints<A...>;
};
template <class... A, std::size_t I, class G>
struct accumulate<output_adjoints<A...>, output_adjoint<I, G>> {
  using type = typename add_to_output<I, G, output_adjoints<A...>, std::index_sequence_for<A...>>::type;
};

// An adjoint that received nothing is no adjoint at all.
template <class A>
struct settled {
  using type = A;
};
template <class... A>
struct settled<output_adjoints<A...>> {
  using type = std::conditional_t<(std::is_same_v<A, no_adjoint> && ...), no_adjoint, output_adjoints<A...>>;
};

template <std::size_t>
using no_adjoint_for = no_adjoint;

template <class N, class Seq = std::make_index_sequence<num_outputs<N>>>
struct empty_adjoint {
  using type = no_adjoint;
};
template <class N, std::size_t K0, std::size_t K1, std::size_t... K>
struct empty_adjoint<N, std::index_sequence<K0, K1, K...>> {
  using type = output_adjoints<no_adjoint, no_adjoint, no_adjoint_for<K>...>;
};

template <class A>
struct is_leaf_node : std::false_type {};
template <class A>
  requires requires { A::cat; }
struct is_leaf_node<A> : std::bool_constant<A::cat == category::leaf> {};

template <class G, std::size_t K>
struct adjoint;

// Ops without a derivative (a mask, a sign, a one-hot of labels) are
// piecewise constant in their operands: nothing flows back through them.
template <class M>
struct differentiable : std::true_type {};
template <class Op, class... A>
struct differentiable<ew<Op, A...>> : std::bool_constant<op_differentiable<Op>> {};

// What operand slot Slot of user M passes back, given M's adjoint AM.
template <class M, std::size_t Slot, class AM, bool = differentiable<M>::value>
struct vjp_of {
  using type = typename M::template vjp<Slot, AM>;
};
template <class M, std::size_t Slot, class AM>
struct vjp_of<M, Slot, AM, false> {
  using type = no_grad;
};
template <class M, std::size_t Slot>
struct vjp_of<M, Slot, no_adjoint, true> {
  using type = no_grad;
};
template <class M, std::size_t Slot>
struct vjp_of<M, Slot, no_adjoint, false> {
  using type = no_grad;
};

// The sum of the contributions of uses E.. of node K.
template <class G, std::size_t K, std::size_t E, std::size_t End, class Acc>
struct sum_of_uses {
  static constexpr std::size_t user = G::table.user[E];
  using contribution = typename vjp_of<node_t<G, user>, G::table.user_slot[E], typename adjoint<G, user>::type>::type;
  using type = typename sum_of_uses<G, K, E + 1, End, typename accumulate<Acc, contribution>::type>::type;
};
template <class G, std::size_t K, std::size_t End, class Acc>
struct sum_of_uses<G, K, End, End, Acc> {
  using type = Acc;
};

// The adjoint of node K of G, whose root 0 is the scalar loss, as an
// expression (raw) and under a short name (type): a user's adjoint then
// appears in its operands' adjoints by name, not spelled out.
template <class G, std::size_t K>
struct adjoint;
template <class G, std::size_t K>
struct adjoint_def {
  using type = typename adjoint<G, K>::raw;
};
template <class G, std::size_t K, std::size_t I>
struct adjoint_part_def {
  using type = typename adjoint<G, K>::raw::template at<I>;
};

template <class A>
struct nameable : std::bool_constant<!is_leaf_node<A>::value> {};
template <>
struct nameable<no_adjoint> : std::false_type {};

template <class G, std::size_t K, class Raw>
struct named_adjoint {
  using type = std::conditional_t<nameable<Raw>::value, named<adjoint_def<G, K>>, Raw>;
};
template <class G, std::size_t K, class... A>
struct named_adjoint<G, K, output_adjoints<A...>> {
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>)
      -> output_adjoints<std::conditional_t<nameable<A>::value, named<adjoint_part_def<G, K, I>>, A>...>;
  using type = decltype(make(std::index_sequence_for<A...>{}));
};

template <class G, std::size_t K>
struct adjoint {
  using raw = typename settled<typename std::conditional_t<
      K == G::table.root[0], std::type_identity<constant<1.0>>,
      sum_of_uses<G, K, G::table.first_use[K], G::table.first_use[K + 1],
                  typename empty_adjoint<node_t<G, K>>::type>>::type>::type;
  using type = typename named_adjoint<G, K, raw>::type;
};

// Instantiates the adjoints from the loss backwards, so that each one finds
// its users' adjoints already made: the compiler's recursion stays shallow
// however deep the model.
template <class G>
struct all_adjoints {
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) -> type_list<typename adjoint<G, G::size - 1 - I>::type...>;
  using type = decltype(make(std::make_index_sequence<G::size>{}));
};

// A gradient must be something the planner can write into a buffer: a leaf
// (a constant, a parameter) is wrapped in an identity copy.
template <class S, class A, bool Leaf = is_leaf_node<A>::value>
struct as_output {
  static_assert(std::is_same_v<typename A::shape, S>, "ingot: internal error, gradient shape");
  using type = A;
};
template <class S, class A>
struct as_output<S, A, true> {
  using type = ew<expand_op<S>, A>;
};
template <class S>
struct as_output<S, no_adjoint, false> {
  using type = ew<expand_op<S>, constant<0.0>>;
};
}  // namespace detail

// The gradient of the scalar Loss with respect to P, as an expression type.
template <node Loss, node P>
struct gradient {
  using graph_type = graph_of<Loss>;
  using warm = typename detail::all_adjoints<graph_type>::type;
  static constexpr std::size_t id = graph_type::template id_of<P>;
  using adjoint_type = typename std::conditional_t<id != no_node, detail::adjoint<graph_type, id>,
                                                   std::type_identity<no_adjoint>>::type;
  using type = typename detail::as_output<typename P::shape, adjoint_type>::type;
};
template <node Loss, node P>
using grad_t = typename gradient<Loss, P>::type;

// grad(loss, W1, b1, ...) -> a std::tuple of gradient expressions, one per
// argument, each with its argument's shape. Everything here happens at
// compile time; the values are empty tags.
template <node Loss, node... P>
constexpr std::tuple<grad_t<Loss, P>...> grad(Loss, P...) {
  static_assert(is_scalar_shape<typename Loss::shape>, "ingot: grad needs a scalar loss (reduce it with sum or mean)");
  return std::tuple<grad_t<Loss, P>...>{};
}

}  // namespace ingot::expr
