#pragma once
// What a kernel's run(ctx) sees: its operands, its outputs, the batch, the
// rows to compute, scratch memory and the epilogue to call on finished
// tiles. A kernel is written against this interface only, so it does not
// know how the plan stores values or which pass (if any) it carries.
//
//   Ctx::value_type                   float or double
//   Ctx::in_shape<I>, out_shape<O>    shape<rows, cols> (rows may be `batch`)
//   Ctx::flat<I>                      operand I can be read as one run: load<I, V, true>(0, j)
//   ctx.batch()                       rows in this run's batch
//   ctx.row_begin(), row_end()        output rows to compute (a kernel whose
//                                     traits say row_split honours them;
//                                     others always get all rows)
//   ctx.in<I>()                       operand I in memory (const T*, or const
//                                     std::int32_t* for labels)
//   ctx.load<I, V, Flat>(i, j)        operand I at (i, j) as V (a SIMD batch of
//                                     columns j.. or one value), computed on the
//                                     spot if it is a fused element-wise tree
//   ctx.out<O>()                      output O (nullptr for an optional output
//                                     this plan does not read)
//   ctx.scratch()                     scratch_size<T>(capacity) elements
//   ctx.epilogue(i0, j0, rows, cols)  after a tile of output 0 is final
#include <cstddef>
#include <type_traits>

#include "ingot/core/shape.hpp"

namespace ingot::plan {

struct no_epilogue {
  void operator()(std::size_t, std::size_t, std::size_t, std::size_t) const {}
};

template <class Plan, std::size_t K, class Epilogue>
class kernel_context {
  using graph = typename Plan::graph_type;
  template <std::size_t I>
  static constexpr std::size_t operand = graph::child(K, I);

 public:
  using value_type = typename Plan::value_type;
  template <std::size_t I>
  using in_shape = ingot::shape<graph::props(operand<I>).rows_ct, graph::props(operand<I>).cols>;
  template <std::size_t O = 0>
  using out_shape = ingot::shape<graph::props(K).out_rows[O], graph::props(K).out_cols[O]>;
  template <std::size_t I>
  static constexpr bool flat = Plan::template reads_flat<operand<I>>();
  static constexpr bool has_epilogue = !std::is_same_v<Epilogue, no_epilogue>;

  kernel_context(const Plan& plan, const Epilogue& epilogue, std::size_t row_begin, std::size_t row_end)
      : plan_(plan), epilogue_(epilogue), row_begin_(row_begin), row_end_(row_end) {}

  std::size_t batch() const { return plan_.batch_; }
  std::size_t row_begin() const { return row_begin_; }
  std::size_t row_end() const { return row_end_; }

  template <std::size_t I>
  auto in() const {
    return plan_.template storage<operand<I>>();
  }
  template <std::size_t I, class V, bool Flat>
  V load(std::size_t i, std::size_t j) const {
    return plan_.template value_at<operand<I>, V, Flat>(i, j);
  }
  template <std::size_t O = 0>
  value_type* out() const {
    return plan_.template output_storage<K, O>();
  }
  value_type* scratch() const { return plan_.scratch_; }
  void epilogue(std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) const {
    epilogue_(i0, j0, rows, cols);
  }

 private:
  const Plan& plan_;
  const Epilogue& epilogue_;
  std::size_t row_begin_, row_end_;
};

}  // namespace ingot::plan
