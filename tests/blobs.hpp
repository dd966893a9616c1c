#pragma once
// A small labelled data set for driver tests: three Gaussian blobs in five
// features, blob k shifted by `shift` along feature k.
#include <cstdint>
#include <ingot/ingot.hpp>
#include <vector>

namespace testdata {

inline ingot::data::Dataset<std::int32_t> blobs(std::size_t n, std::uint64_t seed, double spread = 0.5,
                                                double shift = 2.0) {
  ingot::rng g(seed);
  std::vector<float> x(n * 5);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(g.below(3));
    for (std::size_t j = 0; j < 5; ++j)
      x[i * 5 + j] = static_cast<float>(g.normal() * spread + (j == static_cast<std::size_t>(y[i]) ? shift : 0));
  }
  return ingot::data::Dataset<std::int32_t>(n, 5, 1, std::move(x), std::move(y), "blobs");
}

}  // namespace testdata
