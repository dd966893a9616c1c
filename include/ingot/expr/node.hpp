#pragma once
// What every expression node is. A node is an empty type: its shape, its
// operands and its derivative rule are all in the type, so two occurrences
// of the same sub-expression are the same type and are evaluated once.
// Values live outside the nodes, in buffers a plan owns or binds.
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <concepts>
#include <type_traits>

#include "ingot/core/fixed_string.hpp"
#include "ingot/core/shape.hpp"

namespace ingot::expr {

namespace hana = boost::hana;

// How a node is evaluated: a leaf points at data someone else owns; an
// element-wise node can be fused into the loop of its consumer; a kernel
// (matmul, reduction, softmax) runs its own loop into its own buffer.
enum class category { leaf, elementwise, kernel };

struct node_base {};

template <class N>
concept node = std::is_base_of_v<node_base, N> && std::is_empty_v<N> && requires {
  typename N::shape;
  { N::cat } -> std::convertible_to<category>;
  N::children;
};

// Returned by a derivative rule for an operand that takes no gradient
// (integer labels).
struct no_grad {};

}  // namespace ingot::expr
