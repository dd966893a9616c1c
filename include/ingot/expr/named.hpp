#pragma once
// Named expressions. named<Def> is the expression Def::type under the short
// name of Def: the same node (the graph resolves it to its definition), but
// a short type wherever it appears as an operand.
//
// Why: expression types nest, so in a deep model the type of a late layer
// (and of every gradient that reads it) spells out all the layers before it.
// The compiler's cost per instantiated entity grows with the length of such
// types, and the number of entities grows with depth, so compile time grew
// steeply with depth. Sequential names each layer's output and reverse mode
// names each adjoint, so every type in a plan stays a few levels deep.
#include "ingot/expr/node.hpp"

namespace ingot::expr {

template <class Def>
struct named : node_base {
  using definition = typename Def::type;
  using shape = typename definition::shape;
  static constexpr category cat = definition::cat;
  static constexpr bool is_matrix = definition::is_matrix;
  using children = typename definition::children;
};

// The expression a (possibly named) node stands for.
template <class N>
struct resolve {
  using type = N;
};
template <class Def>
struct resolve<named<Def>> : resolve<typename Def::type> {};
template <class N>
using resolve_t = typename resolve<N>::type;

}  // namespace ingot::expr
