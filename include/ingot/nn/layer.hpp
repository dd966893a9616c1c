#pragma once
// What a layer of a Sequential states. A layer is a type with static
// functions only; none of them computes anything at run time except init.
//
//   forward<Prefix, Mode>(x)   the layer's output expression for input x, in
//                              the training or the evaluation form (a layer
//                              whose forms agree may declare forward<Prefix>(x))
//   updates<Prefix>(x)         optional: a type_list of state update rules
//                              that a training step applies (assign, count)
//   init<Prefix>(params, rng)  optional: initial parameter values
//   in_features, out_features  optional: sizes checked by Sequential
//
// Prefix is the layer's state_dict prefix ("0.", "1.", ...): parameter and
// state leaves are named Prefix + "weight", Prefix + "running_mean", ...
#include "ingot/core/state_arena.hpp"
#include "ingot/core/type_list.hpp"
#include "ingot/expr/node.hpp"

namespace ingot::nn {

enum class mode { train, eval };

// After each training step, state leaf Leaf takes the value of Value, an
// expression of the same step (e.g. a running mean from the batch mean).
template <class Leaf, class Value>
struct assign {
  static_assert(std::is_same_v<typename Leaf::shape, typename Value::shape>,
                "ingot: a state update must have the shape of the state it updates");
  using target = Leaf;
  using value = Value;
};

// After each training step, Counter (a state_counter) grows by one.
template <class Counter>
struct count {
  using target = Counter;
};

template <class Rule>
struct is_assign : std::false_type {};
template <class L, class V>
struct is_assign<assign<L, V>> : std::true_type {};

template <class L, fixed_string Prefix, mode M, class X>
constexpr auto layer_forward(X x) {
  if constexpr (requires { L::template forward<Prefix, M>(x); }) return L::template forward<Prefix, M>(x);
  else return L::template forward<Prefix>(x);
}

template <class L, fixed_string Prefix, class X>
constexpr auto layer_updates(X x) {
  if constexpr (requires { L::template updates<Prefix>(x); }) return L::template updates<Prefix>(x);
  else return type_list<>{};
}

}  // namespace ingot::nn
