#pragma once
// Flush-to-zero and denormals-are-zero for the duration of a scope (x86's
// MXCSR bits FTZ and DAZ; elsewhere a no-op). Adam's second-moment
// estimates of rarely active weights decay below FLT_MIN within an epoch or
// two, and arithmetic on such denormal floats takes many times longer than
// on normal ones; treating them as zero changes values only below 1.2e-38.
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define INGOT_HAVE_MXCSR 1
#endif

namespace ingot::simd {

class flush_denormals_scope {
 public:
  explicit flush_denormals_scope(bool enable = true) {
#ifdef INGOT_HAVE_MXCSR
    saved_ = _mm_getcsr();
    if (enable) _mm_setcsr(saved_ | ftz_daz);
#else
    (void)enable;
#endif
  }
  flush_denormals_scope(const flush_denormals_scope&) = delete;
  flush_denormals_scope& operator=(const flush_denormals_scope&) = delete;
  ~flush_denormals_scope() {
#ifdef INGOT_HAVE_MXCSR
    _mm_setcsr(saved_);
#endif
  }

  // Whether this thread flushes denormals now.
  static bool active() {
#ifdef INGOT_HAVE_MXCSR
    return (_mm_getcsr() & ftz_daz) == ftz_daz;
#else
    return false;
#endif
  }

 private:
#ifdef INGOT_HAVE_MXCSR
  static constexpr unsigned ftz_daz = 0x8040;  // FTZ (bit 15) | DAZ (bit 6)
  unsigned saved_ = 0;
#endif
};

}  // namespace ingot::simd
