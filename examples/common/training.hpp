#pragma once
// Pieces both Fashion-MNIST examples use around Trainer::fit.
#include <ingot/ingot.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "flags.hpp"

namespace examples {

// The optimizer named by --optimizer (adam, adamw, sgd, rmsprop, adagrad).
// Weight decay never applies to biases (torch's p.ndim <= 1 recipe).
inline ingot::optim::any_optimizer make_optimizer(const std::string& name, const common_settings& s) {
  using namespace ingot::optim;
  const std::vector<param_group> groups = {{vectors(), {}, 0.0}};
  const double wd = s.weight_decay;
  if (name == "adamw") return AdamW({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "sgd") return SGD({.lr = s.lr, .momentum = s.momentum, .weight_decay = wd}, groups);
  if (name == "rmsprop") return RMSprop({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "adagrad") return Adagrad({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "adam") return Adam({.lr = s.lr, .weight_decay = wd}, groups);
  throw std::invalid_argument("--optimizer " + name + ": not an optimizer of this example");
}

// A metrics file by its extension: CSV (.csv) or JSON lines (.jsonl, .json);
// a resumed run appends to it. No path: no file.
struct metrics_log {
  std::optional<ingot::train::CSVLogger> csv;
  std::optional<ingot::train::JSONLinesLogger> jsonl;
  metrics_log(const std::string& path, bool append) {
    if (path.empty()) return;
    if (path.ends_with(".csv")) csv.emplace(path, append);
    else if (path.ends_with(".jsonl") || path.ends_with(".json")) jsonl.emplace(path, append);
    else throw std::invalid_argument("--metrics " + path + ": the file name must end in .csv, .jsonl or .json");
  }
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
