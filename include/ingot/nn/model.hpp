#pragma once
// What every model has: an input leaf; a training form and an evaluation
// form of its output (the same expression for models without Dropout or
// BatchNorm); the state update rules of a training step; its parameters in
// state_dict order with the arena that holds them; its state (running
// statistics, counters) with the state arena that holds it. A model object
// owns nothing else; the graph is its type.
#include <cmath>
#include <string>
#include <vector>

#include "ingot/core/param_arena.hpp"
#include "ingot/core/rng.hpp"
#include "ingot/core/state_arena.hpp"
#include "ingot/expr/graph.hpp"
#include "ingot/nn/layer.hpp"

namespace ingot::nn {

namespace detail {
template <class Updates>
struct update_targets;
template <class... U>
struct update_targets<type_list<U...>> {
  using values = concat_t<std::conditional_t<is_assign<U>::value, type_list<typename U::target>, type_list<>>...>;
  using counters = concat_t<std::conditional_t<is_assign<U>::value, type_list<>, type_list<typename U::target>>...>;
};
}  // namespace detail

template <class Output>
using params_of = expr::leaves_with_role_t<expr::graph_of<Output>, expr::leaf_role::param>;

template <class Input, class TrainOutput, class EvalOutput = TrainOutput, class Updates = type_list<>,
          class T = float>
class model_base {
  static_assert(std::is_same_v<typename TrainOutput::shape, typename EvalOutput::shape>,
                "ingot: a model's training and evaluation forms must have the same shape");

 public:
  using value_type = T;
  using input = Input;
  using train_output = TrainOutput;
  using eval_output = EvalOutput;
  // The output as gradients see it: the training form (PyTorch modules
  // start in training mode).
  using output = TrainOutput;
  using updates = Updates;
  using params = join_distinct_t<params_of<TrainOutput>, params_of<EvalOutput>>;
  using state_values =
      join_distinct_t<typename detail::update_targets<Updates>::values,
                      expr::leaves_with_role_t<expr::graph_of<EvalOutput>, expr::leaf_role::state>>;
  using state_counters = typename detail::update_targets<Updates>::counters;
  using arena_type = param_arena<T, params>;
  using state_type = state_arena<T, state_values, state_counters>;
  static constexpr std::size_t in_features = Input::shape::cols;
  static constexpr std::size_t out_features = TrainOutput::shape::cols;

  arena_type& arena() { return arena_; }
  const arena_type& arena() const { return arena_; }
  state_type& state() { return state_; }
  const state_type& state() const { return state_; }
  static constexpr std::size_t num_parameters() { return arena_type::count; }
  // Trainable scalars (padding excluded), usable in a static_assert.
  static constexpr std::size_t parameter_count = [] {
    std::size_t n = 0;
    for (std::size_t k = 0; k < arena_layout<params>::count; ++k) n += arena_layout<params>::sizes[k];
    return n;
  }();
  // Number of trainable scalars (padding excluded).
  static constexpr std::size_t num_scalars() {
    std::size_t n = 0;
    for (std::size_t k = 0; k < arena_type::count; ++k) n += arena_layout<params>::sizes[k];
    return n;
  }
  std::span<T> parameter(std::string_view name) { return arena_.find(name); }
  static std::vector<std::string> parameter_names() {
    std::vector<std::string> out;
    for (std::size_t k = 0; k < arena_type::count; ++k) out.emplace_back(arena_type::name(k));
    return out;
  }
  // PyTorch's buffer names: state values, then counters.
  static std::vector<std::string> state_names() {
    std::vector<std::string> out;
    for (std::size_t k = 0; k < state_type::value_count; ++k) out.emplace_back(state_type::value_name(k));
    for (std::size_t k = 0; k < state_type::counter_count; ++k) out.emplace_back(state_type::counter_names[k]);
    return out;
  }

 protected:
  arena_type arena_;
  state_type state_;
};

// Default initialisation for a parameter leaf with no layer to speak for
// it: a matrix gets PyTorch's kaiming_uniform_(a = sqrt(5)), U(+-1/sqrt(cols));
// a vector starts at zero.
template <class Arena>
void default_init(Arena& arena, rng& g) {
  for (std::size_t k = 0; k < Arena::count; ++k) {
    auto values = arena.at(k);
    if (Arena::is_matrix(k)) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(Arena::torch_shape(k)[1]));
      g.fill_uniform(values, -bound, bound);
    } else {
      for (auto& v : values) v = 0;
    }
  }
}

}  // namespace ingot::nn
