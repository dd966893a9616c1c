#pragma once
// Plain type-list helpers for the lookups the compiler does most often (index
// of a node in a plan). Hana builds the lists; these answer questions about
// them without instantiating a Hana algorithm per query.
#include <cstddef>
#include <type_traits>

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

template <std::size_t I, class List>
struct type_at;
template <std::size_t I, class T, class... Ts>
struct type_at<I, type_list<T, Ts...>> : type_at<I - 1, type_list<Ts...>> {};
template <class T, class... Ts>
struct type_at<0, type_list<T, Ts...>> { using type = T; };
template <std::size_t I, class List>
using type_at_t = typename type_at<I, List>::type;

template <class List, template <class> class Pred>
struct filter;
template <template <class> class Pred>
struct filter<type_list<>, Pred> { using type = type_list<>; };
template <class T, class... Ts, template <class> class Pred>
struct filter<type_list<T, Ts...>, Pred> {
  using rest = typename filter<type_list<Ts...>, Pred>::type;
  template <class R> struct prepend;
  template <class... R> struct prepend<type_list<R...>> { using type = type_list<T, R...>; };
  using type = std::conditional_t<Pred<T>::value, typename prepend<rest>::type, rest>;
};
template <class List, template <class> class Pred>
using filter_t = typename filter<List, Pred>::type;

}  // namespace ingot
