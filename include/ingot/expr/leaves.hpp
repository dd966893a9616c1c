#pragma once
// Leaves: parameters (owned by a model's parameter arena), state such as
// running statistics (owned by its state arena), data (a mini-batch of
// features or regression targets), integer class labels, random masks
// (filled by the trainer before each step), compile-time constants and
// scalars that depend on the run-time batch size (1/count for a mean).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "ingot/expr/node.hpp"

namespace ingot::expr {

// What every leaf has in common: no operands, and a role saying who binds it.
template <leaf_kind Kind, leaf_role Role>
struct leaf_base : node_base {
  static constexpr category cat = category::leaf;
  static constexpr leaf_kind kind = Kind;
  static constexpr leaf_role role = Role;
  using children = type_list<>;
};

// An R x C parameter. A convolution weight states its kernel size KH x KW:
// its PyTorch shape is then [R, C / (KH KW), KH, KW], stored in that order.
template <fixed_string Name, std::size_t R, std::size_t C, bool Matrix, std::size_t KH = 0, std::size_t KW = 0>
struct param_leaf : leaf_base<leaf_kind::bound, leaf_role::param> {
  static_assert(!is_batched(R) && R > 0 && C > 0, "ingot: a parameter needs positive compile-time dimensions");
  static_assert(KH * KW == 0 || C % (KH * KW) == 0, "ingot: a kernel's columns are whole KH x KW taps");
  using shape = ingot::shape<R, C>;
  static constexpr bool is_matrix = Matrix;
  static constexpr auto name = Name;
  static constexpr std::size_t kernel_h = KH, kernel_w = KW;
};

// A batch of C-feature rows, or with Rows = batch_rows(H * W) and Width = W
// a batch of C x H x W images (channels-last, see core/shape.hpp).
template <fixed_string Name, std::size_t C, std::size_t Rows = batch, std::size_t Width = 0>
struct data_leaf : leaf_base<leaf_kind::bound, leaf_role::data> {
  static_assert(C > 0, "ingot: an input needs at least one feature");
  static_assert(is_batched(Rows), "ingot: an input has a run-time number of rows");
  using shape = ingot::shape<Rows, C, Width>;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
};

// One std::int32_t class index per row of the batch.
template <fixed_string Name>
struct labels_leaf : leaf_base<leaf_kind::bound, leaf_role::labels> {
  using shape = ingot::shape<batch, 1>;
  using element = std::int32_t;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
};

// Model state that is not trained: running statistics. Init is the value a
// new model starts with (PyTorch: running_mean 0, running_var 1).
template <fixed_string Name, std::size_t C, double Init = 0.0>
struct state_leaf : leaf_base<leaf_kind::bound, leaf_role::state> {
  using shape = ingot::shape<1, C>;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
  static constexpr double init = Init;
};

// A batch of random values, redrawn for every training step by whoever runs
// the plan (the trainer) from a seeded, per-step stream: Dist::fill(values,
// stream). Its derivative is never taken.
template <fixed_string Name, std::size_t C, class Dist, std::size_t Rows = batch, std::size_t Width = 0>
struct random_leaf : leaf_base<leaf_kind::bound, leaf_role::random> {
  using shape = ingot::shape<Rows, C, Width>;
  using distribution = Dist;
  static constexpr bool is_matrix = false;
  static constexpr auto name = Name;
};

template <double V>
struct constant : leaf_base<leaf_kind::scalar, leaf_role::none> {
  using shape = scalar_shape;
  static constexpr bool is_matrix = false;
  static constexpr double value(std::size_t) { return V; }
};

// The scalar 1 / (number of elements of shape S), known once the batch is.
template <class S>
struct inv_count : leaf_base<leaf_kind::scalar, leaf_role::none> {
  using shape = scalar_shape;
  static constexpr bool is_matrix = false;
  static constexpr double value(std::size_t b) { return 1.0 / static_cast<double>(S::size(b)); }
};

// n / (n - 1) for n = b PerSample values per channel (PerSample is H W for
// an image's channel): turns a biased variance over the batch into the
// unbiased one. Owner names the layer in the error for a single value.
template <fixed_string Owner, std::size_t PerSample = 1>
struct unbiased_factor : leaf_base<leaf_kind::scalar, leaf_role::none> {
  using shape = scalar_shape;
  static constexpr bool is_matrix = false;
  static constexpr double value(std::size_t b) {
    const double n = static_cast<double>(b * PerSample);
    return n / (n - 1);
  }
  static void check_batch(std::size_t b) {
    if (b * PerSample < 2)
      throw std::invalid_argument("ingot: " + std::string(Owner.view()) +
                                  " computes batch statistics in training mode and needs more than 1 value per "
                                  "channel, got a batch of " + std::to_string(b));
  }
};

template <class N>
inline constexpr bool is_leaf_v = N::cat == category::leaf;

namespace detail {
template <class N>
struct role_of : std::integral_constant<leaf_role, leaf_role::none> {};
template <class N>
  requires requires { N::role; }
struct role_of<N> : std::integral_constant<leaf_role, N::role> {};
}  // namespace detail

template <class N>
inline constexpr bool is_param_v = detail::role_of<N>::value == leaf_role::param;
template <class N>
inline constexpr bool is_data_v = detail::role_of<N>::value == leaf_role::data;
template <class N>
inline constexpr bool is_labels_v = detail::role_of<N>::value == leaf_role::labels;
template <class N>
inline constexpr bool is_state_v = detail::role_of<N>::value == leaf_role::state;
template <class N>
inline constexpr bool is_random_v = detail::role_of<N>::value == leaf_role::random;

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
