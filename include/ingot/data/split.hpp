#pragma once
// torch.utils.data.random_split for in-memory data sets: the rows are
// permuted with a seeded generator and dealt into parts of the given sizes
// (or fractions). Each part is its own Dataset, copied once here; training
// then reads it in place.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ingot/core/rng.hpp"
#include "ingot/data/dataset.hpp"

namespace ingot::data {

// The rows of ds listed in rows, in that order.
template <class Target>
Dataset<Target> subset(const Dataset<Target>& ds, std::span<const std::size_t> rows, std::string source) {
  std::vector<float> x(rows.size() * ds.features);
  std::vector<Target> y(rows.size() * ds.target_cols);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r] >= ds.rows)
      throw std::out_of_range(ds.source + ": subset row " + std::to_string(rows[r]) + " of " + std::to_string(ds.rows));
    std::memcpy(x.data() + r * ds.features, ds.x.data() + rows[r] * ds.features, ds.features * sizeof(float));
    std::memcpy(y.data() + r * ds.target_cols, ds.y.data() + rows[r] * ds.target_cols, ds.target_cols * sizeof(Target));
  }
  return Dataset<Target>(rows.size(), ds.features, ds.target_cols, std::move(x), std::move(y), std::move(source));
}

// Parts of exactly lengths[i] rows; the lengths must add up to ds.rows.
template <class Target>
std::vector<Dataset<Target>> random_split(const Dataset<Target>& ds, const std::vector<std::size_t>& lengths,
                                          std::uint64_t seed) {
  const std::size_t total = std::accumulate(lengths.begin(), lengths.end(), std::size_t{0});
  if (total != ds.rows)
    throw std::invalid_argument(ds.source + ": random_split lengths add up to " + std::to_string(total) +
                                ", the data set has " + std::to_string(ds.rows) + " rows");
  std::vector<std::size_t> order(ds.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng g(seed);
  g.shuffle(std::span<std::size_t>(order));
  std::vector<Dataset<Target>> parts;
  std::size_t at = 0;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    parts.push_back(subset(ds, std::span<const std::size_t>(order).subspan(at, lengths[i]),
                           ds.source + " (split " + std::to_string(i) + ")"));
    at += lengths[i];
  }
  return parts;
}

// Fractions that add up to 1, as torch takes them: each part gets
// floor(fraction * rows), and the rows left over go one each to the parts
// in order.
template <class Target>
std::vector<Dataset<Target>> random_split(const Dataset<Target>& ds, const std::vector<double>& fractions,
                                          std::uint64_t seed) {
  double sum = 0;
  for (double f : fractions) {
    if (!(f >= 0 && f <= 1)) throw std::invalid_argument(ds.source + ": random_split fraction outside [0, 1]");
    sum += f;
  }
  if (std::abs(sum - 1) > 1e-9)
    throw std::invalid_argument(ds.source + ": random_split fractions add up to " + std::to_string(sum) + ", not 1");
  std::vector<std::size_t> lengths;
  std::size_t used = 0;
  for (double f : fractions) {
    lengths.push_back(static_cast<std::size_t>(std::floor(f * static_cast<double>(ds.rows))));
    used += lengths.back();
  }
  for (std::size_t i = 0; used < ds.rows; i = (i + 1) % lengths.size(), ++used) ++lengths[i];
  return random_split(ds, lengths, seed);
}

// A training part and a validation part of `validation` rows.
template <class Target>
std::pair<Dataset<Target>, Dataset<Target>> train_validation_split(const Dataset<Target>& ds, std::size_t validation,
                                                                   std::uint64_t seed) {
  if (validation == 0 || validation >= ds.rows)
    throw std::invalid_argument(ds.source + ": a validation split of " + std::to_string(validation) +
                                " rows needs between 1 and " + std::to_string(ds.rows - 1));
  auto parts = random_split(ds, std::vector<std::size_t>{ds.rows - validation, validation}, seed);
  parts[0].source = ds.source + " (training split)";
  parts[1].source = ds.source + " (validation split)";
  return {std::move(parts[0]), std::move(parts[1])};
}

}  // namespace ingot::data
