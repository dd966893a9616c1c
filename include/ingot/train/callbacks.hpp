#pragma once
// Callbacks for Trainer::fit: early stopping, a progress bar, and CSV and
// JSON-lines logs of each epoch's metrics. Each is an object with some of
// on_epoch_begin / on_batch_end / on_epoch_end / on_fit_end; none touches
// the training step itself.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/paths.hpp"
#include "ingot/train/trainer.hpp"

namespace ingot::train {

struct early_stopping_options {
  std::string monitor = "val_loss";  // see metric()
  bool maximize = false;             // mode 'max' (accuracy), else 'min' (loss)
  std::size_t patience = 0;          // epochs without improvement before stopping
  double min_delta = 0;              // an improvement must beat the best by more than this
  bool restore_best_weights = false;
};

// Stops fit once the monitored metric has not improved for `patience`
// epochs (Keras' and Lightning's rule: improvement means better than the
// best by more than min_delta; a NaN never improves). With
// restore_best_weights the model's parameters and state are put back, bit
// for bit, to those after the best epoch when fit ends, early or not.
template <class Model>
class EarlyStopping {
 public:
  using value_type = typename Model::value_type;

  EarlyStopping(Model& model, early_stopping_options o = {})
      : EarlyStopping(model, [name = o.monitor](const epoch_result& r) { return metric(r, name); }, o) {}
  EarlyStopping(Model& model, std::function<double(const epoch_result&)> monitor, early_stopping_options o)
      : model_(&model), monitor_(std::move(monitor)), o_(std::move(o)) {
    if (!(o_.min_delta >= 0)) throw std::invalid_argument("ingot::train::EarlyStopping: min_delta must be >= 0");
    best_ = o_.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }

  void on_epoch_begin(std::size_t epoch) {
    if (epoch == 1) reset();
  }
  bool on_epoch_end(const epoch_result& r) {
    const double v = monitor_(r);
    const bool improved = o_.maximize ? v > best_ + o_.min_delta : v < best_ - o_.min_delta;
    if (improved) {
      best_ = v;
      best_epoch_ = r.epoch;
      wait_ = 0;
      if (o_.restore_best_weights) save();
      return true;
    }
    if (++wait_ >= o_.patience) {
      stopped_epoch_ = r.epoch;
      return false;
    }
    return true;
  }
  void on_fit_end(const std::vector<epoch_result>&) {
    if (o_.restore_best_weights && best_epoch_ != 0) restore();
  }

  double best() const { return best_; }
  std::size_t best_epoch() const { return best_epoch_; }        // 0: none yet
  std::size_t stopped_epoch() const { return stopped_epoch_; }  // 0: did not stop

 private:
  void reset() {
    best_ = o_.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    best_epoch_ = stopped_epoch_ = wait_ = 0;
  }
  void save() {
    const auto p = model_->arena().flat();
    params_.assign(p.begin(), p.end());
    auto& st = model_->state();
    using state_type = std::remove_reference_t<decltype(st)>;
    values_.clear();
    for (std::size_t k = 0; k < state_type::value_count; ++k) {
      const auto v = st.value(k);
      values_.insert(values_.end(), v.begin(), v.end());
    }
    counters_.clear();
    for (std::size_t k = 0; k < state_type::counter_count; ++k) counters_.push_back(st.counter_at(k));
  }
  // In place: the trainer's plans point at these arenas.
  void restore() {
    auto p = model_->arena().flat();
    std::copy(params_.begin(), params_.end(), p.begin());
    auto& st = model_->state();
    using state_type = std::remove_reference_t<decltype(st)>;
    std::size_t at = 0;
    for (std::size_t k = 0; k < state_type::value_count; ++k) {
      auto v = st.value(k);
      std::copy(values_.begin() + static_cast<std::ptrdiff_t>(at), values_.begin() + static_cast<std::ptrdiff_t>(at + v.size()),
                v.begin());
      at += v.size();
    }
    for (std::size_t k = 0; k < state_type::counter_count; ++k) st.counter_at(k) = counters_[k];
  }

  Model* model_;
  std::function<double(const epoch_result&)> monitor_;
  early_stopping_options o_;
  double best_;
  std::size_t best_epoch_ = 0, stopped_epoch_ = 0, wait_ = 0;
  std::vector<value_type> params_, values_;
  std::vector<std::int64_t> counters_;
};

namespace detail {
// A number for a log: shortest round-trip form, NaN and infinities as given.
INGOT_DECL std::string number(double v);
inline const char* const metric_columns[] = {"val_loss", "val_accuracy", "val_top_k_accuracy", "val_macro_f1",
                                            "val_mae", "val_rmse"};
inline double validation_metric(const eval_result& v, std::size_t i) {
  const double values[] = {v.loss, v.accuracy, v.top_k_accuracy, v.macro_f1, v.mae, v.rmse};
  return values[i];
}
// A log file for writing, closed with its owner; each line is flushed, so a
// crash loses nothing written. Its folder is checked at once; the file is
// opened at the first line, so that the ranks of a distributed run other
// than 0, which write nothing, create no file.
class log_file {
 public:
  log_file(std::string path, bool append);
  log_file(const log_file&) = delete;
  log_file& operator=(const log_file&) = delete;
  ~log_file() {
    if (file_) std::fclose(file_);
  }
  std::FILE* get() {
    if (!file_) file_ = std::fopen(path_.c_str(), append_ ? "a" : "w");
    if (!file_) throw std::runtime_error("ingot: cannot open the log " + path_ + " for writing");
    return file_;
  }
  void end_line();

 private:
  std::string path_;
  bool append_;
  std::FILE* file_ = nullptr;
};
}  // namespace detail

// One CSV row per epoch: epoch,loss,seconds and, with validation, the
// validation metrics. Flushed per row, so a crash loses nothing written.
class CSVLogger {
 public:
  // Appending to a file that already has rows (a resumed run) adds rows only.
  explicit CSVLogger(std::string path, bool append = false)
      : header_(append && has_content(path)), log_(std::move(path), append) {}
  void on_epoch_end(const epoch_result& r);

 private:
  static bool has_content(const std::string& path);
  bool header_ = false;
  detail::log_file log_;
};

// One JSON object per line per epoch: {"epoch":1,"loss":…,"seconds":…,
// "val_loss":…}. A non-finite number is written as null (JSON has none).
class JSONLinesLogger {
 public:
  explicit JSONLinesLogger(std::string path, bool append = false) : log_(std::move(path), append) {}
  void on_epoch_end(const epoch_result& r);

 private:
  detail::log_file log_;
};

// Progress within each epoch: batches done, running loss, samples per
// second and the time left. On a terminal it redraws one line in place;
// otherwise (a pipe, a file) it prints a plain line at every tenth of the
// epoch. The epoch's summary line ends it either way.
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* out = stdout) : ProgressBar(out, ::isatty(::fileno(out)) == 1) {}
  ProgressBar(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}

  void on_epoch_begin(std::size_t) {
    start_ = last_draw_ = std::chrono::steady_clock::now();
    loss_sum_ = 0;
    rows_ = 0;
    next_tenth_ = 1;
  }
  void on_batch_end(const batch_result& r);
  void on_epoch_end(const epoch_result& r);

 private:
  static std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }
  std::string line(const batch_result& r, std::chrono::steady_clock::time_point now) const;

  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  double loss_sum_ = 0;
  std::size_t rows_ = 0, next_tenth_ = 1;
};

#if INGOT_DEFINE_BODIES
INGOT_DECL std::string detail::number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

INGOT_DECL detail::log_file::log_file(std::string path, bool append) : path_(std::move(path)), append_(append) {
  const std::string dir = paths::folder_of(path_);
  if (::access(dir.c_str(), W_OK) != 0)
    throw std::runtime_error("ingot: cannot write the log " + path_ + ": its folder " + dir +
                             " does not exist or is not writable");
}

INGOT_DECL void detail::log_file::end_line() {
  std::fputc('\n', file_);
  if (std::fflush(file_) != 0) throw std::runtime_error("ingot: cannot write the log " + path_);
}

INGOT_DECL void CSVLogger::on_epoch_end(const epoch_result& r) {
  if (r.rank != 0) return;
  std::FILE* f = log_.get();
  if (!header_) {
    std::fputs("epoch,loss,seconds", f);
    if (r.validation)
      for (const char* c : detail::metric_columns) std::fprintf(f, ",%s", c);
    log_.end_line();
    header_ = true;
  }
  std::fprintf(f, "%zu,%s,%s", r.epoch, detail::number(r.loss).c_str(), detail::number(r.seconds).c_str());
  if (r.validation)
    for (std::size_t i = 0; i < std::size(detail::metric_columns); ++i)
      std::fprintf(f, ",%s", detail::number(detail::validation_metric(*r.validation, i)).c_str());
  log_.end_line();
}

INGOT_DECL bool CSVLogger::has_content(const std::string& path) {
  return paths::file_size_or_zero(path) > 0;
}

INGOT_DECL void JSONLinesLogger::on_epoch_end(const epoch_result& r) {
  if (r.rank != 0) return;
  std::FILE* f = log_.get();
  auto num = [](double v) { return std::isfinite(v) ? detail::number(v) : std::string("null"); };
  std::fprintf(f, "{\"epoch\":%zu,\"loss\":%s,\"seconds\":%s", r.epoch, num(r.loss).c_str(), num(r.seconds).c_str());
  if (r.validation)
    for (std::size_t i = 0; i < std::size(detail::metric_columns); ++i)
      std::fprintf(f, ",\"%s\":%s", detail::metric_columns[i], num(detail::validation_metric(*r.validation, i)).c_str());
  std::fputc('}', f);
  log_.end_line();
}

INGOT_DECL void ProgressBar::on_batch_end(const batch_result& r) {
  if (r.rank != 0) return;
  if (!r.skipped) {
    loss_sum_ += r.loss * static_cast<double>(r.rows);
    rows_ += r.rows;
  }
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (r.step == r.steps || now - last_draw_ > std::chrono::milliseconds(100)) {
      std::fprintf(out_, "\r%s", line(r, now).c_str());
      std::fflush(out_);
      last_draw_ = now;
    }
  } else if (r.step * 10 >= next_tenth_ * r.steps && r.step < r.steps) {
    std::fprintf(out_, "%s\n", line(r, now).c_str());
    std::fflush(out_);
    while (next_tenth_ * r.steps <= r.step * 10) ++next_tenth_;
  }
}

INGOT_DECL void ProgressBar::on_epoch_end(const epoch_result& r) {
  if (r.rank != 0) return;
  std::string s = "epoch " + std::to_string(r.epoch) + "/" + std::to_string(r.epochs) +
                  "  loss " + fixed(r.loss, 4) + "  " + fixed(r.seconds, 2) + " s";
  if (r.validation) {
    const eval_result& v = *r.validation;
    s += "  val_loss " + fixed(v.loss, 4);
    if (v.classes) s += "  val_accuracy " + fixed(v.accuracy, 4);
    else s += "  val_mae " + fixed(v.mae, 4) + "  val_rmse " + fixed(v.rmse, 4);
  }
  std::fprintf(out_, terminal_ ? "\r\033[K%s\n" : "%s\n", s.c_str());
  std::fflush(out_);
}

INGOT_DECL std::string ProgressBar::line(const batch_result& r, std::chrono::steady_clock::time_point now) const {
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double per_step = elapsed / static_cast<double>(r.step);
  const double eta = per_step * static_cast<double>(r.steps - r.step);
  const double rate = elapsed > 0 ? static_cast<double>(rows_) / elapsed : 0;
  constexpr std::size_t width = 24;
  const std::size_t filled = r.steps ? r.step * width / r.steps : width;
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
  return "epoch " + std::to_string(r.epoch) + "/" + std::to_string(r.epochs) + " [" + bar + "] " +
         std::to_string(r.step) + "/" + std::to_string(r.steps) + "  loss " +
         fixed(rows_ ? loss_sum_ / static_cast<double>(rows_) : 0.0, 4) + "  " + fixed(rate, 0) +
         " samples/s  ETA " + fixed(eta, 1) + " s";
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::train
