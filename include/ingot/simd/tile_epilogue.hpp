#pragma once
// The hook a GEMM calls on each finished tile of C.
#include <cstddef>

namespace ingot::simd {

// Called once per finished tile of C (rows i0.., columns j0..): the
// element-wise pass fused into a product runs there. A plain function
// pointer rather than a template parameter, so that one compiled GEMM per
// transpose pair serves every layer of every model; the call costs a few
// nanoseconds per tile of MR x NR x K multiply-adds.
struct tile_epilogue {
  void (*fn)(const void* context, std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) = nullptr;
  const void* context = nullptr;
  std::size_t row_offset = 0;  // added to i0: the rows of C this call computes start there
  std::size_t col_offset = 0;  // added to j0: the columns of C this call computes start there
  void operator()(std::size_t i0, std::size_t j0, std::size_t rows, std::size_t cols) const {
    if (fn) fn(context, row_offset + i0, col_offset + j0, rows, cols);
  }
};

}  // namespace ingot::simd
