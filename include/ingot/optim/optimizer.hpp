#pragma once
// What every optimizer shares: the parameters it updates (named as in
// PyTorch's state_dict), parameter groups with their own learning rate and
// weight decay, the per-element state buffers named as torch names them
// (exp_avg, momentum_buffer, ...), and the step loop.
//
// An optimizer is not a template of the value type: attach<T> sizes its
// state for a model of T, and step<T> updates it, so `optim::Adam{}` serves
// a float model and a double one alike.
//
// A derived optimizer (CRTP) gives
//   std::vector<std::string> state_keys() const   its buffers, in order
//   void on_attach()                               optional: initial state values
//   template <class T> void update(const segment<T>&, const group_state&)
//                                                  element-wise: it may get any slice of a parameter,
//                                                  on any thread
//   void after_step()                              optional: bookkeeping after every update
// and reads the step count (1 on the first step) from steps().
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/aligned.hpp"
#include "ingot/core/thread_pool.hpp"

namespace ingot::optim {

// One parameter as an optimizer sees it: its place in the flat arena.
struct param_info {
  std::string name;  // PyTorch's state_dict name, e.g. "0.weight"
  std::size_t offset = 0, size = 0;
  std::size_t ndim = 1;  // 2 for a weight matrix, 4 for a convolution weight; 1 for a bias or a norm's weight and bias
};

// Which parameters a group takes.
struct selector {
  std::function<bool(const param_info&)> match;
  std::string description;
};
// Parameters with one dimension: biases and normalisation weights, the
// usual "no weight decay" set of a PyTorch recipe (p.ndim <= 1).
INGOT_DECL selector vectors();
// Parameters whose name is one of names.
INGOT_DECL selector named(std::vector<std::string> names);
// Parameters whose name starts with prefix (a layer: "2.").
INGOT_DECL selector prefixed(std::string prefix);

// A parameter group: the parameters select matches (and no earlier group
// took), with these options instead of the optimizer's. Parameters no group
// takes form the default group, which comes first, as torch's param_groups[0]
// when the caller lists it first.
struct param_group {
  selector select;
  std::optional<double> lr, weight_decay;
};

// A group's hyperparameters while training (schedules change lr and momentum).
struct group_state {
  double lr = 0, initial_lr = 0, weight_decay = 0;
  // SGD's and RMSprop's momentum, or Adam's beta1; NaN where the optimizer has none.
  double momentum = std::numeric_limits<double>::quiet_NaN();
};

// The slices of one parameter that an update reads and writes.
template <class T>
struct segment {
  T* param;
  const T* grad;
  std::array<T*, 4> state;  // state_keys() order
  std::size_t size;
  std::size_t index;  // parameter index
};

// Everything that does not depend on the derived optimizer.
class optimizer_core {
 public:
  std::size_t num_groups() const { return groups_.size(); }
  const group_state& group(std::size_t g) const { return groups_.at(g); }
  double lr(std::size_t g = 0) const { return groups_.at(g).lr; }
  void set_lr(double lr, std::size_t g) { groups_.at(g).lr = lr; }
  void set_lr(double lr) {
    for (auto& g : groups_) g.lr = lr;
  }
  bool has_momentum() const { return !groups_.empty() && !std::isnan(groups_[0].momentum); }
  void set_momentum(double m, std::size_t g) { groups_.at(g).momentum = m; }
  // The group a parameter belongs to, and the parameters.
  std::size_t group_of(std::string_view param) const { return group_of_.at(param_index(param)); }
  const std::vector<param_info>& params() const { return params_; }
  // Steps taken (torch's state["step"]); settable to resume from a checkpoint.
  std::size_t steps() const { return steps_; }
  // Also tells the optimizer that its buffers hold state from s steps (a
  // checkpoint was loaded): SGD's momentum buffers count as started.
  void set_steps(std::size_t s) {
    steps_ = s;
    steps_restored_ = true;
  }
  const std::vector<std::string>& state_keys() const { return keys_; }
  // The optimizer's name ("ingot::optim::Adam"), as checkpoints record it.
  const std::string& name() const { return name_; }
  // A group's hyperparameters as a checkpoint restores them.
  void set_group(std::size_t g, const group_state& s) { groups_.at(g) = s; }

  // The state buffer `key` of parameter `param`, e.g. ("0.weight", "exp_avg").
  template <class T>
  std::span<T> state(std::string_view param, std::string_view key) {
    check_type(typeid(T), sizeof(T));
    const std::size_t p = param_index(param), k = key_index(key);
    return {reinterpret_cast<T*>(state_[k].data()) + params_[p].offset, params_[p].size};
  }
  template <class T>
  std::span<const T> state(std::string_view param, std::string_view key) const {
    return const_cast<optimizer_core*>(this)->state<T>(param, key);
  }

 protected:
  explicit optimizer_core(std::string name, double lr, double weight_decay, std::vector<param_group> groups);

  void set_default_momentum(double m) { defaults_.momentum = m; }

  void attach_core(std::vector<param_info> params, const std::type_info& type, std::size_t value_size,
                   std::vector<std::string> keys);

  void check_step(const std::type_info& type, std::size_t params, std::size_t grads) const;
  template <class T>
  T* buffer(std::size_t k) {
    return reinterpret_cast<T*>(state_[k].data());
  }

  std::string name_;
  group_state defaults_;
  std::vector<param_group> group_specs_;
  std::vector<group_state> groups_;
  std::vector<std::size_t> group_of_;
  std::vector<param_info> params_;
  std::vector<std::string> keys_;
  std::vector<aligned_buffer<unsigned char>> state_;
  const std::type_info* type_ = nullptr;
  std::size_t value_size_ = 0, extent_ = 0, steps_ = 0;
  bool steps_restored_ = false;

 private:
  void check_type(const std::type_info& type, std::size_t size) const;
  std::size_t param_index(std::string_view param) const;
  std::size_t key_index(std::string_view key) const;
};

#if INGOT_DEFINE_BODIES
INGOT_DECL selector vectors() {
  return {[](const param_info& p) { return p.ndim <= 1; }, "parameters with one dimension"};
}

INGOT_DECL selector named(std::vector<std::string> names) {
  std::string d = "parameters named";
  for (const auto& n : names) d += " '" + n + "'";
  return {[names = std::move(names)](const param_info& p) {
            for (const auto& n : names)
              if (n == p.name) return true;
            return false;
          },
          d};
}

INGOT_DECL selector prefixed(std::string prefix) {
  std::string d = "parameters whose name starts with '" + prefix + "'";
  return {[prefix = std::move(prefix)](const param_info& p) { return p.name.starts_with(prefix); }, d};
}

INGOT_DECL optimizer_core::optimizer_core(std::string name, double lr, double weight_decay,
                                          std::vector<param_group> groups)
    : name_(std::move(name)), defaults_{lr, lr, weight_decay}, group_specs_(std::move(groups)) {
  if (!(lr >= 0)) throw std::invalid_argument(name_ + ": invalid learning rate " + std::to_string(lr));
  if (!(weight_decay >= 0))
    throw std::invalid_argument(name_ + ": invalid weight_decay " + std::to_string(weight_decay));
  for (const auto& g : group_specs_) {
    if (g.lr && !(*g.lr >= 0)) throw std::invalid_argument(name_ + ": invalid learning rate in a parameter group");
    if (g.weight_decay && !(*g.weight_decay >= 0))
      throw std::invalid_argument(name_ + ": invalid weight_decay in a parameter group");
  }
}

INGOT_DECL void optimizer_core::attach_core(std::vector<param_info> params, const std::type_info& type,
                                            std::size_t value_size, std::vector<std::string> keys) {
  params_ = std::move(params);
  keys_ = std::move(keys);
  if (keys_.size() > 4) throw std::logic_error(name_ + ": more than four state buffers");
  type_ = &type;
  value_size_ = value_size;
  extent_ = 0;
  for (const auto& p : params_) extent_ = std::max(extent_, p.offset + p.size);
  // Groups: the default one first, then each spec that takes a parameter.
  groups_.assign(1, defaults_);
  group_of_.assign(params_.size(), 0);
  for (std::size_t s = 0; s < group_specs_.size(); ++s) {
    group_state g = defaults_;
    if (group_specs_[s].lr) g.lr = g.initial_lr = *group_specs_[s].lr;
    if (group_specs_[s].weight_decay) g.weight_decay = *group_specs_[s].weight_decay;
    bool used = false;
    for (std::size_t p = 0; p < params_.size(); ++p)
      if (group_of_[p] == 0 && group_specs_[s].select.match(params_[p])) {
        group_of_[p] = groups_.size();
        used = true;
      }
    if (!used)
      throw std::invalid_argument(name_ + ": parameter group " + std::to_string(s + 1) + " (" +
                                  group_specs_[s].select.description + ") takes no parameter");
    groups_.push_back(g);
  }
  state_.clear();
  for (std::size_t k = 0; k < keys_.size(); ++k) state_.emplace_back(extent_ * value_size_);
  steps_ = 0;
  steps_restored_ = false;
}

INGOT_DECL void optimizer_core::check_step(const std::type_info& type, std::size_t params, std::size_t grads) const {
  if (!type_) throw std::logic_error(name_ + ": step before attach");
  check_type(type, value_size_);
  if (params < extent_ || grads < params)
    throw std::invalid_argument(name_ + ": step on " + std::to_string(params) + " values (" + std::to_string(grads) +
                                " gradients); attached to " + std::to_string(extent_));
}

INGOT_DECL void optimizer_core::check_type(const std::type_info& type, std::size_t size) const {
  if (!type_) throw std::logic_error(name_ + ": no state before attach");
  if (type != *type_ || size != value_size_)
    throw std::invalid_argument(name_ + ": attached for another value type than this call's");
}

INGOT_DECL std::size_t optimizer_core::param_index(std::string_view param) const {
  for (std::size_t p = 0; p < params_.size(); ++p)
    if (params_[p].name == param) return p;
  std::string known;
  for (const auto& p : params_) known += (known.empty() ? "'" : ", '") + p.name + "'";
  throw std::out_of_range(name_ + ": no parameter named '" + std::string(param) + "' (parameters: " + known + ")");
}

INGOT_DECL std::size_t optimizer_core::key_index(std::string_view key) const {
  for (std::size_t k = 0; k < keys_.size(); ++k)
    if (keys_[k] == key) return k;
  std::string known;
  for (const auto& k : keys_) known += (known.empty() ? "'" : ", '") + k + "'";
  throw std::out_of_range(name_ + ": no state '" + std::string(key) + "' (this optimizer keeps: " +
                          (known.empty() ? std::string("none") : known) + ")");
}
#endif  // INGOT_DEFINE_BODIES

template <class Derived>
class optimizer : public optimizer_core {
 public:
  using optimizer_core::optimizer_core;

  // Sizes the state for the given parameters of an arena of T (called once,
  // not per step). Resets the state and the step count.
  template <class T = float>
  void attach(std::vector<param_info> params) {
    attach_core(std::move(params), typeid(T), sizeof(T), self().state_keys());
    self().on_attach_values(static_cast<T*>(nullptr));
  }
  // One unnamed parameter of n values.
  template <class T = float>
  void attach(std::size_t n) {
    attach<T>(std::vector<param_info>{{"", 0, n, 1}});
  }

  // One update of every parameter from its gradient. Defined out of the
  // class, so that it is not inline and a separately compiled program
  // compiles it once (core/config.hpp).
  template <class T>
  void step(std::span<T> params, std::span<const T> grads);

  // Optimizer passes over fewer values than this run on one thread.
  static constexpr std::size_t parallel_min_values = std::size_t{1} << 15;

 protected:
  // Default: state starts at zero.
  template <class T>
  void on_attach_values(T*) {}
  template <class T>
  void fill_state(std::size_t k, T value) {
    T* b = buffer<T>(k);
    for (std::size_t i = 0; i < extent_; ++i) b[i] = value;
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

template <class Derived>
template <class T>
void optimizer<Derived>::step(std::span<T> params, std::span<const T> grads) {
  check_step(typeid(T), params.size(), grads.size());
  if (steps_restored_) {
    if constexpr (requires { self().set_momentum_started(true); }) self().set_momentum_started(steps_ > 0);
    steps_restored_ = false;
  }
  ++steps_;
  // Every update is element-wise, so the pass splits into static slices
  // of each parameter (whole SIMD blocks) with results independent of the
  // thread count; small models stay on one thread.
  thread_pool& threads = pool();
  const std::size_t n = extent_ >= parallel_min_values ? threads.size() : 1;
  auto slice = [&](std::size_t t, std::size_t parts) {
    for (std::size_t p = 0; p < params_.size(); ++p) {
      const param_info& info = params_[p];
      const thread_range r = share(info.size, t, parts, 64);
      if (r.begin == r.end) continue;
      const std::size_t at = info.offset + r.begin;
      segment<T> s{params.data() + at, grads.data() + at, {}, r.end - r.begin, p};
      for (std::size_t k = 0; k < keys_.size(); ++k) s.state[k] = buffer<T>(k) + at;
      self().update(s, groups_[group_of_[p]]);
    }
  };
  // all is 1 when the step runs inside another parallel loop.
  if (n > 1) threads.run([&](std::size_t t, std::size_t all) {
      if (t < std::min(n, all)) slice(t, std::min(n, all));
    });
  else slice(0, 1);
  if constexpr (requires { self().after_step(); }) self().after_step();
}

// An optimizer's float step, compiled once in a separately compiled program
// (core/config.hpp); each optimizer's header names itself.
#define INGOT_INSTANTIATE_OPTIMIZER(O) \
  INGOT_INSTANTIATE(void optimizer<O>::step<float>(std::span<float>, std::span<const float>))

}  // namespace ingot::optim
