#pragma once
// Plain type lists. Hana builds each node's operand list; these answer the
// few questions the library asks of a list (the I-th type, the position of a
// type, a filtered or joined list) without a Hana algorithm per query.
#include <cstddef>
#include <type_traits>
#include <utility>

namespace ingot {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

// Lookups by deduction against the bases of one class that holds (index,
// type) pairs: the compiler matches a base instead of resolving an overload
// set of n candidates, so a lookup stays cheap in long lists and the
// instantiation depth stays flat.
namespace detail {
template <std::size_t I, class T>
struct list_slot {};
template <class Seq, class... Ts>
struct list_slots;
template <std::size_t... I, class... Ts>
struct list_slots<std::index_sequence<I...>, Ts...> : list_slot<I, Ts>... {};

template <class List>
struct slots_of;
template <class... Ts>
struct slots_of<type_list<Ts...>> {
  using type = list_slots<std::index_sequence_for<Ts...>, Ts...>;
};

template <std::size_t I, class T>
std::type_identity<T> type_in_slot(const list_slot<I, T>*);
template <class T, std::size_t I>
std::integral_constant<std::size_t, I> slot_of_type(const list_slot<I, T>*);
}  // namespace detail

template <std::size_t I, class List>
struct type_at {
  static_assert(I < List::size, "ingot: internal error, type_at past the end of a list");
  using type = typename decltype(detail::type_in_slot<I>(
      static_cast<const typename detail::slots_of<List>::type*>(nullptr)))::type;
};
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

// Position of T in a list of distinct types; List::size when absent.
template <class T, class List>
struct index_in {
  static constexpr std::size_t value = [] {
    using slots = typename detail::slots_of<List>::type;
    if constexpr (requires { detail::slot_of_type<T>(static_cast<const slots*>(nullptr)); })
      return decltype(detail::slot_of_type<T>(static_cast<const slots*>(nullptr)))::value;
    else
      return List::size;
  }();
};
template <class T, class List>
inline constexpr std::size_t index_in_v = index_in<T, List>::value;

template <class T, class List>
inline constexpr bool contains_v = index_in_v<T, List> < List::size;

// Concatenation of any number of lists. A metafunction rather than an
// operator: an operator on lists of expression types would have the
// compiler weigh every expression operator (found through the element
// types) at each step.
namespace detail {
template <class... Lists>
struct concat;
template <>
struct concat<> {
  using type = type_list<>;
};
template <class... A>
struct concat<type_list<A...>> {
  using type = type_list<A...>;
};
template <class... A, class... B, class... Rest>
struct concat<type_list<A...>, type_list<B...>, Rest...> : concat<type_list<A..., B...>, Rest...> {};
template <class... A, class... B, class... C, class... D, class... Rest>
struct concat<type_list<A...>, type_list<B...>, type_list<C...>, type_list<D...>, Rest...>
    : concat<type_list<A..., B..., C..., D...>, Rest...> {};
}  // namespace detail
template <class... Lists>
using concat_t = typename detail::concat<Lists...>::type;

template <class List, template <class> class Pred>
struct filter;
template <class... Ts, template <class> class Pred>
struct filter<type_list<Ts...>, Pred> {
  using type = concat_t<std::conditional_t<Pred<Ts>::value, type_list<Ts>, type_list<>>...>;
};
template <class List, template <class> class Pred>
using filter_t = typename filter<List, Pred>::type;

// The types of A followed by those of B that A does not hold.
template <class A, class B>
struct join_distinct_lists;
template <class A, class... B>
struct join_distinct_lists<A, type_list<B...>> {
  using type = concat_t<A, std::conditional_t<contains_v<B, A>, type_list<>, type_list<B>>...>;
};
template <class A, class B>
struct join_distinct : join_distinct_lists<A, B> {};
template <class A>
struct join_distinct<A, A> {
  using type = A;
};
template <class A, class B>
using join_distinct_t = typename join_distinct<A, B>::type;

}  // namespace ingot
