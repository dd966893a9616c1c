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
template <class A, class G>
constexpr auto add_adjoint(A, G) {
  if constexpr (std::is_same_v<A, no_adjoint>) return G{};
  else return add(A{}, G{});
}

template <std::size_t I, class G, class... A, std::size_t... K>
constexpr auto add_to_output(output_adjoints<A...>, G, std::index_sequence<K...>) {
  return output_adjoints<std::conditional_t<K == I, decltype(add_adjoint(A{}, G{})), A>...>{};
}

// Acc (no_adjoint, an expression or output_adjoints) plus one contribution.
template <class Acc, class C>
constexpr auto accumulate(Acc, C) {
  if constexpr (std::is_same_v<C, no_grad>) return Acc{};
  else return add_adjoint(Acc{}, C{});
}
template <class... A, class C>
constexpr auto accumulate(output_adjoints<A...> acc, C) {
  if constexpr (std::is_same_v<C, no_grad>) return acc;
  else return add_to_output<0>(acc, C{}, std::index_sequence_for<A...>{});
}
template <class... A, std::size_t I, class G>
constexpr auto accumulate(output_adjoints<A...> acc, output_adjoint<I, G>) {
  return add_to_output<I>(acc, G{}, std::index_sequence_for<A...>{});
}

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

template <class N>
constexpr auto empty_adjoint() {
  if constexpr (num_outputs<N> > 1)
    return []<std::size_t... K>(std::index_sequence<K...>) {
      return output_adjoints<no_adjoint_for<K>...>{};
    }(std::make_index_sequence<num_outputs<N>>{});
  else
    return no_adjoint{};
}

// Folds contributions left to right with an operator, so that a node used
// many times does not deepen the compiler's recursion.
template <class Acc>
struct folding {};
template <class Acc, class C>
constexpr auto operator|(folding<Acc>, C) -> folding<decltype(accumulate(Acc{}, C{}))> {
  return {};
}
template <class Acc>
constexpr Acc result_of(folding<Acc>) { return {}; }

template <class G, std::size_t K>
struct adjoint;

// What operand slot Slot of node U passes back to that operand.
template <class G, std::size_t U, std::size_t Slot>
constexpr auto contribution() {
  using AU = typename adjoint<G, U>::type;
  if constexpr (std::is_same_v<AU, no_adjoint>) {
    return no_grad{};
  } else {
    using M = node_t<G, U>;
    if constexpr (requires { typename M::op; }) {
      static_assert(op_differentiable<typename M::op>,
                    "ingot: grad reached an operation that has no derivative (a mask or a one-hot)");
    }
    return M::template vjp<Slot>(AU{});
  }
}

template <class G, std::size_t K, std::size_t... E>
constexpr auto sum_of_uses(std::index_sequence<E...>) {
  constexpr std::size_t first = G::table.first_use[K];
  return result_of((folding<decltype(empty_adjoint<node_t<G, K>>())>{} | ... |
                    contribution<G, G::table.user[first + E], G::table.user_slot[first + E]>()));
}

// The adjoint of node K of G, whose root 0 is the scalar loss.
template <class G, std::size_t K>
struct adjoint {
  static constexpr auto compute() {
    if constexpr (K == G::table.root[0]) return constant<1.0>{};
    else return sum_of_uses<G, K>(std::make_index_sequence<G::use_count(K)>{});
  }
  using type = typename settled<decltype(compute())>::type;
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
template <class S, class A>
constexpr auto as_output(A) {
  if constexpr (std::is_same_v<A, no_adjoint>) return ew<expand_op<S>, constant<0.0>>{};
  else if constexpr (A::cat == category::leaf) return ew<expand_op<S>, A>{};
  else {
    static_assert(std::is_same_v<typename A::shape, S>, "ingot: internal error, gradient shape");
    return A{};
  }
}
}  // namespace detail

// The gradient of the scalar Loss with respect to P, as an expression type.
template <node Loss, node P>
struct gradient {
  using graph_type = graph_of<Loss>;
  using warm = typename detail::all_adjoints<graph_type>::type;
  static constexpr std::size_t id = graph_type::template id_of<P>;
  using adjoint_type = typename std::conditional_t<id != no_node, detail::adjoint<graph_type, id>,
                                                   std::type_identity<no_adjoint>>::type;
  using type = decltype(detail::as_output<typename P::shape>(adjoint_type{}));
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
