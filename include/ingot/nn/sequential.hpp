#pragma once
// Sequential<Layers...>: layers applied in order, parameters named like
// PyTorch's nn.Sequential ("0.weight", "0.bias", "2.weight", ...). The input
// has the first layer's in_features; each layer that declares in_features is
// checked against the size the layers before it produce.
#include "ingot/nn/activation.hpp"
#include "ingot/nn/dense.hpp"
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

template <class... Layers>
struct sequential_graph {
  static_assert(sizeof...(Layers) > 0, "ingot::nn::Sequential needs at least one layer");
  using layers = type_list<Layers...>;
  using first = type_at_t<0, layers>;
  static_assert(requires { first::in_features; },
                "ingot::nn::Sequential: the first layer must declare its input size (e.g. Dense<In, Out>)");

  template <std::size_t I, expr::node X>
  static constexpr auto forward_from(X x) {
    if constexpr (I == sizeof...(Layers)) {
      return x;
    } else {
      using L = type_at_t<I, layers>;
      if constexpr (requires { L::in_features; }) {
        // Stop at the first mismatch so that its message is the only one.
        if constexpr (!diagnostics::layer_sizes<I, X::shape::cols, L::in_features>::ok) return x;
        else return forward_from<I + 1>(L::template forward<index_prefix<I>()>(x));
      } else {
        return forward_from<I + 1>(L::template forward<index_prefix<I>()>(x));
      }
    }
  }

  using input = expr::data_leaf<"input", first::in_features>;
  using output = decltype(forward_from<0>(input{}));

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
class Sequential : public sequential_graph<Layers...>,
                   public model_base<typename sequential_graph<Layers...>::input,
                                     typename sequential_graph<Layers...>::output> {
  using graph = sequential_graph<Layers...>;

 public:
  using input = typename graph::input;
  using output = typename graph::output;
  explicit Sequential(init::seed s = {}) {
    rng g(s.value);
    graph::init(this->arena_, g);
  }
};

// A model written directly as an expression: its input is the one data leaf
// the expression reads.
template <class N>
struct data_pred : std::bool_constant<expr::is_data_v<N>> {};

template <expr::node Output>
class ExpressionModel
    : public model_base<type_at_t<0, filter_t<expr::topo_order_t<Output>, data_pred>>, Output> {
  static_assert(filter_t<expr::topo_order_t<Output>, data_pred>::size == 1,
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
