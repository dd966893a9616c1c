#pragma once
// A learning-rate scheduler: a schedule (schedules.hpp) applied to an
// optimizer's parameter groups, stepped like torch's: once per epoch or once
// per batch, as the caller chooses (each_epoch / each_batch make it a
// Trainer::fit callback). Construction sets epoch 0's learning rate, from
// each group's current one.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ingot/optim/optimizer.hpp"
#include "ingot/sched/schedules.hpp"

namespace ingot::sched {

template <class Schedule>
class scheduler {
 public:
  scheduler(optim::optimizer_core& opt, Schedule schedule) : opt_(&opt), schedule_(std::move(schedule)) {
    if (opt.num_groups() == 0)
      throw std::logic_error("ingot::sched: the optimizer has no parameters yet (create the Trainer, or attach it, first)");
    for (std::size_t g = 0; g < opt.num_groups(); ++g) base_.push_back(opt.group(g).lr);
    apply();
  }

  void step() {
    ++epoch_;
    apply();
  }
  std::size_t last_epoch() const { return epoch_; }
  double last_lr(std::size_t group = 0) const { return opt_->lr(group); }
  const Schedule& schedule() const { return schedule_; }

  // What a checkpoint keeps: the step count and each group's base lr.
  // Loading it sets the groups' learning rates for that step again.
  std::vector<double> state() const {
    std::vector<double> s = {static_cast<double>(epoch_)};
    s.insert(s.end(), base_.begin(), base_.end());
    return s;
  }
  void load_state(const std::vector<double>& s) {
    if (s.size() != 1 + base_.size() || !(s[0] >= 0))
      throw std::invalid_argument("ingot::sched: a scheduler state of " + std::to_string(s.size()) +
                                  " numbers for an optimizer of " + std::to_string(base_.size()) + " groups");
    epoch_ = static_cast<std::size_t>(s[0]);
    base_.assign(s.begin() + 1, s.end());
    apply();
  }

 private:
  void apply() {
    for (std::size_t g = 0; g < base_.size(); ++g) opt_->set_lr(schedule_.lr(base_[g], epoch_), g);
    if constexpr (requires { schedule_.momentum(epoch_); }) {
      if (const std::optional<double> m = schedule_.momentum(epoch_)) {
        if (!opt_->has_momentum())
          throw std::invalid_argument(
              "ingot::sched: this optimizer has no momentum or beta1 to cycle (set cycle_momentum = false)");
        for (std::size_t g = 0; g < base_.size(); ++g) opt_->set_momentum(*m, g);
      }
    }
  }

  optim::optimizer_core* opt_;
  Schedule schedule_;
  std::vector<double> base_;
  std::size_t epoch_ = 0;
};

// torch's ReduceLROnPlateau: multiplies every group's lr by factor (not
// below min_lr) when the metric has not improved for more than patience
// steps, then waits cooldown steps before counting again. Improvement is
// relative (best * (1 -/+ threshold)) or absolute (best -/+ threshold).
struct plateau_options {
  bool maximize = false;  // mode 'max'
  double factor = 0.1;
  std::size_t patience = 10;
  double threshold = 1e-4;
  bool relative = true;  // threshold_mode 'rel'; false: 'abs'
  std::size_t cooldown = 0;
  double min_lr = 0;
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(optim::optimizer_core& opt, plateau_options o = {}) : opt_(&opt), o_(o) {
    if (!(o_.factor < 1.0)) throw std::invalid_argument("ingot::sched::ReduceLROnPlateau: factor must be below 1");
    if (opt.num_groups() == 0)
      throw std::logic_error("ingot::sched: the optimizer has no parameters yet (create the Trainer, or attach it, first)");
    best_ = o_.maximize ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }

  void step(double metric) {
    ++epoch_;
    if (better(metric)) {
      best_ = metric;
      bad_ = 0;
    } else {
      ++bad_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_ = 0;
    }
    if (bad_ > o_.patience) {
      for (std::size_t g = 0; g < opt_->num_groups(); ++g) {
        const double old_lr = opt_->lr(g), new_lr = std::max(old_lr * o_.factor, o_.min_lr);
        if (old_lr - new_lr > o_.eps) opt_->set_lr(new_lr, g);
      }
      cooldown_left_ = o_.cooldown;
      bad_ = 0;
    }
  }
  double best() const { return best_; }
  std::size_t num_bad_epochs() const { return bad_; }
  // What a checkpoint keeps (the learning rates themselves live in the optimizer).
  std::vector<double> state() const {
    return {static_cast<double>(epoch_), best_, static_cast<double>(bad_), static_cast<double>(cooldown_left_)};
  }
  void load_state(const std::vector<double>& s) {
    if (s.size() != 4 || !(s[0] >= 0 && s[2] >= 0 && s[3] >= 0))
      throw std::invalid_argument("ingot::sched::ReduceLROnPlateau: a state of 4 numbers is expected");
    epoch_ = static_cast<std::size_t>(s[0]);
    best_ = s[1];
    bad_ = static_cast<std::size_t>(s[2]);
    cooldown_left_ = static_cast<std::size_t>(s[3]);
  }
  std::size_t last_epoch() const { return epoch_; }
  double last_lr(std::size_t group = 0) const { return opt_->lr(group); }

 private:
  bool better(double a) const {
    if (!o_.maximize) return o_.relative ? a < best_ * (1 - o_.threshold) : a < best_ - o_.threshold;
    return o_.relative ? a > best_ * (o_.threshold + 1) : a > best_ + o_.threshold;
  }

  optim::optimizer_core* opt_;
  plateau_options o_;
  double best_;
  std::size_t bad_ = 0, cooldown_left_ = 0, epoch_ = 0;
};

// Trainer::fit callbacks that step a scheduler after every epoch, after
// every optimizer update (a skipped batch does not count), or feed
// ReduceLROnPlateau a metric of each epoch (the mean training loss unless
// metric says otherwise).
template <class S>
struct step_each_epoch {
  S* s;
  template <class R>
  void on_epoch_end(const R&) {
    s->step();
  }
};
template <class S>
struct step_each_batch {
  S* s;
  template <class R>
  void on_batch_end(const R& r) {
    if (!r.skipped) s->step();
  }
};
template <class F>
struct step_on_metric {
  ReduceLROnPlateau* s;
  F metric;
  template <class R>
  void on_epoch_end(const R& r) {
    s->step(metric(r));
  }
};
template <class S>
step_each_epoch<S> each_epoch(S& s) {
  return {&s};
}
template <class S>
step_each_batch<S> each_batch(S& s) {
  return {&s};
}
inline auto on_plateau(ReduceLROnPlateau& s) {
  auto loss = [](const auto& r) { return static_cast<double>(r.loss); };
  return step_on_metric<decltype(loss)>{&s, loss};
}
template <class F>
step_on_metric<F> on_plateau(ReduceLROnPlateau& s, F metric) {
  return {&s, std::move(metric)};
}

}  // namespace ingot::sched
