#pragma once
// Sequential<Layers...>: layers applied in order, parameters and state named
// like PyTorch's nn.Sequential ("0.weight", "0.bias", "1.running_mean", ...).
// The input has the first layer's in_features; each layer that declares
// in_features is checked against the size the layers before it produce.
// The model's training and evaluation forms are its layers' forms, and its
// update rules are its layers' rules, each applied to the layer's input in
// the training form.
#include <utility>

#include "ingot/expr/named.hpp"
#include "ingot/nn/activation.hpp"
#include "ingot/nn/batch_norm.hpp"
#include "ingot/nn/conv.hpp"
#include "ingot/nn/dense.hpp"
#include "ingot/nn/dropout.hpp"
#include "ingot/nn/flatten.hpp"
#include "ingot/nn/layer_norm.hpp"
#include "ingot/nn/model.hpp"
#include "ingot/nn/pooling.hpp"

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
template <class Layers, std::size_t I, mode M>
struct layer_output;

template <class Layers, std::size_t I, mode M>
struct layer_input;

// Whether any of layers 0..I has distinct training and evaluation forms.
// Until the first such layer the evaluation form is the training form's
// very nodes, so a model without Dropout or BatchNorm has one graph.
template <class L, class X>
struct probe_input {
  using type = X;
};
template <class L, class X>
  requires requires { L::in_features; }
struct probe_input<L, X> {
  using type = expr::data_leaf<"probe", L::in_features>;
};

template <class Layers, std::size_t I>
struct modes_differ_upto {
  using L = type_at_t<I, Layers>;
  // Asked with an input of the layer's own size, so that a size mismatch
  // is reported by the size check, not from inside the layer.
  using X = typename probe_input<L, typename layer_input<Layers, I, mode::train>::type>::type;
  static constexpr bool value = requires { L::template forward<index_prefix<I>(), mode::train>(X{}); } ||
                                modes_differ_upto<Layers, I - 1>::value;
};
template <class Layers>
struct modes_differ_upto<Layers, static_cast<std::size_t>(-1)> : std::false_type {};

template <class Layers, std::size_t I, mode M>
using output_of_layer =
    layer_output<Layers, I, (M == mode::eval && modes_differ_upto<Layers, I>::value) ? mode::eval : mode::train>;

// The input of layer I: the model's input, or the previous layer's output
// under its short name (see expr/named.hpp).
template <class Layers, std::size_t I, mode M>
struct layer_input {
  using type = expr::named<output_of_layer<Layers, I - 1, M>>;
};
template <class Layers, mode M>
struct layer_input<Layers, 0, M> {
  using type = expr::data_leaf<"input", type_at_t<0, Layers>::in_features>;
};

template <class L, class X, std::size_t I>
constexpr bool sizes_agree() {
  if constexpr (requires { L::in_features; }) {
    return diagnostics::layer_sizes<I, X::shape::cols, L::in_features>::ok;
  } else if constexpr (requires { L::in_channels; }) {
    using S = typename X::shape;
    if constexpr (!diagnostics::layer_input_image<I, S::is_image>::ok) return false;
    else return diagnostics::image_channels<I, S::channels, S::height, S::width, L::in_channels>::ok;
  } else {
    return true;
  }
}

// Layer I's output in mode M. After a size mismatch, the input is passed
// on unchanged so that the mismatch's message is the only error.
template <bool SizesAgree, class L, std::size_t I, mode M, class X>
struct forward_or_pass {
  using type = X;
};
template <class L, std::size_t I, mode M, class X>
struct forward_or_pass<true, L, I, M, X> {
  using type = decltype(layer_forward<L, index_prefix<I>(), M>(X{}));
};

template <class Layers, std::size_t I, mode M>
struct layer_output {
  using L = type_at_t<I, Layers>;
  using X = typename layer_input<Layers, I, M>::type;
  using type = typename forward_or_pass<sizes_agree<L, X, I>(), L, I, M, X>::type;
};

// The update rules of layer I, applied to its input in the training form
// (none after a size mismatch, whose message is then the only error).
template <bool SizesAgree, class L, std::size_t I, class X>
struct rules_or_none {
  using type = type_list<>;
};
template <class L, std::size_t I, class X>
struct rules_or_none<true, L, I, X> {
  using type = decltype(layer_updates<L, index_prefix<I>()>(X{}));
};
template <class Layers, std::size_t I>
struct layer_rules {
  using L = type_at_t<I, Layers>;
  using X = typename layer_input<Layers, I, mode::train>::type;
  using type = typename rules_or_none<sizes_agree<L, X, I>(), L, I, X>::type;
};
}  // namespace detail

template <class... Layers>
struct sequential_graph {
  static_assert(sizeof...(Layers) > 0, "ingot::nn::Sequential needs at least one layer");
  using layers = type_list<Layers...>;
  using first = type_at_t<0, layers>;
  static_assert(requires { first::in_features; },
                "ingot::nn::Sequential: the first layer must declare its input size (e.g. Dense<In, Out>)");

  using input = typename detail::layer_input<layers, 0, mode::train>::type;
  using train_output = expr::named<detail::output_of_layer<layers, sizeof...(Layers) - 1, mode::train>>;
  using eval_output = expr::named<detail::output_of_layer<layers, sizeof...(Layers) - 1, mode::eval>>;
  template <std::size_t... I>
  static auto collect_rules(std::index_sequence<I...>) -> concat_t<typename detail::layer_rules<layers, I>::type...>;
  using updates = decltype(collect_rules(std::index_sequence_for<Layers...>{}));

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
