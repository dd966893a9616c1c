#pragma once
// Dropout<P>: PyTorch's nn.Dropout (inverted dropout). In training each
// element is kept with probability 1 - P and scaled by 1 / (1 - P); in
// evaluation the layer is the identity. The mask is a random leaf
// (Prefix + "mask") that the trainer redraws for every step from a seeded
// stream; the layer is x * mask, so its gradient is g * mask, derived.
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "ingot/core/rng.hpp"
#include "ingot/expr/operators.hpp"
#include "ingot/nn/layer.hpp"

namespace ingot::expr {

// Values 1 / (1 - P) with probability 1 - P, else 0 (all 0 when P is 1).
// fill(out, stream, first) writes elements first .. first + size of the
// stream's sequence: a data-parallel process draws its rows of the mask the
// whole batch would have.
template <double P>
struct dropout_mask {
  static_assert(P >= 0.0 && P <= 1.0, "ingot: a dropout probability lies in [0, 1]");
  template <class T>
  static void fill(std::span<T> out, random_stream& stream, std::size_t first = 0) {
    // An element is kept when its 32 random bits fall below (1 - P) 2^32;
    // each draw gives two elements (low half, then high half).
    const std::uint64_t keep_below = static_cast<std::uint64_t>((1.0 - P) * 4294967296.0);
    const T scale = P < 1.0 ? static_cast<T>(1.0 / (1.0 - P)) : T(0);
    stream.discard(first / 2);
    std::size_t i = 0;
    if (first % 2 == 1 && !out.empty()) out[i++] = (stream.next() >> 32) < keep_below ? scale : T(0);
    for (; i + 2 <= out.size(); i += 2) {
      const std::uint64_t bits = stream.next();
      out[i] = (bits & 0xffffffffu) < keep_below ? scale : T(0);
      out[i + 1] = (bits >> 32) < keep_below ? scale : T(0);
    }
    if (i < out.size()) out[i] = (stream.next() & 0xffffffffu) < keep_below ? scale : T(0);
  }
};

// x * mask with a fresh mask per step: dropout written as an expression.
template <fixed_string Name, double P, node X>
constexpr auto dropout(X x) {
  static_assert(X::shape::batched, "ingot: dropout applies to a batch of rows");
  if constexpr (P == 0.0) return x;
  else return x * random_leaf<Name, X::shape::cols, dropout_mask<P>, X::shape::rows_ct, X::shape::width>{};
}

}  // namespace ingot::expr

namespace ingot::nn {

template <double P = 0.5>
struct Dropout {
  static_assert(P >= 0.0 && P <= 1.0, "ingot::nn::Dropout: p lies in [0, 1]");
  static std::string summary_name() {
    char buf[48];
    std::snprintf(buf, sizeof buf, "Dropout(p=%g)", P);
    return buf;
  }
  template <fixed_string Prefix, mode M, expr::node X>
  static constexpr auto forward(X x) {
    if constexpr (M == mode::train) return expr::dropout<concat(Prefix, fixed_string("mask")), P>(x);
    else return x;
  }
};

}  // namespace ingot::nn
