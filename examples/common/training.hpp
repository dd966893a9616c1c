#pragma once
// Pieces both Fashion-MNIST examples use around Trainer::fit (the
// functions compile once, in training.cpp).
#include <ingot/ingot.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "flags.hpp"

namespace examples {

// The optimizer named by --optimizer (adam, adamw, sgd, rmsprop, adagrad).
// Weight decay never applies to biases (torch's p.ndim <= 1 recipe).
ingot::optim::any_optimizer make_optimizer(const std::string& name, const common_settings& s);

// Sets the matmul precision of --matmul-precision; says so on stderr when
// bf16 is asked for and the build's target cannot do it (products stay float).
void apply_matmul_precision(const common_settings& s);

// A metrics file by its extension: CSV (.csv) or JSON lines (.jsonl, .json);
// a resumed run appends to it. No path: no file.
struct metrics_log {
  std::optional<ingot::train::CSVLogger> csv;
  std::optional<ingot::train::JSONLinesLogger> jsonl;
  metrics_log(const std::string& path, bool append);
  void on_epoch_end(const ingot::train::epoch_result& r) {
    if (csv) csv->on_epoch_end(r);
    if (jsonl) jsonl->on_epoch_end(r);
  }
};

// A progress bar within each epoch (--progress), or nothing.
struct optional_progress {
  std::optional<ingot::train::ProgressBar> bar;
  explicit optional_progress(bool on) {
    if (on) bar.emplace();
  }
  void on_epoch_begin(std::size_t e) {
    if (bar) bar->on_epoch_begin(e);
  }
  void on_batch_end(const ingot::train::batch_result& r) {
    if (bar) bar->on_batch_end(r);
  }
};

}  // namespace examples
