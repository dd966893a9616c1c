#pragma once
// What every expression node is. A node is an empty type: its shape, its
// operands and its derivative rule are all in the type, so two occurrences
// of the same sub-expression are the same type and are evaluated once.
// Values live outside the nodes, in buffers a plan owns or binds.
//
// The four kinds of node and what each states (the planner reads nothing
// else, and names no node):
//  - leaf         data someone else owns (a pointer bound to the plan) or a
//                 scalar known from the batch size (`value(batch)`);
//  - elementwise  `ew<Op, A...>`: Op::apply on one element or one SIMD batch,
//                 fused into the loop of whoever reads it;
//  - kernel       its own loop: `run(ctx)`, `scratch_size(batch)`, `traits`
//                 and, beside them, `vjp`; a kernel may have several outputs;
//  - output       output I (I >= 1) of a multi-output kernel; output 0 is
//                 the kernel node itself.
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "ingot/core/fixed_string.hpp"
#include "ingot/core/shape.hpp"
#include "ingot/core/type_list.hpp"

namespace ingot::expr {

enum class category { leaf, elementwise, kernel, output };

// How the planner may run a kernel.
struct kernel_traits {
  // The kernel reads its operands more than once or out of order (a GEMM
  // packs them), so each operand gets a buffer. Otherwise an element-wise
  // operand is computed inside the kernel's own loop (ctx.load).
  bool operands_in_memory = true;
  // The kernel calls ctx.epilogue(i0, j0, rows, cols) on each finished tile
  // of its output, so the element-wise pass that consumes it runs there.
  bool epilogue = false;
  // Rows [ctx.row_begin(), ctx.row_end()) of the output depend only on the
  // same rows of batched operands: the rows may be split across threads.
  bool row_split = false;
  // Nodes of this kernel whose operands 0 have the same shape may run in one
  // loop, Kind::run_joined(ctx...), which writes each node's outputs exactly
  // as its own run(ctx) would (sibling sums over the same rows read their
  // inputs once instead of once each).
  bool joinable = false;
};

// A leaf is either bound (a pointer to values someone else owns) or a
// scalar that the plan computes from the batch size.
enum class leaf_kind { bound, scalar };

// The role of a bound leaf, which says who binds it.
enum class leaf_role { none, param, data, labels, state, random };

struct node_base {};

template <class N>
concept node = std::is_base_of_v<node_base, N> && std::is_empty_v<N> && requires {
  typename N::shape;
  { N::cat } -> std::convertible_to<category>;
  typename N::children;
};

// Returned by a derivative rule for an operand that takes no gradient
// (integer labels).
struct no_grad {};

}  // namespace ingot::expr
