#pragma once
// What the Trainer asks of its three arguments, as concepts, so that a
// wrong type stops with one message in words instead of a failed lookup
// deep inside the trainer.
#include <concepts>
#include <span>
#include <vector>

#include "ingot/optim/optimizer.hpp"

namespace ingot::train {

// A model: its input leaf, training and evaluation outputs, parameter list
// and value type, and the arenas that hold its parameters and state.
template <class M>
concept model = requires(M& m) {
  typename M::value_type;
  typename M::input;
  typename M::train_output;
  typename M::eval_output;
  typename M::params;
  typename M::updates;
  m.arena();
  m.state();
};

// A loss for outputs Y: the target leaf it reads, the target's value type
// (float or int32 labels) and the expression of the loss.
template <class L, class Y>
concept loss_for = requires {
  typename L::template target_leaf<Y>;
  typename L::target_value;
  L::apply(Y{}, typename L::template target_leaf<Y>{});
};

// An optimizer of values T: sized once by attach, then stepped.
template <class O, class T>
concept optimizer_for = requires(O& o, std::vector<optim::param_info> params, std::span<T> p, std::span<const T> g) {
  o.template attach<T>(params);
  o.step(p, g);
};

}  // namespace ingot::train
