#pragma once
// The graph of an expression, worked out at compile time: every distinct
// node reachable from a set of roots, in an order where operands come before
// their users (Hana does the traversal), and how each node is used. A node is
// its type, so a sub-expression written twice is one node here.
#include <boost/hana/append.hpp>
#include <boost/hana/contains.hpp>
#include <boost/hana/fold_left.hpp>
#include <boost/hana/unpack.hpp>

#include "ingot/core/type_list.hpp"
#include "ingot/expr/kernels.hpp"

namespace ingot::expr {

namespace detail {
template <class Seen, class N>
constexpr auto visit(Seen seen, hana::basic_type<N>) {
  if constexpr (decltype(hana::contains(seen, hana::type_c<N>))::value) {
    return seen;
  } else {
    auto after_operands = hana::fold_left(N::children, seen, [](auto s, auto c) { return visit(s, c); });
    return hana::append(after_operands, hana::type_c<N>);
  }
}

template <class Tuple>
constexpr auto to_type_list(Tuple t) {
  return hana::unpack(t, [](auto... x) { return type_list<typename decltype(x)::type...>{}; });
}
}  // namespace detail

// All nodes reachable from Roots, operands first. (A struct rather than an
// alias with a lambda inside: g++ 12 mishandles lambdas in alias templates.)
template <class... Roots>
struct topo_order {
  static constexpr auto compute() {
    return hana::fold_left(hana::tuple_t<Roots...>, hana::tuple_t<>,
                           [](auto s, auto r) { return detail::visit(s, r); });
  }
  using type = decltype(detail::to_type_list(compute()));
};
template <class... Roots>
using topo_order_t = typename topo_order<Roots...>::type;

template <class N>
using children_t = decltype(detail::to_type_list(N::children));

template <class N, class M>
inline constexpr std::size_t times_operand_of = [] {
  return []<class... C>(type_list<C...>) { return (std::size_t{0} + ... + std::size_t{std::is_same_v<N, C>}); }(children_t<M>{});
}();

// How many times N is an operand of a node in Order.
template <class N, class Order>
inline constexpr std::size_t use_count = []<class... M>(type_list<M...>) {
  return (std::size_t{0} + ... + times_operand_of<N, M>);
}(Order{});

// Kernels other than sums read their operands more than once or out of
// order (a GEMM packs them), so such operands must be in memory.
template <class M>
inline constexpr bool needs_operands_in_memory = M::cat == category::kernel && !is_sum<M>::value;

template <class N, class Order>
inline constexpr bool has_memory_consumer = []<class... M>(type_list<M...>) {
  return ((times_operand_of<N, M> > 0 && needs_operands_in_memory<M>) || ... || false);
}(Order{});

}  // namespace ingot::expr
