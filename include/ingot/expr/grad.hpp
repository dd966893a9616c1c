#pragma once
// Reverse mode, done by the compiler. This is the one place where the chain
// rule is applied: the adjoint of a node is the sum, over every use of the
// node, of its user's vector-Jacobian product applied to the user's adjoint.
// Adjoints are expression types like any other, so the whole backward pass
// is a set of expressions that the planner fuses and evaluates together with
// the forward pass; there is no tape and no per-layer backward.
#include <tuple>

#include "ingot/expr/graph.hpp"

namespace ingot::expr {

namespace detail {
struct no_adjoint {};

template <class Acc, class C>
constexpr auto accumulate(Acc, C) {
  if constexpr (std::is_same_v<C, no_grad>) return Acc{};
  else if constexpr (std::is_same_v<Acc, no_adjoint>) return C{};
  else return add(Acc{}, C{});
}

template <class Order, class N>
struct adjoint;

// What operand slot I of user M passes back to that operand.
template <class Order, class M, std::size_t I>
constexpr auto contribution() {
  using AM = typename adjoint<Order, M>::type;
  if constexpr (std::is_same_v<AM, no_adjoint>) {
    return no_grad{};
  } else {
    if constexpr (requires { typename M::op; }) {
      static_assert(op_differentiable<typename M::op>,
                    "ingot: grad reached an operation that has no derivative (a mask or a one-hot)");
    }
    return M::template vjp<I>(AM{});
  }
}

// Operand slot I of node M.
template <class M, std::size_t I>
struct use {};

// Every slot, in every node of Order, that holds N (from the graph table).
template <class N, class Order>
constexpr auto uses_of() {
  using G = graph_table<Order>;
  constexpr std::size_t first = G::table.first_use[node_index<N, Order>];
  return []<std::size_t... E>(std::index_sequence<E...>) {
    return type_list<use<type_at_t<G::table.edges[first + E].user, Order>, G::table.edges[first + E].slot>...>{};
  }(std::make_index_sequence<G::use_count(node_index<N, Order>)>{});
}

template <class Order, class Acc>
constexpr auto accumulate_uses(Acc acc, type_list<>) { return acc; }
template <class Order, class Acc, class M, std::size_t I, class... Rest>
constexpr auto accumulate_uses(Acc acc, type_list<use<M, I>, Rest...>) {
  return accumulate_uses<Order>(accumulate(acc, contribution<Order, M, I>()), type_list<Rest...>{});
}

template <class Order, class N>
struct adjoint {
  static constexpr auto compute() {
    if constexpr (std::is_same_v<N, type_at_t<Order::size - 1, Order>>) return constant<1.0>{};
    else return accumulate_uses<Order>(no_adjoint{}, uses_of<N, Order>());
  }
  using type = decltype(compute());
};

// Instantiates the adjoints from the loss backwards, so that each one finds
// its users' adjoints already made: the compiler's recursion stays shallow
// however deep the model.
template <class Order>
struct all_adjoints {
  template <std::size_t... I>
  static constexpr auto make(std::index_sequence<I...>) {
    return type_list<typename adjoint<Order, type_at_t<Order::size - 1 - I, Order>>::type...>{};
  }
  using type = decltype(make(std::make_index_sequence<Order::size>{}));
};

// A gradient must be something the planner can write into a buffer: a leaf
// (a constant, a parameter) is wrapped in an identity copy.
template <class S, class G>
constexpr auto as_output(G) {
  if constexpr (std::is_same_v<G, no_adjoint>) return ew<expand_op<S>, constant<0.0>>{};
  else if constexpr (G::cat == category::leaf) return ew<expand_op<S>, G>{};
  else {
    static_assert(std::is_same_v<typename G::shape, S>, "ingot: internal error, gradient shape");
    return G{};
  }
}
}  // namespace detail

// The gradient of the scalar Loss with respect to P, as an expression type.
template <node Loss, node P>
struct gradient {
  using order = topo_order_t<Loss>;
  using warm = typename detail::all_adjoints<order>::type;
  using adjoint_type =
      typename std::conditional_t<in_order<P, order>::value, detail::adjoint<order, P>,
                                  std::type_identity<detail::no_adjoint>>::type;
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
