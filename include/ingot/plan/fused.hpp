#pragma once
// Fused element-wise passes, compiled once per structure. The schedule
// fuses each chain of element-wise nodes into one loop; the loop depends
// only on the chain's skeleton: its ops, and for each value it reads, how
// the read is broadcast. Which buffers it reads, and the row width, are
// run-time arguments. Every layer of a deep model with the same activation
// therefore shares one compiled pass, and compile time stops growing with
// the number of layers.
//
//   sk_input<I, Mode>   input I: a buffer read at (i, j) as Mode says, or a
//                       scalar computed at run time (Mode value)
//   sk_op<Op, C...>     Op::apply over the children's values
//   sk_indexed<Op, I..> Op::apply_indexed(i, j, inputs I...): the op reads the
//                       inputs' storage itself (one-hot labels, max pooling's
//                       gradient)
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ingot/simd/math.hpp"

namespace ingot::plan {

enum class read_mode {
  full,    // same shape as the pass: (i, j)
  row,     // one row broadcast over the rows: (0, j)
  column,  // one column broadcast over the columns: (i, 0)
  scalar,  // one stored value: (0, 0)
  value,   // a scalar computed when the plan runs (a constant, 1 / count)
};

template <std::size_t I, read_mode Mode>
struct sk_input {};
template <class Op, class... C>
struct sk_op {};
template <class Op, std::size_t... I>
struct sk_indexed {};

// The run-time arguments of a pass: its inputs (buffers, or scalars for
// value inputs), its output and the row width.
template <class T>
struct pass_args {
  const void* const* in;
  const T* values;
  T* out;
  std::size_t cols;
};

template <class Skel>
struct skeleton_eval;

template <std::size_t I, read_mode Mode>
struct skeleton_eval<sk_input<I, Mode>> {
  template <class V, bool Flat, class T>
  static V at(const pass_args<T>& a, std::size_t i, std::size_t j) {
    if constexpr (Mode == read_mode::value) {
      return V(a.values[I]);
    } else {
      const T* p = static_cast<const T*>(a.in[I]);
      if constexpr (Mode == read_mode::scalar) return V(p[0]);
      else if constexpr (Flat || Mode == read_mode::row) return simd::load<V>(p + j);
      else if constexpr (Mode == read_mode::column) return V(p[i]);
      else return simd::load<V>(p + i * a.cols + j);
    }
  }
};

template <class Op, class... C>
struct skeleton_eval<sk_op<Op, C...>> {
  template <class V, bool Flat, class T>
  static V at(const pass_args<T>& a, std::size_t i, std::size_t j) {
    return Op::apply(skeleton_eval<C>::template at<V, Flat>(a, i, j)...);
  }
};

template <class Op, std::size_t... I>
struct skeleton_eval<sk_indexed<Op, I...>> {
  template <class V, bool Flat, class T>
  static V at(const pass_args<T>& a, std::size_t i, std::size_t j) {
    return Op::template apply_indexed<V>(i, j, a.in[I]...);
  }
};

// Out of line, so that the nodes sharing a skeleton share its code.
// The plan's per-node glue, always inlined into its step, so that each
// step compiles as one small function.
#if defined(__GNUC__)
#define INGOT_SHARED_CODE __attribute__((noinline))
#define INGOT_STEP_GLUE __attribute__((always_inline)) inline
#else
#define INGOT_SHARED_CODE
#define INGOT_STEP_GLUE inline
#endif

// Whether every read of a skeleton is the same at (i, j) and at the flat
// index i * cols + j: full buffers, stored scalars and run-time values.
template <class Skel>
struct reads_flat : std::false_type {};
template <std::size_t I, read_mode Mode>
struct reads_flat<sk_input<I, Mode>> : std::bool_constant<Mode != read_mode::row && Mode != read_mode::column> {};
template <class Op, class... C>
struct reads_flat<sk_op<Op, C...>> : std::bool_constant<(reads_flat<C>::value && ...)> {};

template <class Skel, class T>
struct fused_pass {
  // Rows [r0, r1) and columns [c0, c1) of the output.
  INGOT_SHARED_CODE static void rows(const pass_args<T>& a, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1) {
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    if constexpr (reads_flat<Skel>::value) {
      // Whole rows of a pass that reads no broadcast row or column are one
      // contiguous run: one loop over them keeps narrow rows (a regression
      // head's single column) in SIMD registers instead of scalar tails.
      if (c0 == 0 && c1 == a.cols) {
        flat_range(a, r0 * a.cols, r1 * a.cols);
        return;
      }
    }
    for (std::size_t i = r0; i < r1; ++i) {
      T* out = a.out + i * a.cols;
      std::size_t j = c0;
      for (; j + W <= c1; j += W) simd::store(out + j, skeleton_eval<Skel>::template at<V, false>(a, i, j));
      for (; j < c1; ++j) out[j] = skeleton_eval<Skel>::template at<T, false>(a, i, j);
    }
  }
  // Values [k0, k1) as one run (every input is full or scalar).
  INGOT_SHARED_CODE static void flat_range(const pass_args<T>& a, std::size_t k0, std::size_t k1) {
    using V = simd::vec<T>;
    constexpr std::size_t W = simd::width<T>;
    std::size_t k = k0;
    for (; k + W <= k1; k += W) simd::store(a.out + k, skeleton_eval<Skel>::template at<V, true>(a, 0, k));
    for (; k < k1; ++k) a.out[k] = skeleton_eval<Skel>::template at<T, true>(a, 0, k);
  }
  // As a GEMM's tile epilogue: context points at the pass_args.
  static void tile(const void* context, std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) {
    fused_pass::rows(*static_cast<const pass_args<T>*>(context), i0, i0 + rows, j0, j0 + cols);
  }
};

}  // namespace ingot::plan
