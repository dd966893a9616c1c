#pragma once
// Evaluation metrics, accumulated batch by batch: classification (accuracy,
// top-k accuracy, a confusion matrix and per-class precision, recall and F1)
// and regression (MAE, RMSE). Plain run-time code, no model types.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/core/config.hpp"

namespace ingot::train {

struct eval_options {
  std::size_t batch_size = 256;
  std::size_t top_k = 5;  // top-k accuracy (k is capped at the number of classes)
};

struct eval_result {
  double loss = 0;      // mean per sample (a sum-reduced loss is divided by the rows)
  double accuracy = 0;  // fraction of rows whose arg-max is the label (classification)
  std::size_t rows = 0;
  std::size_t k = 0;
  double top_k_accuracy = 0;  // the label among the k largest outputs
  // Classification: confusion[true * classes + predicted]; per-class
  // precision, recall and F1 (0 where undefined, as sklearn's zero_division=0).
  std::size_t classes = 0;
  std::vector<std::size_t> confusion;
  std::vector<double> precision, recall, f1;
  double macro_f1 = 0;
  // Regression: over every output element. Metrics of the other task are NaN.
  double mae = 0, rmse = 0;

  std::size_t confusion_at(std::size_t truth, std::size_t predicted) const {
    return confusion.at(truth * classes + predicted);
  }
};

namespace detail {
// Accumulates one batch of classification outputs (rows x classes).
template <class T>
void add_classification(eval_result& r, const T* out, const std::int32_t* labels, std::size_t rows) {
  const std::size_t c = r.classes;
  for (std::size_t i = 0; i < rows; ++i) {
    const T* row = out + i * c;
    const auto label = static_cast<std::size_t>(labels[i]);
    const auto best = static_cast<std::size_t>(std::max_element(row, row + c) - row);
    r.accuracy += best == label;
    ++r.confusion[label * c + best];
    // The label is in the top k when fewer than k outputs beat it (ties
    // counted in its favour, as torch.topk with a stable order would not
    // promise either way).
    std::size_t above = 0;
    for (std::size_t j = 0; j < c; ++j) above += row[j] > row[label];
    r.top_k_accuracy += above < r.k;
  }
}

template <class T, class Target>
void add_regression(eval_result& r, const T* out, const Target* target, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(out[i]) - static_cast<double>(target[i]);
    r.mae += std::abs(d);
    r.rmse += d * d;
  }
}

INGOT_DECL void finish_classification(eval_result& r);
INGOT_DECL void finish_regression(eval_result& r, std::size_t elements);
}  // namespace detail

#if INGOT_DEFINE_BODIES
INGOT_DECL void detail::finish_classification(eval_result& r) {
  const std::size_t c = r.classes;
  const double n = static_cast<double>(r.rows);
  r.accuracy /= n;
  r.top_k_accuracy /= n;
  r.precision.assign(c, 0);
  r.recall.assign(c, 0);
  r.f1.assign(c, 0);
  for (std::size_t k = 0; k < c; ++k) {
    std::size_t predicted = 0, actual = 0;
    for (std::size_t j = 0; j < c; ++j) {
      predicted += r.confusion[j * c + k];
      actual += r.confusion[k * c + j];
    }
    const double tp = static_cast<double>(r.confusion[k * c + k]);
    r.precision[k] = predicted ? tp / static_cast<double>(predicted) : 0;
    r.recall[k] = actual ? tp / static_cast<double>(actual) : 0;
    const double pr = r.precision[k] + r.recall[k];
    r.f1[k] = pr > 0 ? 2 * r.precision[k] * r.recall[k] / pr : 0;
    r.macro_f1 += r.f1[k] / static_cast<double>(c);
  }
}

INGOT_DECL void detail::finish_regression(eval_result& r, std::size_t elements) {
  r.mae /= static_cast<double>(elements);
  r.rmse = std::sqrt(r.rmse / static_cast<double>(elements));
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::train
