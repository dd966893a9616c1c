#pragma once
// Feature transforms applied once to a whole Dataset, in place (nothing is
// recomputed per batch). Standardize learns its statistics from one data
// set (the training split) and applies them unchanged to others; they are
// plain vectors, so a checkpoint can carry them.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/data/dataset.hpp"

namespace ingot::data {

// x * factor + offset, e.g. {1 / 255.0f} for raw pixel values.
struct Scale {
  float factor = 1, offset = 0;
  template <class Target>
  void apply(Dataset<Target>& ds) const {
    for (float& v : ds.x) v = v * factor + offset;
    ds.validate();
  }
};

// (x - mean) / std per feature, with the population standard deviation of
// the data set it was fitted on. A feature that is constant there (std 0,
// e.g. an always-black border pixel) is only centred: its std is stored as 1.
struct Standardize {
  std::vector<float> mean, std;

  template <class Target>
  static Standardize fit(const Dataset<Target>& ds) {
    if (ds.rows == 0) throw std::invalid_argument(ds.source + ": Standardize needs at least one row");
    const std::size_t f = ds.features;
    std::vector<double> sum(f, 0.0), sq(f, 0.0);
    for (std::size_t r = 0; r < ds.rows; ++r)
      for (std::size_t j = 0; j < f; ++j) sum[j] += ds.x[r * f + j];
    Standardize s;
    s.mean.resize(f);
    s.std.resize(f);
    const double n = static_cast<double>(ds.rows);
    for (std::size_t j = 0; j < f; ++j) s.mean[j] = static_cast<float>(sum[j] / n);
    // Two passes: the centred sum of squares does not cancel catastrophically.
    for (std::size_t r = 0; r < ds.rows; ++r)
      for (std::size_t j = 0; j < f; ++j) {
        const double d = ds.x[r * f + j] - static_cast<double>(s.mean[j]);
        sq[j] += d * d;
      }
    for (std::size_t j = 0; j < f; ++j) {
      const double sd = std::sqrt(sq[j] / n);
      s.std[j] = sd > 0 ? static_cast<float>(sd) : 1.0f;
    }
    return s;
  }

  template <class Target>
  void apply(Dataset<Target>& ds) const {
    if (mean.size() != ds.features || std.size() != ds.features)
      throw std::invalid_argument(ds.source + ": Standardize was fitted on " + std::to_string(mean.size()) +
                                  " features, the data set has " + std::to_string(ds.features));
    for (std::size_t j = 0; j < std.size(); ++j)
      if (!(std[j] > 0) || !std::isfinite(mean[j]))
        throw std::invalid_argument("ingot::data::Standardize: feature " + std::to_string(j) +
                                    " has a non-positive std or a non-finite mean");
    const std::size_t f = ds.features;
    for (std::size_t r = 0; r < ds.rows; ++r)
      for (std::size_t j = 0; j < f; ++j) ds.x[r * f + j] = (ds.x[r * f + j] - mean[j]) / std[j];
    ds.validate();
  }
};

}  // namespace ingot::data
