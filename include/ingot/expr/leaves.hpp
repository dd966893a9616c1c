#pragma once
// Leaves: parameters (owned by a model's arena), data (a mini-batch of
// features or regression targets), integer class labels, compile-time
// constants, and 1/count for means over a run-time batch.
#include <cstddef>

#include "ingot/expr/node.hpp"

namespace ingot::expr {

template <fixed_string Name, std::size_t R, std::size_t C, bool Matrix>
struct param_leaf : node_base {
  static_assert(R != batch && R > 0 && C > 0, "ingot: a parameter needs positive compile-time dimensions");
  using shape = ingot::shape<R, C>;
  static constexpr category cat = category::leaf;
  static constexpr bool is_matrix = Matrix;
  static constexpr auto name = Name;
  static constexpr auto children = hana::tuple_t<>;
};

template <fixed_string Name, std::size_t C>
struct data_leaf : node_base {
  static_assert(C > 0, "ingot: an input needs at least one feature");
  using shape = ingot::shape<batch, C>;
  static constexpr category cat = category::leaf;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
  static constexpr auto children = hana::tuple_t<>;
};

// One std::int32_t class index per row of the batch.
template <fixed_string Name>
struct labels_leaf : node_base {
  using shape = ingot::shape<batch, 1>;
  static constexpr category cat = category::leaf;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
  static constexpr auto children = hana::tuple_t<>;
};

template <double V>
struct constant : node_base {
  using shape = scalar_shape;
  static constexpr category cat = category::leaf;
  static constexpr bool is_matrix = false;
  static constexpr double value = V;
  static constexpr auto children = hana::tuple_t<>;
};

// The scalar 1 / (number of elements of shape S), known once the batch is.
template <class S>
struct inv_count : node_base {
  using shape = scalar_shape;
  static constexpr category cat = category::leaf;
  static constexpr bool is_matrix = false;
  static constexpr auto children = hana::tuple_t<>;
  static constexpr double value(std::size_t b) { return 1.0 / static_cast<double>(S::size(b)); }
};

template <class N>
struct is_param : std::false_type {};
template <fixed_string Name, std::size_t R, std::size_t C, bool M>
struct is_param<param_leaf<Name, R, C, M>> : std::true_type {};
template <class N>
inline constexpr bool is_param_v = is_param<N>::value;

template <class N>
struct is_data : std::false_type {};
template <fixed_string Name, std::size_t C>
struct is_data<data_leaf<Name, C>> : std::true_type {};
template <class N>
inline constexpr bool is_data_v = is_data<N>::value;

template <class N>
struct is_labels : std::false_type {};
template <fixed_string Name>
struct is_labels<labels_leaf<Name>> : std::true_type {};
template <class N>
inline constexpr bool is_labels_v = is_labels<N>::value;

template <class N>
struct is_constant : std::false_type {};
template <double V>
struct is_constant<constant<V>> : std::true_type {};
template <class N>
inline constexpr bool is_constant_v = is_constant<N>::value;

template <class N>
struct is_inv_count : std::false_type {};
template <class S>
struct is_inv_count<inv_count<S>> : std::true_type {};
template <class N>
inline constexpr bool is_inv_count_v = is_inv_count<N>::value;

// User-facing spellings:
//   expr::input<"x", 10>      a batch of 10-feature rows
//   expr::param<"W1", 32, 10> a 32x10 matrix parameter (W1 * x is W1 x per sample)
//   expr::param<"b1", 32>     a 32-vector parameter (a bias row)
//   expr::labels<"y">         integer class labels, one per row
//   expr::lit<0.5>            a compile-time scalar
template <fixed_string Name, std::size_t C>
inline constexpr data_leaf<Name, C> input{};
template <fixed_string Name, std::size_t C>
inline constexpr data_leaf<Name, C> target{};
template <fixed_string Name>
inline constexpr labels_leaf<Name> labels{};
template <double V>
inline constexpr constant<V> lit{};

namespace detail {
template <fixed_string Name, std::size_t... Dims>
constexpr auto make_param() {
  static_assert(sizeof...(Dims) == 1 || sizeof...(Dims) == 2,
                "ingot: expr::param takes one dimension (a vector) or two (a matrix)");
  constexpr std::size_t d[] = {Dims...};
  if constexpr (sizeof...(Dims) == 1) return param_leaf<Name, 1, d[0], false>{};
  else return param_leaf<Name, d[0], d[1], true>{};
}
}  // namespace detail

template <fixed_string Name, std::size_t... Dims>
inline constexpr auto param = detail::make_param<Name, Dims...>();

}  // namespace ingot::expr
