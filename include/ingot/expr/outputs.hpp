#pragma once
// Nodes with several outputs. A kernel with num_outputs > 1 is itself its
// output 0; output_of<K, I> names output I >= 1. Reverse mode gives such a
// kernel one adjoint per output (output_adjoints<G0, G1, ...>, no_adjoint
// where an output is unused), and its vjp combines them.
//
//   cross-entropy   0: loss per row        1: softmax of the logits (optional)
//   moments         0: mean                1: biased variance
#include <cstddef>

#include "ingot/core/type_list.hpp"
#include "ingot/expr/node.hpp"

namespace ingot::expr {

// No gradient flows into this value (nothing that the loss reads uses it).
struct no_adjoint {};

// What output_of<K, I> passes back to K: the adjoint G of output I.
template <std::size_t I, class G>
struct output_adjoint {};

template <class... G>
struct output_adjoints {
  template <std::size_t I>
  using at = type_at_t<I, type_list<G...>>;
  template <std::size_t I>
  static constexpr bool has = !std::is_same_v<at<I>, no_adjoint>;
};

template <class N>
inline constexpr std::size_t num_outputs = [] {
  if constexpr (requires { N::num_outputs; }) return std::size_t{N::num_outputs};
  else return std::size_t{1};
}();

template <class K, std::size_t I>
struct output_of : node_base {
  static_assert(I >= 1 && I < num_outputs<K>, "ingot: output_of<K, I> needs 1 <= I < K's number of outputs");
  using shape = typename K::template output_shape<I>;
  static constexpr category cat = category::output;
  static constexpr std::size_t index = I;
  static constexpr bool is_matrix = false;
  static constexpr auto children = hana::tuple_t<K>;

  template <std::size_t, class G>
  static constexpr auto vjp(G) { return output_adjoint<I, G>{}; }
};

}  // namespace ingot::expr
