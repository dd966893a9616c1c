#pragma once
// The parameter arena: every parameter of a model in one aligned buffer,
// each starting on a cache line, in the model's state_dict order. Gradients
// and optimizer state use the same layout, so an optimizer updates the
// whole model in one flat pass. The state arena (state_arena.hpp) holds
// the values a model keeps but does not train in the same layout.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ingot/core/aligned.hpp"
#include "ingot/core/type_list.hpp"

namespace ingot {

namespace detail {
// A leaf's kernel size (a convolution weight's KH, KW), or 0.
template <class P>
constexpr std::array<std::size_t, 2> kernel_dims() {
  if constexpr (requires { P::kernel_h; }) return {P::kernel_h, P::kernel_w};
  else return {0, 0};
}
}  // namespace detail

template <class Params>
struct arena_layout;
template <class... P>
struct arena_layout<type_list<P...>> {
  static constexpr std::size_t count = sizeof...(P);
  template <class T>
  static constexpr std::array<std::size_t, count + 1> offsets() {
    std::array<std::size_t, count + 1> o{};
    std::size_t at = 0, k = 0;
    ((o[k++] = at, at += padded<T>(P::shape::size(0))), ...);
    o[count] = at;
    return o;
  }
  static constexpr std::array<std::size_t, count> sizes = {P::shape::size(0)...};
  static constexpr std::array<std::size_t, count> rows = {P::shape::rows_ct...};
  static constexpr std::array<std::size_t, count> cols = {P::shape::cols...};
  static constexpr std::array<bool, count> is_matrix = {P::is_matrix...};
  static constexpr std::array<std::array<std::size_t, 2>, count> kernels = {detail::kernel_dims<P>()...};
  static constexpr std::array<std::string_view, count> names = {P::name.view()...};
};

template <class T, class Params>
class param_arena {
  using layout = arena_layout<Params>;
  static constexpr auto offsets_ = layout::template offsets<T>();
  // Entry indices ordered by a hash of their names, for lookups by name at
  // compile time (comparing hashes is far cheaper for the compiler than
  // comparing strings).
  static constexpr std::uint64_t name_hash(std::string_view name) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
  }
  static constexpr std::array<std::uint64_t, layout::count> hashes_ = [] {
    std::array<std::uint64_t, layout::count> h{};
    for (std::size_t i = 0; i < layout::count; ++i) h[i] = name_hash(layout::names[i]);
    return h;
  }();
  static constexpr auto sorted_ = [] {
    std::array<std::size_t, layout::count> a{};
    for (std::size_t i = 0; i < layout::count; ++i) a[i] = i;
    for (std::size_t i = 1; i < layout::count; ++i)
      for (std::size_t j = i; j > 0 && hashes_[a[j]] < hashes_[a[j - 1]]; --j) {
        const std::size_t t = a[j];
        a[j] = a[j - 1];
        a[j - 1] = t;
      }
    return a;
  }();
  static_assert([] {
    for (std::size_t i = 1; i < layout::count; ++i)
      if (hashes_[sorted_[i]] == hashes_[sorted_[i - 1]] && layout::names[sorted_[i]] == layout::names[sorted_[i - 1]])
        return false;
    return true;
  }(), "ingot: two entries of a model's parameters (or state) have the same name");

 public:
  using value_type = T;
  using params = Params;
  static constexpr std::size_t count = layout::count;
  static constexpr std::size_t flat_size = offsets_[count];

  param_arena() : values_(flat_size) {}

  template <class P>
  static constexpr std::size_t index_of() {
    static_assert(contains_v<P, Params>, "ingot: this model has no such parameter");
    return index_in_v<P, Params>;
  }
  template <class P>
  static constexpr std::size_t offset_of() { return offsets_[index_of<P>()]; }
  static constexpr std::size_t offset(std::size_t k) { return offsets_[k]; }

  template <class P>
  std::span<T> get() { return {values_.data() + offset_of<P>(), P::shape::size(0)}; }
  template <class P>
  std::span<const T> get() const { return {values_.data() + offset_of<P>(), P::shape::size(0)}; }

  // Parameter k in state_dict order.
  std::span<T> at(std::size_t k) { return {values_.data() + offsets_[k], layout::sizes[k]}; }
  std::span<const T> at(std::size_t k) const { return {values_.data() + offsets_[k], layout::sizes[k]}; }
  static constexpr std::string_view name(std::size_t k) { return layout::names[k]; }
  // PyTorch shape: [rows, cols] for a matrix, [cols] for a vector.
  static constexpr std::array<std::size_t, 2> torch_shape(std::size_t k) { return {layout::rows[k], layout::cols[k]}; }
  static constexpr bool is_matrix(std::size_t k) { return layout::is_matrix[k]; }
  // KH, KW of a convolution weight (its PyTorch shape has four dimensions), else 0, 0.
  static constexpr std::array<std::size_t, 2> kernel_dims(std::size_t k) { return layout::kernels[k]; }

  // Index of the entry named name, or count when there is none (a binary
  // search over the names sorted once at compile time).
  static constexpr std::size_t index_of_name(std::string_view name) {
    const std::uint64_t h = name_hash(name);
    std::size_t lo = 0, hi = count;
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (hashes_[sorted_[mid]] < h) lo = mid + 1;
      else hi = mid;
    }
    for (; lo < count && hashes_[sorted_[lo]] == h; ++lo)
      if (layout::names[sorted_[lo]] == name) return sorted_[lo];
    return static_cast<std::size_t>(-1);
  }
  T* value_at(std::size_t k) { return values_.data() + offsets_[k]; }

  std::span<T> find(std::string_view name, std::string_view what = "parameter") {
    for (std::size_t k = 0; k < count; ++k)
      if (layout::names[k] == name) return at(k);
    throw std::out_of_range("ingot: no " + std::string(what) + " named '" + std::string(name) + "'");
  }

  // The whole arena, padding included (padding stays zero).
  std::span<T> flat() { return values_.span(); }
  std::span<const T> flat() const { return values_.span(); }
  T* data() { return values_.data(); }
  const T* data() const { return values_.data(); }

 private:
  aligned_buffer<T> values_;
};

}  // namespace ingot
