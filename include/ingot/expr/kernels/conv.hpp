#pragma once
// 2-D convolution of channels-last images (see simd/conv.hpp for the
// loops). Three kernels, each the others' derivative:
//   conv          Y  = conv(X, W)         = col(X) W^T
//   input grad    dX = conv_input(dY, W)  = col2im(dY W)
//   weight grad   dW = conv_weight(X, dY) = dY^T col(X)
// All three are bilinear, so with H the adjoint of a node's value:
//   conv:         dX = conv_input(H, W),   dW = conv_weight(X, H)
//   conv_input:   ddY = conv(H, W),        dW = conv_weight(H, dY)
//   conv_weight:  dX = conv_input(dY, H),  ddY = conv(X, H)
// W is [OC, KH KW C] in patch order (the layer turns PyTorch's
// [OC, C, KH, KW] into it with a layout node).
#include <cstddef>

#include "ingot/expr/node.hpp"
#include "ingot/simd/conv.hpp"

namespace ingot::expr {

template <simd::conv_geometry G>
struct conv_forward_kernel {
  using kind = conv_forward_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  // The patch matrix is formed block by block for the GEMM, which runs the
  // bias + activation pass on each finished tile; the kernel splits the
  // output pixels across threads itself.
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = true, .row_split = false};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return simd::conv_scratch_size<T>(G); }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::conv_forward(G, ctx.batch(), ctx.template in<0>(), ctx.template in<1>(), ctx.template out<0>(),
                       ctx.scratch(), ctx.epilogue());
  }
};

template <simd::conv_geometry G>
struct conv_input_grad_kernel {
  using kind = conv_input_grad_kernel;
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = false, .row_split = false};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return simd::conv_scratch_size<T>(G); }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::conv_input_grad(G, ctx.batch(), ctx.template in<0>(), ctx.template in<1>(), ctx.template out<0>(),
                          ctx.scratch());
  }
};

template <simd::conv_geometry G>
struct conv_weight_grad_kernel {
  using kind = conv_weight_grad_kernel;
  static constexpr kernel_traits traits{.operands_in_memory = true, .epilogue = false, .row_split = false};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return simd::conv_scratch_size<T>(G); }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::conv_weight_grad(G, ctx.batch(), ctx.template in<0>(), ctx.template in<1>(), ctx.template out<0>(),
                           ctx.scratch());
  }
};

template <simd::conv_geometry G>
using conv_input_shape = image_shape<G.C, G.H, G.W>;
template <simd::conv_geometry G>
using conv_output_shape = image_shape<G.OC, G.OH(), G.OW()>;
template <simd::conv_geometry G>
using conv_weight_shape = ingot::shape<G.OC, G.K()>;

template <class Dy, class Wk, simd::conv_geometry G>
struct conv_input_grad_node;
template <class X, class Dy, simd::conv_geometry G>
struct conv_weight_grad_node;

template <class X, class Wk, simd::conv_geometry G>
struct conv_node : node_base, conv_forward_kernel<G> {
  static_assert(std::is_same_v<typename X::shape, conv_input_shape<G>>, "ingot: internal error, conv input shape");
  static_assert(std::is_same_v<typename Wk::shape, conv_weight_shape<G>>, "ingot: internal error, conv weight shape");
  using shape = conv_output_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X, Wk>;
  template <std::size_t I, class H>
  using vjp = std::conditional_t<I == 0, conv_input_grad_node<H, Wk, G>, conv_weight_grad_node<X, H, G>>;
};

template <class Dy, class Wk, simd::conv_geometry G>
struct conv_input_grad_node : node_base, conv_input_grad_kernel<G> {
  using shape = conv_input_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<Dy, Wk>;
  template <std::size_t I, class H>
  using vjp = std::conditional_t<I == 0, conv_node<H, Wk, G>, conv_weight_grad_node<H, Dy, G>>;
};

template <class X, class Dy, simd::conv_geometry G>
struct conv_weight_grad_node : node_base, conv_weight_grad_kernel<G> {
  using shape = conv_weight_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X, Dy>;
  template <std::size_t I, class H>
  using vjp = std::conditional_t<I == 0, conv_input_grad_node<Dy, H, G>, conv_node<X, H, G>>;
};

}  // namespace ingot::expr
