#pragma once
// 2-D max and average pooling of channels-last images (loops in
// simd/pool.hpp). Max pooling has two outputs: 0 the maxima, 1 where each
// was found (a pixel index within the sample, exact in float up to 2^24
// pixels), which its derivative reads to route the gradient back.
#include <algorithm>
#include <cstddef>

#include "ingot/expr/elementwise.hpp"
#include "ingot/expr/outputs.hpp"
#include "ingot/simd/pool.hpp"

namespace ingot::expr {

template <simd::pool_geometry G>
using pool_input_shape = image_shape<G.C, G.H, G.W>;
template <simd::pool_geometry G>
using pool_output_shape = image_shape<G.C, G.OH(), G.OW()>;

inline constexpr kernel_traits pool_traits{.operands_in_memory = true, .epilogue = false, .row_split = false};

// Windows that tile the image (stride = window) read each input value at
// most once, so max pooling then computes its operand on the spot: the
// activation before it (BatchNorm's normalisation and ReLU) is not written
// out and read back, and the backward loops that need it compute it again
// from what they read anyway (plan/schedule.hpp, recomputable). Overlapping
// windows would compute each value several times, and read the operand in
// memory.
template <simd::pool_geometry G>
struct max_pool_kernel {
  using kind = max_pool_kernel;  // what tells this kernel's nodes apart from other kernels' (graph.hpp)
  static constexpr bool windows_tile = G.KH == G.SH && G.KW == G.SW;
  static constexpr kernel_traits traits{.operands_in_memory = !windows_tile, .epilogue = false, .row_split = false};
  template <class T>
  static constexpr std::size_t scratch_size(std::size_t) { return 0; }
  template <class Ctx>
  static void run(const Ctx& ctx) {
    if constexpr (Ctx::lazy) {
      simd::max_pool_forward_from(
          G, ctx.batch(),
          [&ctx]<class V>(std::size_t row, std::size_t c) { return ctx.template load<V, false>(row, c); },
          ctx.template out<0>(), ctx.template out<1>());
    } else {
      simd::max_pool_forward(G, ctx.batch(), ctx.template in<0>(), ctx.template out<0>(), ctx.template out<1>());
    }
  }
};

template <simd::pool_geometry G>
struct max_gather_op;

// Max pooling's input gradient as an element-wise value: pixel p of sample
// s gets the sum of dY over the windows whose maximum it was, read on the
// spot from dY and the argmax (both of the pooled size). As a value rather
// than a kernel it is computed inside the loops that read it (the ReLU
// mask's product, BatchNorm's sums and its input gradient), so the
// full-size gradient is never zeroed, scattered into and read back. The
// windows are visited in scan order starting from zero, so each sum is the
// float that scattering dY window by window would give.
template <simd::pool_geometry G>
struct max_unpool_op {
  static constexpr bool indexed = true;
  static constexpr bool cheap = true;
  template <class... In>
  using result_shape = pool_input_shape<G>;
  template <class V>
  static V apply_indexed(std::size_t i, std::size_t j, const void* dy_in, const void* arg_in) {
    using T = simd::scalar_of_t<V>;
    const T* dy = static_cast<const T*>(dy_in);
    const T* arg = static_cast<const T*>(arg_in);
    constexpr std::size_t C = G.C, HW = G.H * G.W, OH = G.OH(), OW = G.OW();
    const std::size_t s = i / HW, p = i % HW, h = p / G.W, w = p % G.W;
    const V here(static_cast<T>(p));
    if constexpr (G.KH == G.SH && G.KW == G.SW) {
      // Windows that tile the image: a pixel is in one window at most (none
      // past the last whole window), so there is no loop. The sum still
      // starts from zero, as the loop's would (a -0 comes out as +0).
      const std::size_t oh = h / G.SH, ow = w / G.SW;
      if (oh >= OH || ow >= OW) return V(T(0));
      const std::size_t q = ((s * OH + oh) * OW + ow) * C + j;
      const V a = simd::load<V>(arg + q), d = simd::load<V>(dy + q);
      if constexpr (simd::is_scalar_v<V>) return T(0) + (a == here ? d : T(0));
      else return V(T(0)) + xsimd::select(a == here, d, V(T(0)));
    }
    // Windows (oh, ow) with oh SH <= h < oh SH + KH, and the same across.
    const std::size_t oh0 = h + 1 > G.KH ? (h + 1 - G.KH + G.SH - 1) / G.SH : 0;
    const std::size_t ow0 = w + 1 > G.KW ? (w + 1 - G.KW + G.SW - 1) / G.SW : 0;
    const std::size_t oh1 = std::min(h / G.SH + 1, OH), ow1 = std::min(w / G.SW + 1, OW);
    V sum(T(0));
    for (std::size_t oh = oh0; oh < oh1; ++oh)
      for (std::size_t ow = ow0; ow < ow1; ++ow) {
        const std::size_t q = ((s * OH + oh) * OW + ow) * C + j;
        const V a = simd::load<V>(arg + q), d = simd::load<V>(dy + q);
        if constexpr (simd::is_scalar_v<V>) sum = sum + (a == here ? d : T(0));
        else sum = sum + xsimd::select(a == here, d, V(T(0)));
      }
    return sum;
  }
  // Linear in dY: its derivative gathers the upstream gradient at each
  // window's argmax. The argmax is an index and carries no gradient.
  template <std::size_t I, class Y, class Gr, class Dy, class Arg>
  using vjp = std::conditional_t<I == 0, ew<max_gather_op<G>, Gr, Arg>, no_grad>;
};

// The value of x at each window's argmax, channel by channel (pooled shape):
// the derivative of max_unpool_op, and its own derivative is that again.
template <simd::pool_geometry G>
struct max_gather_op {
  static constexpr bool indexed = true;
  template <class... In>
  using result_shape = pool_output_shape<G>;
  template <class V>
  static V apply_indexed(std::size_t i, std::size_t j, const void* x_in, const void* arg_in) {
    using T = simd::scalar_of_t<V>;
    const T* x = static_cast<const T*>(x_in);
    const T* arg = static_cast<const T*>(arg_in);
    constexpr std::size_t C = G.C, HW = G.H * G.W, Q = G.OH() * G.OW();
    const T* img = x + i / Q * HW * C;
    const T* a = arg + i * C + j;
    if constexpr (simd::is_scalar_v<V>) {
      return img[static_cast<std::size_t>(a[0]) * C + j];
    } else {
      alignas(64) T lanes[V::size];
      for (std::size_t l = 0; l < V::size; ++l) lanes[l] = img[static_cast<std::size_t>(a[l]) * C + j + l];
      return V::load_aligned(lanes);
    }
  }
  template <std::size_t I, class Y, class Gr, class X, class Arg>
  using vjp = std::conditional_t<I == 0, ew<max_unpool_op<G>, Gr, Arg>, no_grad>;
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
  using vjp = ew<max_unpool_op<G>, typename Adj::template at<0>, argmax>;
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
