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
#include "ingot/expr/build.hpp"

namespace ingot::expr {

// No gradient flows into this value (nothing that the loss reads uses it).
struct no_adjoint {};

// What output_of<K, I> passes back to K: the adjoint G of output I.
template <std::size_t I, class G>
struct output_adjoint {};

// Adds the terms of a multi-output kernel's vjp for the outputs whose
// adjoint is not no_adjoint: Term<I, GI> is the term for output I.
template <class... G>
struct output_adjoints;

namespace detail {
template <class Acc, class Term>
struct add_term {
  using type = ew<add_op, Acc, Term>;
};
template <class Term>
struct add_term<no_adjoint, Term> {
  using type = Term;
};
template <template <std::size_t, class> class Term, class Acc, std::size_t I, class... G>
struct sum_terms {
  using type = Acc;
};
template <template <std::size_t, class> class Term, class Acc, std::size_t I, class G0, class... G>
struct sum_terms<Term, Acc, I, G0, G...> {
  using type = typename sum_terms<Term, typename add_term<Acc, Term<I, G0>>::type, I + 1, G...>::type;
};
template <template <std::size_t, class> class Term, class Acc, std::size_t I, class... G>
struct sum_terms<Term, Acc, I, no_adjoint, G...> {
  using type = typename sum_terms<Term, Acc, I + 1, G...>::type;
};
}  // namespace detail

template <class... G>
struct output_adjoints {
  template <std::size_t I>
  using at = type_at_t<I, type_list<G...>>;
  template <std::size_t I>
  static constexpr bool has = !std::is_same_v<at<I>, no_adjoint>;
  // The sum over outputs I with an adjoint GI of Term<I, GI>.
  template <template <std::size_t, class> class Term>
  using sum = typename detail::sum_terms<Term, no_adjoint, 0, G...>::type;
};

// Traits are class templates, not variable templates with a lambda or
// function templates: those cost the compiler a symbol per expression type.
template <class N>
struct outputs_of : std::integral_constant<std::size_t, 1> {};
template <class N>
  requires requires { N::num_outputs; }
struct outputs_of<N> : std::integral_constant<std::size_t, N::num_outputs> {};
template <class N>
inline constexpr std::size_t num_outputs = outputs_of<N>::value;

template <class K, std::size_t I>
struct output_of : node_base {
  static_assert(I >= 1 && I < num_outputs<K>, "ingot: output_of<K, I> needs 1 <= I < K's number of outputs");
  using shape = typename K::template output_shape<I>;
  static constexpr category cat = category::output;
  static constexpr std::size_t index = I;
  static constexpr bool is_matrix = false;
  using children = type_list<K>;

  template <std::size_t, class G>
  using vjp = output_adjoint<I, G>;
};

}  // namespace ingot::expr
