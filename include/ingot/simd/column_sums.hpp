#pragma once
// Sums over the rows of a [rows x cols] operand (one value per column: the
// batch statistics of BatchNorm, a bias gradient), split across the pool's
// threads by contiguous ranges of rows. Each thread sums its rows into its
// own partial row and the partial rows are then added in thread order, so
// the result depends on the thread count but never on timing; on one thread,
// or for an operand too small to wake the workers, it is the plain sum down
// the rows.
#include <algorithm>
#include <cstddef>

#include "ingot/core/thread_pool.hpp"
#include "ingot/core/worker_buffer.hpp"
#include "ingot/simd/math.hpp"

namespace ingot::simd {

namespace detail {
struct column_sums_tag {};

// Operands smaller than this are summed by the calling thread alone (a run
// of the pool costs about a microsecond).
inline constexpr std::size_t column_sums_parallel_min = std::size_t{1} << 15;
}  // namespace detail

// out[j] = sum over rows i of the rows added by add_rows(i0, i1, acc), which
// adds rows [i0, i1) into the zeroed row acc (cols values).
template <class T, class AddRows>
void column_sums(std::size_t rows, std::size_t cols, T* out, AddRows&& add_rows) {
  thread_pool& threads = pool();
  const std::size_t used =
      rows * cols < detail::column_sums_parallel_min ? 1 : std::min(threads.size(), rows);
  if (used <= 1) {
    for (std::size_t j = 0; j < cols; ++j) out[j] = T(0);
    add_rows(std::size_t{0}, rows, out);
    return;
  }
  constexpr std::size_t max_threads = 256;
  T* partial[max_threads] = {};
  std::size_t parts = 1;
  threads.run([&](std::size_t t, std::size_t n) {
    // n is 1 when this runs inside another parallel loop: thread 0 takes all rows.
    const std::size_t k = std::min({used, n, max_threads});
    if (t >= k) return;
    if (t == 0) parts = k;
    const thread_range r = share(rows, t, k);
    T* acc = t == 0 ? out : worker_buffer<T, detail::column_sums_tag>(cols);
    for (std::size_t j = 0; j < cols; ++j) acc[j] = T(0);
    add_rows(r.begin, r.end, acc);
    partial[t] = acc;
  });
  for (std::size_t t = 1; t < parts; ++t)
    for_each_batch<T>(cols, [&]<class U>(std::size_t j) {
      simd::store(out + j, simd::load<U>(out + j) + simd::load<U>(partial[t] + j));
    });
}

}  // namespace ingot::simd
