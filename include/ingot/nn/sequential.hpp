#pragma once
// Sequential<Layers...>: layers applied in order, parameters and state named
// like PyTorch's nn.Sequential ("0.weight", "0.bias", "1.running_mean", ...).
// The input has the first layer's in_features; each layer that declares
// in_features is checked against the size the layers before it produce.
// The model's training and evaluation forms are its layers' forms, and its
// update rules are its layers' rules, each applied to the layer's input in
// the training form.
#include <utility>

#include "ingot/nn/activation.hpp"
#include "ingot/nn/batch_norm.hpp"
#include "ingot/nn/dense.hpp"
#include "ingot/nn/dropout.hpp"
#include "ingot/nn/layer_norm.hpp"
#include "ingot/nn/model.hpp"

namespace ingot::nn {

namespace diagnostics {
// Instantiated only to put the sizes into the compiler's message.
template <std::size_t LayerIndex, std::size_t PreviousOutputSize, std::size_t LayerInputSize>
struct layer_sizes {
  static constexpr bool ok = PreviousOutputSize == LayerInputSize;
  static_assert(ok,
                "ingot::nn::Sequential: layer input size does not match the previous layer's output size "
                "(see layer_sizes<LayerIndex, PreviousOutputSize, LayerInputSize> above)");
};
}  // namespace diagnostics

namespace detail {
template <class L, fixed_string Prefix, mode M, class X>
constexpr auto rules_of(X x) {
  if constexpr (M == mode::train) return layer_updates<L, Prefix>(x);
  else return type_list<>{};
}

// The output of layers I.. of Layers in mode M, and the update rules they
// add to Rules (in the training form only), as a pair of types.
template <class Layers, std::size_t I, mode M, expr::node X, class Rules>
constexpr auto forward_from(X x, Rules rules) {
  if constexpr (I == Layers::size) {
    return std::pair<X, Rules>{};
  } else {
    using L = type_at_t<I, Layers>;
    constexpr auto prefix = index_prefix<I>();
    if constexpr (requires { L::in_features; }) {
      // Stop at the first mismatch so that its message is the only one.
      if constexpr (!diagnostics::layer_sizes<I, X::shape::cols, L::in_features>::ok)
        return std::pair<X, Rules>{};
      else
        return forward_from<Layers, I + 1, M>(layer_forward<L, prefix, M>(x), rules + rules_of<L, prefix, M>(x));
    } else {
      return forward_from<Layers, I + 1, M>(layer_forward<L, prefix, M>(x), rules + rules_of<L, prefix, M>(x));
    }
  }
}
}  // namespace detail

template <class... Layers>
struct sequential_graph {
  static_assert(sizeof...(Layers) > 0, "ingot::nn::Sequential needs at least one layer");
  using layers = type_list<Layers...>;
  using first = type_at_t<0, layers>;
  static_assert(requires { first::in_features; },
                "ingot::nn::Sequential: the first layer must declare its input size (e.g. Dense<In, Out>)");

  using input = expr::data_leaf<"input", first::in_features>;
  using train_result = decltype(detail::forward_from<layers, 0, mode::train>(input{}, type_list<>{}));
  using train_output = typename train_result::first_type;
  using eval_output =
      typename decltype(detail::forward_from<layers, 0, mode::eval>(input{}, type_list<>{}))::first_type;
  using updates = typename train_result::second_type;

  template <class Arena>
  static void init(Arena& arena, rng& g) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (init_layer<type_at_t<I, layers>, I>(arena, g), ...);
    }(std::index_sequence_for<Layers...>{});
  }

 private:
  template <class L, std::size_t I, class Arena>
  static void init_layer(Arena& arena, rng& g) {
    if constexpr (requires { L::template init<index_prefix<I>()>(arena, g); }) L::template init<index_prefix<I>()>(arena, g);
  }
};

template <class... Layers>
class Sequential
    : public sequential_graph<Layers...>,
      public model_base<typename sequential_graph<Layers...>::input, typename sequential_graph<Layers...>::train_output,
                        typename sequential_graph<Layers...>::eval_output,
                        typename sequential_graph<Layers...>::updates> {
  using graph = sequential_graph<Layers...>;

 public:
  using input = typename graph::input;
  using output = typename graph::train_output;
  using train_output = typename graph::train_output;
  using eval_output = typename graph::eval_output;
  using updates = typename graph::updates;
  explicit Sequential(init::seed s = {}) {
    rng g(s.value);
    graph::init(this->arena_, g);
  }
};

// A model written directly as an expression: its input is the one data leaf
// the expression reads; it has one form and no state updates.
template <expr::node Output>
class ExpressionModel
    : public model_base<type_at_t<0, expr::leaves_with_role_t<expr::graph_of<Output>, expr::leaf_role::data>>,
                        Output> {
  static_assert(expr::leaves_with_role_t<expr::graph_of<Output>, expr::leaf_role::data>::size == 1,
                "ingot::nn::ExpressionModel: the expression must read exactly one input leaf");

 public:
  explicit ExpressionModel(init::seed s = {}) {
    rng g(s.value);
    default_init(this->arena_, g);
  }
  template <class Arena>
  static void init(Arena& arena, rng& g) { default_init(arena, g); }
};

template <expr::node Output>
ExpressionModel<Output> from_expression(Output, init::seed s = {}) {
  return ExpressionModel<Output>(s);
}

}  // namespace ingot::nn
