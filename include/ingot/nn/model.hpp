#pragma once
// What every model has: an input leaf, an output expression, its parameters
// in state_dict order and the arena that holds them. A model object owns
// nothing else; the graph is its type.
#include <cmath>
#include <string>
#include <vector>

#include "ingot/expr/graph.hpp"
#include "ingot/nn/arena.hpp"

namespace ingot::nn {

template <class N>
struct param_pred : std::bool_constant<expr::is_param_v<N>> {};

template <class Output>
using params_of = filter_t<expr::topo_order_t<Output>, param_pred>;

template <class Input, class Output, class T = float>
class model_base {
 public:
  using value_type = T;
  using input = Input;
  using output = Output;
  using params = params_of<Output>;
  using arena_type = param_arena<T, params>;
  static constexpr std::size_t in_features = Input::shape::cols;
  static constexpr std::size_t out_features = Output::shape::cols;

  arena_type& arena() { return arena_; }
  const arena_type& arena() const { return arena_; }
  static constexpr std::size_t num_parameters() { return arena_type::count; }
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

 protected:
  arena_type arena_;
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
