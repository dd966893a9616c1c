#pragma once
// Sums over the rows of a [rows x cols] operand (one value per column: the
// batch statistics of BatchNorm, a bias gradient over every pixel of a
// batch of images), as a sum of partial sums over fixed chunks of rows.
//
// The chunks depend on the row count alone: each chunk is summed down its
// rows into a partial row of its own, the chunks are dealt out to the pool's
// threads, and the partial rows are added in chunk order at the end. The
// result is therefore the same for every thread count, and the rounding
// error grows with the chunk length plus the number of chunks rather than
// with the row count (a running float sum over the 50,176 pixels of a
// 28 x 28 batch of 64 moved a CNN's first loss by 1.5e-6 against PyTorch).
#include <algorithm>
#include <array>
#include <cstddef>

#include "ingot/core/aligned.hpp"
#include "ingot/core/thread_pool.hpp"
#include "ingot/core/worker_buffer.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::simd {

namespace detail {
struct column_sums_tag {};

// At most this many chunks, of at least this many rows.
inline constexpr std::size_t column_sums_max_chunks = 64;
inline constexpr std::size_t column_sums_min_chunk = 256;
// Operands smaller than this are summed by the calling thread alone (a run
// of the pool costs about a microsecond).
inline constexpr std::size_t column_sums_parallel_min = std::size_t{1} << 15;
}  // namespace detail

// out[m][j] = sum over rows i of row i of operand m, for M operands of the
// same shape in one loop, where add_rows(i0, i1, acc) adds rows [i0, i1)
// of operand m into the zeroed row acc[m] of cols values, for every m. Each
// sum is the one column_sums below gives for its operand alone.
template <class T, std::size_t M, class AddRows>
void column_sums(std::size_t rows, std::size_t cols, const std::array<T*, M>& out, AddRows&& add_rows) {
  for (T* o : out)
    for (std::size_t j = 0; j < cols; ++j) o[j] = T(0);
  if (rows <= detail::column_sums_min_chunk) {
    add_rows(std::size_t{0}, rows, out);
    return;
  }
  const std::size_t chunk =
      std::max(detail::column_sums_min_chunk, (rows + detail::column_sums_max_chunks - 1) / detail::column_sums_max_chunks);
  const std::size_t chunks = (rows + chunk - 1) / chunk;
  const std::size_t stride = padded<T>(cols);
  // The calling thread's buffer; the workers write their chunks' rows into
  // it. Always room for the most chunks, so that a larger batch after a
  // smaller one does not allocate inside a step.
  T* partial = worker_buffer<T, detail::column_sums_tag>(detail::column_sums_max_chunks * M * stride);
  auto sum_chunks = [&](std::size_t c0, std::size_t c1) {
    for (std::size_t c = c0; c < c1; ++c) {
      std::array<T*, M> acc;
      for (std::size_t m = 0; m < M; ++m) {
        acc[m] = partial + (c * M + m) * stride;
        for (std::size_t j = 0; j < cols; ++j) acc[m][j] = T(0);
      }
      add_rows(c * chunk, std::min(rows, (c + 1) * chunk), acc);
    }
  };
  if (rows * cols < detail::column_sums_parallel_min) {
    sum_chunks(0, chunks);
  } else {
    pool().run([&](std::size_t t, std::size_t n) {
      const thread_range r = share(chunks, t, n);
      sum_chunks(r.begin, r.end);
    });
  }
  for (std::size_t c = 0; c < chunks; ++c)
    for (std::size_t m = 0; m < M; ++m) {
      const T* acc = partial + (c * M + m) * stride;
      T* o = out[m];
      for_each_batch<T>(cols, [&]<class U>(std::size_t j) {
        simd::store(o + j, simd::load<U>(o + j) + simd::load<U>(acc + j));
      });
    }
}

// out[j] = sum over rows i of row i, where add_rows(i0, i1, acc) adds rows
// [i0, i1) into the zeroed row acc of cols values.
template <class T, class AddRows>
void column_sums(std::size_t rows, std::size_t cols, T* out, AddRows&& add_rows) {
  column_sums<T, 1>(rows, cols, std::array<T*, 1>{out},
                    [&](std::size_t i0, std::size_t i1, const std::array<T*, 1>& acc) { add_rows(i0, i1, acc[0]); });
}

}  // namespace ingot::simd
