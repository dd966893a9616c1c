#pragma once
// The state arena: what a model keeps but does not train, beside its
// parameter arena. Values (running statistics) are state leaves, laid out
// like parameters and starting at each leaf's init value; counters
// (num_batches_tracked) are int64 scalars. Names follow PyTorch's buffers
// ("1.running_mean", "1.running_var", "1.num_batches_tracked"), so that
// checkpoints can carry them.
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ingot/core/fixed_string.hpp"
#include "ingot/core/param_arena.hpp"

namespace ingot {

// An int64 scalar of a model's state, counted up by its update rule.
template <fixed_string Name>
struct state_counter {
  static constexpr auto name = Name;
};

template <class T, class Values, class Counters>
class state_arena;

template <class T, class... V, class... C>
class state_arena<T, type_list<V...>, type_list<C...>> {
  using value_arena = param_arena<T, type_list<V...>>;

 public:
  using value_type = T;
  using values = type_list<V...>;
  using counters = type_list<C...>;
  static constexpr std::size_t value_count = sizeof...(V);
  static constexpr std::size_t counter_count = sizeof...(C);
  static constexpr std::array<std::string_view, counter_count> counter_names = {C::name.view()...};

  state_arena() { reset(); }

  // Every value back to its init, every counter to 0.
  void reset() {
    ((fill(get<V>(), static_cast<T>(V::init))), ...);
    counters_.fill(0);
  }

  template <class Leaf>
  std::span<T> get() { return values_.template get<Leaf>(); }
  template <class Leaf>
  std::span<const T> get() const { return values_.template get<Leaf>(); }
  template <class Counter>
  std::int64_t& counter() { return counters_[index_in_v<Counter, counters>]; }
  template <class Counter>
  std::int64_t counter() const { return counters_[index_in_v<Counter, counters>]; }

  std::span<T> value(std::size_t k) { return values_.at(k); }
  std::span<const T> value(std::size_t k) const { return values_.at(k); }
  static constexpr std::string_view value_name(std::size_t k) { return value_arena::name(k); }
  // PyTorch shape of value k: [rows, cols] for a matrix, [cols] for a vector.
  static constexpr std::array<std::size_t, 2> value_shape(std::size_t k) { return value_arena::torch_shape(k); }
  static constexpr bool value_is_matrix(std::size_t k) { return value_arena::is_matrix(k); }
  std::int64_t& counter_at(std::size_t k) { return counters_[k]; }
  std::int64_t counter_at(std::size_t k) const { return counters_[k]; }
  const std::int64_t& counter_ref(std::size_t k) const { return counters_[k]; }

  static constexpr std::size_t index_of_name(std::string_view name) { return value_arena::index_of_name(name); }
  T* value_at(std::size_t k) { return values_.value_at(k); }

  std::span<T> find(std::string_view name) { return values_.find(name, "state value"); }
  std::int64_t& find_counter(std::string_view name) {
    for (std::size_t k = 0; k < counter_count; ++k)
      if (counter_names[k] == name) return counters_[k];
    throw std::out_of_range("ingot: no state counter named '" + std::string(name) + "'");
  }

 private:
  static void fill(std::span<T> s, T v) {
    for (T& x : s) x = v;
  }
  value_arena values_;
  std::array<std::int64_t, counter_count> counters_{};
};

}  // namespace ingot
