#pragma once
// Software prefetches that the optimiser keeps. A loop that only asks for
// cache lines has no effect the compiler must preserve, and g++ 12 -O2
// deleted one such loop (the data loader's); an empty asm that takes the
// address keeps each request.

namespace ingot {

inline void prefetch_for_read(const void* p) {
  __builtin_prefetch(p);
  asm volatile("" : : "r"(p));
}

// Into L2 and beyond, not L1: for lines needed after the current work,
// which would only evict that work's lines from L1.
inline void prefetch_to_l2(const void* p) {
  __builtin_prefetch(p, 0, 2);
  asm volatile("" : : "r"(p));
}

inline void prefetch_for_write(const void* p) {
  __builtin_prefetch(p, 1);
  asm volatile("" : : "r"(p));
}

}  // namespace ingot
