#pragma once
// A string usable as a template argument, so that a parameter's name is part
// of its type: two leaves with the same name are the same node.
#include <algorithm>
#include <cstddef>
#include <string_view>

namespace ingot {

template <std::size_t N>
struct fixed_string {
  char data[N + 1]{};
  constexpr fixed_string() = default;
  constexpr fixed_string(const char (&s)[N + 1]) { std::copy_n(s, N + 1, data); }
  constexpr std::string_view view() const { return {data, N}; }
  static constexpr std::size_t size() { return N; }
};
template <std::size_t N>
fixed_string(const char (&)[N]) -> fixed_string<N - 1>;

template <std::size_t A, std::size_t B>
constexpr fixed_string<A + B> concat(const fixed_string<A>& a, const fixed_string<B>& b) {
  fixed_string<A + B> r;
  std::copy_n(a.data, A, r.data);
  std::copy_n(b.data, B, r.data + A);
  r.data[A + B] = '\0';
  return r;
}

constexpr std::size_t decimal_digits(std::size_t v) { return v < 10 ? 1 : 1 + decimal_digits(v / 10); }

// "I." as a fixed_string: the prefix nn::Sequential gives the parameters of
// its I-th layer, as in PyTorch's state_dict ("0.weight", "2.bias").
template <std::size_t I>
constexpr auto index_prefix() {
  fixed_string<decimal_digits(I) + 1> r;
  std::size_t v = I;
  for (std::size_t k = decimal_digits(I); k-- > 0; v /= 10) r.data[k] = char('0' + v % 10);
  r.data[decimal_digits(I)] = '.';
  r.data[decimal_digits(I) + 1] = '\0';
  return r;
}

}  // namespace ingot
