#pragma once
// Large, long-lived buffers on 2 MB pages.
//
// A shuffled batch reads rows from anywhere in a data set of hundreds of
// megabytes: with 4 KB pages nearly every row costs a TLB miss and a page
// walk. Linux backs a buffer's 2 MB-aligned interior with transparent huge
// pages when asked before the memory is first touched (MADV_HUGEPAGE; needed
// where the system's setting is "madvise", Debian's default). It is a hint:
// where the kernel declines (THP disabled, no free 2 MB frames, another OS)
// the buffer is the same, on small pages.
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ingot {

inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

// Asks for huge pages over the whole 2 MB pages inside [p, p + bytes); true
// when the kernel took the hint, false (and no system call) when the buffer
// holds no whole 2 MB page. Pages already touched stay as they are.
inline bool advise_huge_pages(const void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (begin + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
  const std::uintptr_t last = (begin + bytes) & ~(huge_page_bytes - 1);
  if (bytes == 0 || last <= first) return false;
  return ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

// Fresh zeroed memory for `bytes` starting on a 2 MB boundary, advised for
// huge pages, or nullptr (then the caller allocates as usual). Nothing is
// touched here: the pages fault in on first use, as huge pages where the
// kernel allows. Release with unmap_huge_pages(p, bytes).
inline void* map_huge_pages(std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < huge_page_bytes) return nullptr;
  const std::size_t span = bytes + huge_page_bytes;
  void* const raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Keep the 2 MB-aligned part and give back what lies before and after it.
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t start = (begin + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
  constexpr std::uintptr_t small_page = 4096;
  const std::uintptr_t end = (start + bytes + small_page - 1) & ~(small_page - 1);
  if (start > begin) ::munmap(raw, start - begin);
  if (begin + span > end) ::munmap(reinterpret_cast<void*>(end), begin + span - end);
  ::madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
#else
  (void)bytes;
  return nullptr;
#endif
}

inline void unmap_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  ::munmap(p, bytes);
#endif
}

// n value-initialised elements, on huge pages where the kernel allows. The
// storage is reserved, advised and only then written: where it is a fresh
// mapping (glibc maps large allocations) its pages fault in as huge pages;
// where malloc writes it first (MALLOC_PERTURB_) they stay small.
template <class T>
std::vector<T> huge_page_vector(std::size_t n) {
  std::vector<T> v;
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
  v.resize(n);
  return v;
}

}  // namespace ingot
