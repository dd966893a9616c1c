#pragma once
// Loops over the samples of a batch, dealt out to the pool's threads in
// contiguous shares (the same shares for the same thread count).
#include <cstddef>

#include "ingot/core/thread_pool.hpp"

namespace ingot::simd {

namespace detail {
// Samples [s0, s1) for thread t of n, with a batch too small to wake the
// workers done by the caller alone.
template <class F>
void for_samples(std::size_t batch, std::size_t values_per_sample, F&& f) {
  constexpr std::size_t parallel_min_values = std::size_t{1} << 14;
  if (batch * values_per_sample < parallel_min_values) {
    f(std::size_t{0}, batch);
    return;
  }
  pool().run([&](std::size_t t, std::size_t n) {
    const thread_range r = share(batch, t, n);
    f(r.begin, r.end);
  });
}
}  // namespace detail

}  // namespace ingot::simd
