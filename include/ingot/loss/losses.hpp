#pragma once
// Losses as expression builders, each with the target leaf it reads. Their
// gradients come from expr::grad; reduction is 'mean', as PyTorch's default.
#include "ingot/expr/operators.hpp"

namespace ingot::loss {

// nn.MSELoss: mean over every element of (y - t)^2.
struct MSE {
  template <class Y>
  using target_leaf = expr::data_leaf<"target", Y::shape::cols>;
  using target_value = float;
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) { return expr::mean(expr::square(y - t)); }
};

// nn.CrossEntropyLoss with integer class labels: log-softmax and the
// negative log-likelihood in one kernel (see softmax_xent_node).
struct CrossEntropy {
  template <class Y>
  using target_leaf = expr::labels_leaf<"target">;
  using target_value = std::int32_t;
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) { return expr::cross_entropy(y, t); }
};

// nn.BCELoss on probabilities: mean of -(t log y + (1 - t) log(1 - y)).
// Unlike PyTorch it does not clamp the logarithms at -100.
struct BCE {
  template <class Y>
  using target_leaf = expr::data_leaf<"target", Y::shape::cols>;
  using target_value = float;
  template <expr::node Y, expr::node Tg>
  static constexpr auto apply(Y y, Tg t) {
    using expr::lit;
    return expr::mean(-(t * expr::log(y) + (lit<1.0> - t) * expr::log(lit<1.0> - y)));
  }
};

}  // namespace ingot::loss
