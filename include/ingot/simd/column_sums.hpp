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
#include <type_traits>

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
// x, as a value the compiler cannot see into (nor fuse an operation into).
template <class T>
inline T opaque(T x) {
#if defined(__x86_64__) && defined(__SSE2__)
  asm("" : "+x"(x));
#elif defined(__aarch64__)
  asm("" : "+w"(x));
#else
  volatile T copy = x;
  x = copy;
#endif
  return x;
}
}  // namespace detail

// Adds rows [i0, i1) of M operands into the rows acc[m] of cols values,
// a block of columns at a time with the block's sums held in registers
// down the rows: add.template operator()<U>(i, j, a) sets each a[m] to
// a[m] + (operand m at row i, columns j...) for U a vector or one value.
// Each sum adds the same values in the same order as a row-by-row loop over
// acc would; the row-by-row loop kept the sums in memory, so each row waited
// for the store of the row before it (a BatchNorm's 32 channels are two
// vectors per row).
template <class T, std::size_t M, class Add>
void add_rows_by_columns(std::size_t i0, std::size_t i1, std::size_t cols, const std::array<T*, M>& acc, Add&& add) {
  using V = vec<T>;
  constexpr std::size_t W = width<T>;
  // Vectors per block: at most eight sums in registers, for M operands.
  constexpr std::size_t B = M >= 8 ? 1 : 8 / M;
  auto block = [&]<std::size_t N>(std::integral_constant<std::size_t, N>, std::size_t j0) {
    std::array<std::array<V, M>, N> a;
    for (std::size_t b = 0; b < N; ++b)
      for (std::size_t m = 0; m < M; ++m) a[b][m] = V::load_unaligned(acc[m] + j0 + b * W);
    for (std::size_t i = i0; i < i1; ++i) {
#pragma GCC unroll 8
      for (std::size_t b = 0; b < N; ++b) add.template operator()<V>(i, j0 + b * W, a[b]);
    }
    for (std::size_t b = 0; b < N; ++b)
      for (std::size_t m = 0; m < M; ++m) a[b][m].store_unaligned(acc[m] + j0 + b * W);
  };
  std::size_t j = 0;
  for (; j + B * W <= cols; j += B * W) block(std::integral_constant<std::size_t, B>{}, j);
  for (; j + W <= cols; j += W) block(std::integral_constant<std::size_t, 1>{}, j);
  // The last columns one value at a time, each column's sums in registers
  // down the rows. Each row's value is formed alone (added to zero, which
  // gives it exactly) and hidden from the compiler before it is added:
  // otherwise how g++ contracts a multiply into the sum's add depends on the
  // loop around it, and the tail of sum(a * c) joined with two other sums
  // came out a rounding away from the same sum's loop alone. (Row by row
  // through memory it matched, but each row waited for the store of the row
  // before it: a seed model's 100-row bias gradient took 0.05 us more.)
  for (; j < cols; ++j) {
    std::array<T, M> a;
    for (std::size_t m = 0; m < M; ++m) a[m] = acc[m][j];
    for (std::size_t i = i0; i < i1; ++i) {
      std::array<T, M> v{};
      add.template operator()<T>(i, j, v);
      for (std::size_t m = 0; m < M; ++m) a[m] += detail::opaque(v[m]);
    }
    for (std::size_t m = 0; m < M; ++m) acc[m][j] = a[m];
  }
}

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
