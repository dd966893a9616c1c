#pragma once
// What a kernel's run(ctx) sees: its operands, its outputs, the batch, the
// rows to compute, scratch memory and the epilogue to hand to a GEMM. A
// kernel is written against this interface only, so it does not know how
// the plan stores values or which pass (if any) it carries. Shapes are
// run-time values: one compiled kernel serves every node of its kind.
//
//   Ctx::value_type                  float or double
//   Ctx::lazy, Ctx::flat             operand 0 is a fused element-wise tree
//                                    read through load (and, if flat, as one run)
//   ctx.batch()                      rows in this run's batch
//   ctx.row_begin(), row_end()       output rows to compute (a kernel whose
//                                    traits say row_split honours them;
//                                    others always get all rows)
//   ctx.in_rows(I), in_cols(I)       operand I's shape at this batch
//   ctx.in<I>()                      operand I in memory (const T*)
//   ctx.labels<I>()                  operand I as const std::int32_t* (labels)
//   ctx.load<V, Flat>(i, j)          lazy operand 0 at (i, j), as V (a SIMD batch of
//                                    columns j.. or one value), computed on the spot
//   ctx.out<O>()                     output O (nullptr for an optional output this
//                                    plan does not read)
//   ctx.out_cols(O)                  output O's columns
//   ctx.scratch()                    scratch_size<T>(capacity) elements
//   ctx.epilogue()                   the tile epilogue to call on finished tiles of
//                                    output 0 (simd::tile_epilogue; empty if none)
#include <array>
#include <cstddef>
#include <cstdint>

#include "ingot/expr/graph.hpp"
#include "ingot/plan/fused.hpp"
#include "ingot/simd/gemm.hpp"

namespace ingot::plan {

// Lazy is the skeleton of operand 0 when the kernel computes it in its own
// loop (a sum of an element-wise tree), else void.
template <class T, class Lazy = void, bool Flat = false>
struct kernel_context {
  using value_type = T;
  static constexpr bool lazy = !std::is_void_v<Lazy>;
  static constexpr bool flat = Flat;

  std::size_t batch_rows = 0, first_row = 0, last_row = 0;
  std::array<const void*, expr::max_arity> operands{};
  std::array<std::size_t, expr::max_arity> operand_rows{}, operand_cols{};
  std::array<T*, expr::max_outputs> outputs{};
  std::array<std::size_t, expr::max_outputs> output_cols{};
  T* scratch_memory = nullptr;
  simd::tile_epilogue tile{};
  pass_args<T> lazy_args{};

  std::size_t batch() const { return batch_rows; }
  std::size_t row_begin() const { return first_row; }
  std::size_t row_end() const { return last_row; }
  std::size_t in_rows(std::size_t i) const { return operand_rows[i]; }
  std::size_t in_cols(std::size_t i) const { return operand_cols[i]; }
  template <std::size_t I>
  const T* in() const {
    return static_cast<const T*>(operands[I]);
  }
  template <std::size_t I>
  const std::int32_t* labels() const {
    return static_cast<const std::int32_t*>(operands[I]);
  }
  template <class V, bool F>
  V load(std::size_t i, std::size_t j) const {
    static_assert(lazy, "ingot: internal error, load on an operand that is in memory");
    return skeleton_eval<Lazy>::template at<V, F>(lazy_args, i, j);
  }
  template <std::size_t O = 0>
  T* out() const {
    return outputs[O];
  }
  std::size_t out_cols(std::size_t o) const { return output_cols[o]; }
  T* scratch() const { return scratch_memory; }
  const simd::tile_epilogue& epilogue() const { return tile; }
};

}  // namespace ingot::plan
