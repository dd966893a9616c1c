#pragma once
// A layout change as a node: each A x B block of the operand (one per sample,
// or one per row of a weight) is transposed, and the result is read with
// shape Out. The operand and the result hold the same values per sample:
//   PyTorch's [C, H W] sample order  ->  ingot's channels-last [H W, C]  (Unflatten)
//   channels-last [H W, C]           ->  [C, H W], PyTorch's flatten order (Flatten)
//   a Conv2d weight [OC][C, KH KW]   ->  [OC][KH KW, C], the patch order (Conv2d)
// Its derivative is the inverse change: the B x A blocks transposed back.
#include <cstddef>

#include "ingot/expr/node.hpp"
#include "ingot/simd/layout.hpp"

namespace ingot::expr {

template <std::size_t A, std::size_t B>
struct block_transpose_kernel {
  using kind = block_transpose_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = false, .row_split = false};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    const std::size_t groups = ctx.in_rows(0) * ctx.in_cols(0) / (A * B);
    simd::transpose_blocks(groups, A, B, ctx.template in<0>(), ctx.template out<0>());
  }
};

template <class X, std::size_t A, std::size_t B, class Out>
struct block_transpose_node : node_base, block_transpose_kernel<A, B> {
  using SX = typename X::shape;
  static_assert(SX::batched == Out::batched && SX::size(1) == Out::size(1),
                "ingot: a layout change keeps the number of values per sample");
  static_assert(SX::size(1) % (A * B) == 0, "ingot: a layout change transposes whole blocks");
  using shape = Out;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X>;

  template <std::size_t I, class G>
  using vjp = block_transpose_node<G, B, A, SX>;
};

}  // namespace ingot::expr
