#pragma once
// The precision of float matrix products, process-wide, as PyTorch's
// torch.set_float32_matmul_precision: float32 (the default) multiplies in
// float; bfloat16 lets a product round its operands to bfloat16 (8
// significant bits) and sum the exact products in float, which AVX-512
// BF16 (vdpbf16ps) does at twice the multiply-add rate of float FMAs.
// Where the build's target lacks that instruction the setting is accepted
// and products stay float, as PyTorch ignores "medium" on such CPUs;
// bf16_matmul_available says which.
#include <atomic>

namespace ingot {

enum class matmul_precision { float32, bfloat16 };

// Whether the build's target multiplies bfloat16 pairs in hardware
// (-march with AVX512_BF16: Zen 4, Sapphire Rapids, Cooper Lake).
inline constexpr bool bf16_matmul_available =
#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    true;
#else
    false;
#endif

namespace detail {
inline std::atomic<matmul_precision>& matmul_precision_slot() {
  static std::atomic<matmul_precision> p{matmul_precision::float32};
  return p;
}
}  // namespace detail

// For the products that start from now on; not to be changed while a step
// or a prediction runs on another thread.
inline void set_matmul_precision(matmul_precision p) { detail::matmul_precision_slot().store(p, std::memory_order_relaxed); }
inline matmul_precision get_matmul_precision() { return detail::matmul_precision_slot().load(std::memory_order_relaxed); }

// Sets a precision for a scope and restores the previous one at its end.
class matmul_precision_scope {
 public:
  explicit matmul_precision_scope(matmul_precision p) : previous_(get_matmul_precision()) { set_matmul_precision(p); }
  matmul_precision_scope(const matmul_precision_scope&) = delete;
  matmul_precision_scope& operator=(const matmul_precision_scope&) = delete;
  ~matmul_precision_scope() { set_matmul_precision(previous_); }

 private:
  matmul_precision previous_;
};

}  // namespace ingot
