#pragma once
// Plain type-list helpers for the lookups the compiler does most often (index
// of a node in a plan). Hana builds the lists; these answer questions about
// them without instantiating a Hana algorithm per query.
#include <cstddef>
#include <type_traits>
#include <utility>

namespace ingot {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

template <class T, class List>
struct index_in;
template <class T, class... Ts>
struct index_in<T, type_list<Ts...>> {
  static constexpr std::size_t value = [] {
    constexpr bool same[] = {std::is_same_v<T, Ts>..., false};
    for (std::size_t i = 0; i < sizeof...(Ts); ++i)
      if (same[i]) return i;
    return sizeof...(Ts);
  }();
};
template <class T, class List>
inline constexpr std::size_t index_in_v = index_in<T, List>::value;

template <class T, class List>
inline constexpr bool contains_v = index_in_v<T, List> < List::size;

}  // namespace ingot

namespace ingot {

// The I-th type, and the position of a type, found by overload resolution
// among plain (non-template) functions rather than by recursion or template
// argument deduction: the instantiation depth stays flat however long the
// list, and g++ 12 has no deduction to trip over (it crashes deducing
// through floating-point template arguments).
namespace detail {
template <std::size_t I, class T>
struct indexed {
  static std::type_identity<T> type_of(std::integral_constant<std::size_t, I>);
  static constexpr std::size_t position(std::type_identity<T>*) { return I; }
};
template <class Seq, class... Ts>
struct indexer;
template <std::size_t... Is, class... Ts>
struct indexer<std::index_sequence<Is...>, Ts...> : indexed<Is, Ts>... {
  using indexed<Is, Ts>::type_of...;
  using indexed<Is, Ts>::position...;
};
}  // namespace detail

template <std::size_t I, class List>
struct type_at;
template <std::size_t I, class... Ts>
struct type_at<I, type_list<Ts...>> {
  static_assert(I < sizeof...(Ts), "ingot: internal error, type_at past the end of a list");
  using type = typename decltype(detail::indexer<std::index_sequence_for<Ts...>, Ts...>::type_of(
      std::integral_constant<std::size_t, I>{}))::type;
};
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

// Concatenation, so that lists can be built with fold expressions.
template <class... A, class... B>
constexpr type_list<A..., B...> operator+(type_list<A...>, type_list<B...>) { return {}; }

template <class List, template <class> class Pred>
struct filter;
template <class... Ts, template <class> class Pred>
struct filter<type_list<Ts...>, Pred> {
  using type = decltype((type_list<>{} + ... + std::conditional_t<Pred<Ts>::value, type_list<Ts>, type_list<>>{}));
};
template <class List, template <class> class Pred>
using filter_t = typename filter<List, Pred>::type;

}  // namespace ingot
