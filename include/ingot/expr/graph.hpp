#pragma once
// The graph of an expression, worked out at compile time: every distinct
// node reachable from a set of roots, in an order where operands come before
// their users, and how each node is used. A node is its type, so a
// sub-expression written twice is one node here.

#include <array>

#include "ingot/core/type_list.hpp"
#include "ingot/expr/kernels.hpp"

namespace ingot::expr {

namespace detail {
template <class Tuple>
struct tuple_types;
template <class... E>
struct tuple_types<hana::tuple<E...>> {
  using type = type_list<typename E::type...>;
};
}  // namespace detail

// A node's operands, as a type_list.
template <class N>
using children_t = typename detail::tuple_types<std::remove_cv_t<decltype(N::children)>>::type;

namespace detail {
// Depth-first, operands first, each node once. Membership is a base-class
// test against the nodes seen so far (one lookup, not a walk of the list),
// which keeps a deep model's graph cheap to order: Hana's tuple algorithms
// made this step quadratic in template instantiations.
template <class T>
struct seen_tag {};
template <class... Ts>
struct seen_set : seen_tag<Ts>... {};

template <class List, class N>
struct contains_node;
template <class... Ts, class N>
struct contains_node<type_list<Ts...>, N> : std::is_base_of<seen_tag<N>, seen_set<Ts...>> {};

template <class List, class N, bool Seen = contains_node<List, N>::value>
struct visit;
template <class List, class Children>
struct visit_all;
template <class List>
struct visit_all<List, type_list<>> {
  using type = List;
};
template <class List, class C, class... Cs>
struct visit_all<List, type_list<C, Cs...>> : visit_all<typename visit<List, C>::type, type_list<Cs...>> {};

template <class List, class N>
struct visit<List, N, true> {
  using type = List;
};
template <class... Ts, class N>
struct visit<type_list<Ts...>, N, false> {
  template <class... Us>
  static type_list<Us..., N> append(type_list<Us...>);
  using type = decltype(append(typename visit_all<type_list<Ts...>, children_t<N>>::type{}));
};

template <class... Roots>
struct reversed {
  template <std::size_t... I>
  static auto make(std::index_sequence<I...>) {
    return type_list<type_at_t<sizeof...(Roots) - 1 - I, type_list<Roots...>>...>{};
  }
  using type = decltype(make(std::index_sequence_for<Roots...>{}));
};
}  // namespace detail

// All nodes reachable from Roots, operands first. The roots are walked last
// to first: gradient roots come in layer order, and the last layer's
// gradient is a part of the one before it, so each walk stays shallow.
template <class... Roots>
struct topo_order {
  using type = typename detail::visit_all<type_list<>, typename detail::reversed<Roots...>::type>::type;
};
template <class... Roots>
using topo_order_t = typename topo_order<Roots...>::type;

namespace detail {
template <class List>
struct indexer_of;
template <class... Ts>
struct indexer_of<type_list<Ts...>> {
  using type = ingot::detail::indexer<std::index_sequence_for<Ts...>, Ts...>;
};
}  // namespace detail

// Position of N in a graph order (whose types are distinct), found by
// overload resolution: no walk of the list per query.
template <class N, class Order>
inline constexpr std::size_t node_index =
    detail::indexer_of<Order>::type::position(static_cast<std::type_identity<N>*>(nullptr));

// Kernels other than sums read their operands more than once or out of
// order (a GEMM packs them), so such operands must be in memory.
template <class M>
inline constexpr bool needs_operands_in_memory = M::cat == category::kernel && !is_sum<M>::value;

// Everything about a graph's structure, in constexpr tables indexed by node
// position: each node's kind and shape, and every (operand, user, slot)
// edge, grouped by operand. Computed once per graph; the planner and the
// reverse-mode pass read it instead of searching the node list per node.
template <class Order>
struct graph_table {
  static constexpr std::size_t n = Order::size;
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  struct node_info {
    category cat{};
    bool matmul = false;
    bool needs_memory = false;  // its operands must be materialised
    std::size_t rows = 0, cols = 0;
    bool softmax = false, xent = false;  // softmax / softmax cross-entropy of operand 0
    std::size_t operand0 = none;
  };
  struct edge {
    std::size_t operand = 0, user = 0, slot = 0;
  };

  static constexpr std::size_t num_edges =
      []<class... N>(type_list<N...>) { return (std::size_t{0} + ... + children_t<N>::size); }(Order{});

  struct tables {
    std::array<node_info, n> info{};
    std::array<edge, num_edges> edges{};             // sorted by operand
    std::array<std::size_t, n + 1> first_use{};      // edges[first_use[k] .. first_use[k+1]) use node k
    std::array<bool, n> memory_consumer{};           // some user needs node k in memory
  };

  static constexpr tables build() {
    tables t{};
    std::array<edge, num_edges> raw{};
    std::size_t at = 0, k = 0;
    [&]<class... N>(type_list<N...>) {
      (
          [&] {
            t.info[k] = {N::cat, is_matmul<N>::value, needs_operands_in_memory<N>, N::shape::rows_ct, N::shape::cols,
                         is_softmax<N>::value, is_xent<N>::value, none};
            [&]<class... C>(type_list<C...>) {
              std::size_t slot = 0;
              ((raw[at++] = edge{node_index<C, Order>, k, slot++}), ...);
              if constexpr (sizeof...(C) > 0) t.info[k].operand0 = node_index<type_at_t<0, type_list<C...>>, Order>;
            }(children_t<N>{});
            ++k;
          }(),
          ...);
    }(Order{});
    // Counting sort of the edges by operand.
    for (const edge& e : raw) ++t.first_use[e.operand + 1];
    for (std::size_t i = 0; i < n; ++i) t.first_use[i + 1] += t.first_use[i];
    std::array<std::size_t, n + 1> fill = t.first_use;
    for (const edge& e : raw) t.edges[fill[e.operand]++] = e;
    for (const edge& e : raw)
      if (t.info[e.user].needs_memory) t.memory_consumer[e.operand] = true;
    return t;
  }
  static constexpr tables table = build();

  static constexpr std::size_t use_count(std::size_t k) { return table.first_use[k + 1] - table.first_use[k]; }
};

template <class N, class Order>
inline constexpr std::size_t use_count = graph_table<Order>::use_count(node_index<N, Order>);

template <class N, class Order>
struct in_order;
template <class N, class... Ts>
struct in_order<N, type_list<Ts...>> : std::is_base_of<detail::seen_tag<N>, detail::seen_set<Ts...>> {};

}  // namespace ingot::expr
