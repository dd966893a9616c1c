#pragma once
// Scratch that belongs to the calling thread: a pool worker's share of a
// parallel loop needs memory of its own, and allocating it each step would
// break the plan's promise of no allocation per step.
#include <cstddef>

#include "ingot/core/aligned.hpp"

namespace ingot {

// The calling thread's buffer of at least n elements of T, kept between
// calls (allocated on first use and when a larger one is asked for). Tag
// keeps the buffers of different users apart, so that two loops nested in
// one another never share one.
template <class T, class Tag>
T* worker_buffer(std::size_t n) {
  thread_local aligned_buffer<T> buffer;
  if (buffer.size() < n) buffer = aligned_buffer<T>(n);
  return buffer.data();
}

}  // namespace ingot
