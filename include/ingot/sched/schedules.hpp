#pragma once
// Learning-rate schedules of torch.optim.lr_scheduler, as closed forms: each
// gives a parameter group's learning rate after `epoch` calls of step()
// (epoch 0 is the value at construction), from the group's initial lr.
// A scheduler (scheduler.hpp) applies one to an optimizer. "Epoch" is
// torch's last_epoch: a step per epoch or per batch, as the caller steps it.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace ingot::sched {

// lr * gamma^(epoch / step_size)   (integer division)
struct StepLR {
  std::size_t step_size = 1;
  double gamma = 0.1;
  double lr(double base, std::size_t epoch) const {
    if (step_size == 0) throw std::invalid_argument("ingot::sched::StepLR: step_size must be at least 1");
    return base * std::pow(gamma, static_cast<double>(epoch / step_size));
  }
};

// lr * gamma^(number of milestones <= epoch)
struct MultiStepLR {
  std::vector<std::size_t> milestones;
  double gamma = 0.1;
  double lr(double base, std::size_t epoch) const {
    const auto passed = std::count_if(milestones.begin(), milestones.end(), [&](std::size_t m) { return m <= epoch; });
    return base * std::pow(gamma, static_cast<double>(passed));
  }
};

// lr * gamma^epoch
struct ExponentialLR {
  double gamma = 0.1;
  double lr(double base, std::size_t epoch) const { return base * std::pow(gamma, static_cast<double>(epoch)); }
};

// eta_min + (lr - eta_min) (1 + cos(pi epoch / T_max)) / 2
struct CosineAnnealingLR {
  std::size_t T_max = 1;
  double eta_min = 0;
  double lr(double base, std::size_t epoch) const {
    if (T_max == 0) throw std::invalid_argument("ingot::sched::CosineAnnealingLR: T_max must be at least 1");
    return eta_min + (base - eta_min) *
                         (1 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max))) / 2;
  }
};

// lr * factor, with factor going linearly from start_factor to end_factor
// over total_iters epochs, then staying.
struct LinearLR {
  double start_factor = 1.0 / 3;
  double end_factor = 1.0;
  std::size_t total_iters = 5;
  double lr(double base, std::size_t epoch) const {
    if (!(start_factor > 0 && start_factor <= 1) || !(end_factor >= 0 && end_factor <= 1))
      throw std::invalid_argument("ingot::sched::LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]");
    if (total_iters == 0) return base * end_factor;
    const double t = static_cast<double>(std::min(epoch, total_iters)) / static_cast<double>(total_iters);
    return base * (start_factor + (end_factor - start_factor) * t);
  }
};

// lr * factor for the first total_iters epochs, then lr.
struct ConstantLR {
  double factor = 1.0 / 3;
  std::size_t total_iters = 5;
  double lr(double base, std::size_t epoch) const { return epoch < total_iters ? base * factor : base; }
};

// A schedule of any of the kinds above (or any type with that lr function).
using any_schedule = std::function<double(double, std::size_t)>;
template <class S>
any_schedule erase(S s) {
  return [s = std::move(s)](double base, std::size_t epoch) { return s.lr(base, epoch); };
}

// torch's SequentialLR: schedules[i] runs from milestones[i - 1] on, with
// its own epoch count starting at 0 there (so warmup then cosine is
// Sequential{{LinearLR{...}, CosineAnnealingLR{...}}, {warmup_epochs}}).
struct SequentialLR {
  std::vector<any_schedule> schedules;
  std::vector<std::size_t> milestones;

  template <class... S>
  static SequentialLR of(std::vector<std::size_t> milestones, S... s) {
    return {{erase(std::move(s))...}, std::move(milestones)};
  }
  double lr(double base, std::size_t epoch) const {
    if (schedules.size() != milestones.size() + 1)
      throw std::invalid_argument("ingot::sched::SequentialLR: " + std::to_string(schedules.size()) +
                                  " schedules need " + std::to_string(schedules.size() - 1) + " milestones, not " +
                                  std::to_string(milestones.size()));
    std::size_t i = 0, start = 0;
    while (i < milestones.size() && milestones[i] <= epoch) start = milestones[i++];
    return schedules[i](base, epoch - start);
  }
};

// Schedules that multiply the learning rate by a factor of the epoch alone.
template <class S>
struct multiplicative : std::false_type {};
template <>
struct multiplicative<StepLR> : std::true_type {};
template <>
struct multiplicative<MultiStepLR> : std::true_type {};
template <>
struct multiplicative<ExponentialLR> : std::true_type {};
template <>
struct multiplicative<LinearLR> : std::true_type {};
template <>
struct multiplicative<ConstantLR> : std::true_type {};

// torch's ChainedScheduler: every schedule steps at once and their factors
// multiply, e.g. ChainedLR<ConstantLR, ExponentialLR>{{...}, {...}} for a
// constant warmup under an exponential decay. torch chains any schedule
// through its recursive form; the product is what that gives for the
// multiplicative ones, which are the ones accepted here.
template <class... S>
struct ChainedLR {
  static_assert((multiplicative<S>::value && ...),
                "ingot::sched::ChainedLR chains StepLR, MultiStepLR, ExponentialLR, LinearLR and ConstantLR; use "
                "SequentialLR to run other schedules one after another");
  std::tuple<S...> schedules;
  double lr(double base, std::size_t epoch) const {
    return std::apply([&](const S&... s) { return (base * ... * s.lr(1.0, epoch)); }, schedules);
  }
};
template <class... S>
ChainedLR(std::tuple<S...>) -> ChainedLR<S...>;

// torch's OneCycleLR (the learning rate ignores the group's own: it runs
// from max_lr / div_factor up to max_lr over pct_start of total_steps, then
// down to max_lr / (div_factor final_div_factor); with three_phase, back to
// the initial value first). With cycle_momentum the momentum (or Adam's
// beta1) runs the opposite way between max_momentum and base_momentum.
struct OneCycleLR {
  double max_lr = 0.1;
  std::size_t total_steps = 0;
  double pct_start = 0.3;
  bool cos_anneal = true;  // anneal_strategy 'cos'; false: 'linear'
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;

  double lr(double, std::size_t epoch) const { return value(epoch, initial_lr(), max_lr, min_lr()); }
  std::optional<double> momentum(std::size_t epoch) const {
    if (!cycle_momentum) return std::nullopt;
    return value(epoch, max_momentum, base_momentum, max_momentum);
  }
  double initial_lr() const { return max_lr / div_factor; }
  double min_lr() const { return initial_lr() / final_div_factor; }

 private:
  // One quantity over the phases: start -> peak -> end (or start -> peak ->
  // start -> end with three phases), annealed within each phase.
  double value(std::size_t epoch, double start, double peak, double end) const {
    if (total_steps == 0) throw std::invalid_argument("ingot::sched::OneCycleLR: total_steps must be at least 1");
    if (!(pct_start >= 0 && pct_start <= 1)) throw std::invalid_argument("ingot::sched::OneCycleLR: pct_start must be in [0, 1]");
    if (epoch > total_steps)
      throw std::out_of_range("ingot::sched::OneCycleLR: tried to step " + std::to_string(epoch) +
                              " times; the specified number of total steps is " + std::to_string(total_steps));
    const double n = static_cast<double>(total_steps), s = static_cast<double>(epoch);
    struct phase {
      double end_step, from, to;
    };
    std::vector<phase> phases;
    if (three_phase)
      phases = {{pct_start * n - 1, start, peak}, {2 * pct_start * n - 2, peak, start}, {n - 1, start, end}};
    else
      phases = {{pct_start * n - 1, start, peak}, {n - 1, peak, end}};
    double begin = 0;
    for (std::size_t i = 0; i < phases.size(); ++i) {
      if (s <= phases[i].end_step || i + 1 == phases.size()) {
        const double pct = (s - begin) / (phases[i].end_step - begin);
        return anneal(phases[i].from, phases[i].to, pct);
      }
      begin = phases[i].end_step;
    }
    return end;
  }
  double anneal(double from, double to, double pct) const {
    if (cos_anneal) return to + (from - to) / 2 * (std::cos(std::numbers::pi * pct) + 1);
    return (to - from) * pct + from;
  }
};

}  // namespace ingot::sched
