#pragma once
// 2-D max and average pooling of channels-last images (loops in
// simd/pool.hpp). Max pooling has two outputs: 0 the maxima, 1 where each
// was found (a pixel index within the sample, exact in float up to 2^24
// pixels), which its derivative reads to route the gradient back.
#include <cstddef>

#include "ingot/expr/outputs.hpp"
#include "ingot/simd/pool.hpp"

namespace ingot::expr {

template <simd::pool_geometry G>
using pool_input_shape = image_shape<G.C, G.H, G.W>;
template <simd::pool_geometry G>
using pool_output_shape = image_shape<G.C, G.OH(), G.OW()>;

inline constexpr kernel_traits pool_traits{.operands_in_memory = true, .epilogue = false, .row_split = false};

template <simd::pool_geometry G>
struct max_pool_kernel {
  using kind = max_pool_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr kernel_traits traits = pool_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::max_pool_forward(G, ctx.batch(), ctx.template in<0>(), ctx.template out<0>(), ctx.template out<1>());
  }
};

template <simd::pool_geometry G>
struct max_pool_backward_kernel {
  using kind = max_pool_backward_kernel;
  static constexpr kernel_traits traits = pool_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::max_pool_backward(G, ctx.batch(), ctx.template in<0>(), ctx.template in<1>(), ctx.template out<0>());
  }
};

// dX: dY routed to the argmax of each window (Arg is max pooling's output 1).
template <class Dy, class Arg, simd::pool_geometry G>
struct max_pool_backward_node : node_base, max_pool_backward_kernel<G> {
  using shape = pool_input_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<Dy, Arg>;
};

template <class X, simd::pool_geometry G>
struct max_pool_node : node_base, max_pool_kernel<G> {
  static_assert(std::is_same_v<typename X::shape, pool_input_shape<G>>, "ingot: internal error, pool input shape");
  using shape = pool_output_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X>;

  static constexpr std::size_t num_outputs = 2;
  template <std::size_t I>
  using output_shape = shape;
  static constexpr bool output_optional(std::size_t) { return false; }
  using argmax = output_of<max_pool_node, 1>;

  // Only the maxima carry a gradient; the argmax is an index.
  template <std::size_t I, class Adj>
  using vjp = max_pool_backward_node<typename Adj::template at<0>, argmax, G>;
};

template <simd::pool_geometry G>
struct avg_pool_kernel {
  using kind = avg_pool_kernel;
  static constexpr kernel_traits traits = pool_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::avg_pool_forward(G, ctx.batch(), ctx.template in<0>(), ctx.template out<0>());
  }
};

template <simd::pool_geometry G>
struct avg_pool_backward_kernel {
  using kind = avg_pool_backward_kernel;
  static constexpr kernel_traits traits = pool_traits;
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    simd::avg_pool_backward(G, ctx.batch(), ctx.template in<0>(), ctx.template out<0>());
  }
};

template <class X, simd::pool_geometry G>
struct avg_pool_node;

// Average pooling is linear and its derivative spreads dY / (KH KW) over
// each window; the derivative of that spread is the average again.
template <class Dy, simd::pool_geometry G>
struct avg_pool_backward_node : node_base, avg_pool_backward_kernel<G> {
  using shape = pool_input_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<Dy>;
  template <std::size_t I, class H>
  using vjp = avg_pool_node<H, G>;
};

template <class X, simd::pool_geometry G>
struct avg_pool_node : node_base, avg_pool_kernel<G> {
  static_assert(std::is_same_v<typename X::shape, pool_input_shape<G>>, "ingot: internal error, pool input shape");
  using shape = pool_output_shape<G>;
  static constexpr category cat = category::kernel;
  static constexpr bool is_matrix = false;
  using children = type_list<X>;
  template <std::size_t I, class H>
  using vjp = avg_pool_backward_node<H, G>;
};

}  // namespace ingot::expr
