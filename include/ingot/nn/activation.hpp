#pragma once
// Activations as layers of a Sequential. Each is its expression function,
// the same in training and evaluation.
#include "ingot/expr/operators.hpp"

namespace ingot::nn {

#define INGOT_ACTIVATION_LAYER(Name, fn)                        \
  struct Name {                                                 \
    template <fixed_string Prefix, expr::node X>                \
    static constexpr auto forward(X x) { return expr::fn(x); } \
  };
INGOT_ACTIVATION_LAYER(ReLU, relu)
INGOT_ACTIVATION_LAYER(Tanh, tanh)
INGOT_ACTIVATION_LAYER(Sigmoid, sigmoid)
INGOT_ACTIVATION_LAYER(GELU, gelu)
INGOT_ACTIVATION_LAYER(Softmax, softmax)
INGOT_ACTIVATION_LAYER(LogSoftmax, log_softmax)
#undef INGOT_ACTIVATION_LAYER

template <double Slope = 0.01>
struct LeakyReLU {
  template <fixed_string Prefix, expr::node X>
  static constexpr auto forward(X x) { return expr::leaky_relu<Slope>(x); }
};

}  // namespace ingot::nn
