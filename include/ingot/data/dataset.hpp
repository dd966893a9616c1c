#pragma once
// An in-memory dataset: n rows of features (row-major, n x features) and
// their targets (n x target_cols floats for regression, or n int32 class
// labels). Checked once when made, so the training loop need not check.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/core/config.hpp"

namespace ingot::data {

template <class Target = float>
struct Dataset {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::size_t target_cols = 1;
  std::vector<float> x;
  std::vector<Target> y;
  std::string source = "dataset";  // named in error messages

  Dataset() = default;
  Dataset(std::size_t n, std::size_t f, std::size_t tc, std::vector<float> xs, std::vector<Target> ys,
          std::string src = "dataset")
      : rows(n), features(f), target_cols(tc), x(std::move(xs)), y(std::move(ys)), source(std::move(src)) {
    validate();
  }

  std::size_t size() const { return rows; }

  // Throws std::invalid_argument naming the source and the first bad place.
  void validate() const;

  // Class labels must lie in [0, classes).
  void check_labels(std::size_t classes) const;
};

template <class Target>
void Dataset<Target>::validate() const {
  if (x.size() != rows * features)
    throw std::invalid_argument(source + ": " + std::to_string(x.size()) + " feature values for " +
                                std::to_string(rows) + " rows of " + std::to_string(features));
  if (y.size() != rows * target_cols)
    throw std::invalid_argument(source + ": " + std::to_string(y.size()) + " target values for " +
                                std::to_string(rows) + " rows of " + std::to_string(target_cols));
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw std::invalid_argument(source + ": feature " + std::to_string(i % features) + " of row " +
                                  std::to_string(i / features) + " is not finite");
  if constexpr (std::is_floating_point_v<Target>) {
    for (std::size_t i = 0; i < y.size(); ++i)
      if (!std::isfinite(y[i]))
        throw std::invalid_argument(source + ": target " + std::to_string(i % target_cols) + " of row " +
                                    std::to_string(i / target_cols) + " is not finite");
  }
}

template <class Target>
void Dataset<Target>::check_labels(std::size_t classes) const {
  if constexpr (std::is_integral_v<Target>) {
    for (std::size_t i = 0; i < y.size(); ++i)
      if (y[i] < 0 || static_cast<std::size_t>(y[i]) >= classes)
        throw std::invalid_argument(source + ": label " + std::to_string(y[i]) + " of row " + std::to_string(i) +
                                    " is outside [0, " + std::to_string(classes) + ")");
  }
}

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(struct Dataset<std::int32_t>)
INGOT_INSTANTIATE(struct Dataset<float>)

}  // namespace ingot::data
