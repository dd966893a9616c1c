#pragma once
// A heap buffer aligned to a cache line, sized once. Tensors live on the
// heap (shapes live in types), so a large model never grows the stack.
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace ingot {

inline constexpr std::size_t cache_line = 64;

// Number of elements of T that fill whole cache lines and hold at least n.
template <class T>
constexpr std::size_t padded(std::size_t n) {
  constexpr std::size_t per_line = cache_line / sizeof(T);
  return (n + per_line - 1) / per_line * per_line;
}

template <class T>
class aligned_buffer {
 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t n) : size_(n) {
    if (n) {
      data_.reset(static_cast<T*>(::operator new(padded<T>(n) * sizeof(T), std::align_val_t{cache_line})));
      std::memset(static_cast<void*>(data_.get()), 0, padded<T>(n) * sizeof(T));
    }
  }
  aligned_buffer(const aligned_buffer& o) : aligned_buffer(o.size_) {
    if (size_) std::memcpy(static_cast<void*>(data_.get()), o.data_.get(), size_ * sizeof(T));
  }
  aligned_buffer& operator=(const aligned_buffer& o) {
    if (this != &o) *this = aligned_buffer(o);
    return *this;
  }
  aligned_buffer(aligned_buffer&&) noexcept = default;
  aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  std::span<T> span() { return {data(), size_}; }
  std::span<const T> span() const { return {data(), size_}; }

 private:
  struct deleter {
    void operator()(T* p) const { ::operator delete(static_cast<void*>(p), std::align_val_t{cache_line}); }
  };
  std::unique_ptr<T[], deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace ingot
