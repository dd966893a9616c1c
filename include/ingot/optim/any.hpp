#pragma once
// An optimizer chosen at run time (from a flag or a config file): one of
// ingot's optimizers behind one type, so that a program compiles one Trainer
// for all of them. Each step dispatches once, then runs the chosen
// optimizer's own pass; a scheduler takes it as it takes any optimizer.
#include <span>
#include <variant>
#include <vector>

#include "ingot/optim/adagrad.hpp"
#include "ingot/optim/adam.hpp"
#include "ingot/optim/rmsprop.hpp"
#include "ingot/optim/sgd.hpp"

namespace ingot::optim {

class any_optimizer {
 public:
  using variant = std::variant<SGD, Adam, AdamW, RMSprop, Adagrad>;

  template <class O>
    requires std::is_constructible_v<variant, O>
  any_optimizer(O o) : v_(std::move(o)) {}

  template <class T = float>
  void attach(std::vector<param_info> params) {
    std::visit([&](auto& o) { o.template attach<T>(std::move(params)); }, v_);
  }
  template <class T = float>
  void attach(std::size_t n) {
    std::visit([&](auto& o) { o.template attach<T>(n); }, v_);
  }
  template <class T>
  void step(std::span<T> params, std::span<const T> grads) {
    std::visit([&](auto& o) { o.step(params, grads); }, v_);
  }

  // The learning rates, groups and state of the chosen optimizer.
  optimizer_core& core() {
    return std::visit([](auto& o) -> optimizer_core& { return o; }, v_);
  }
  const optimizer_core& core() const {
    return std::visit([](const auto& o) -> const optimizer_core& { return o; }, v_);
  }
  operator optimizer_core&() { return core(); }
  double lr(std::size_t group = 0) const { return core().lr(group); }
  std::size_t steps() const { return core().steps(); }
  template <class T>
  std::span<T> state(std::string_view param, std::string_view key) {
    return core().template state<T>(param, key);
  }

  // The chosen optimizer itself, e.g. get<AdamW>().
  template <class O>
  O& get() {
    return std::get<O>(v_);
  }
  template <class O>
  bool holds() const {
    return std::holds_alternative<O>(v_);
  }

 private:
  variant v_;
};

}  // namespace ingot::optim
