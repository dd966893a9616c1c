#pragma once
// A model's state_dict in safetensors files, with PyTorch's names and
// shapes: parameters ("0.weight" [out, in], "0.bias" [out]) and buffers
// ("1.running_mean", "1.num_batches_tracked" as an int64 scalar). PyTorch
// reads the file with model.load_state_dict(safetensors.torch.load_file(p));
// a file PyTorch saved with save_file(model.state_dict(), p) loads here.
//
// load_state_dict checks every name, dtype and shape before it changes the
// model, and names the first mismatch with both shapes. Float tensors
// convert between float32 and float64, as torch's load_state_dict copies.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ingot/io/safetensors.hpp"

namespace ingot::io {

// Tensors that belong to a training checkpoint rather than to the model
// start with this prefix; loading a model from a checkpoint skips them.
inline constexpr std::string_view training_prefix = "ingot.";

namespace detail {
inline std::vector<std::size_t> torch_shape(std::array<std::size_t, 2> rc, bool matrix,
                                            std::array<std::size_t, 2> kernel = {0, 0}) {
  if (kernel[0] * kernel[1] != 0) return {rc[0], rc[1] / (kernel[0] * kernel[1]), kernel[0], kernel[1]};
  if (matrix) return {rc[0], rc[1]};
  return {rc[1]};
}

// One entry of a model's state_dict, as a loader expects it.
struct expected_entry {
  std::string name;
  std::vector<std::size_t> shape;
  bool counter = false;
};

template <class Model>
std::vector<expected_entry> expected_entries() {
  using A = typename Model::arena_type;
  using S = typename Model::state_type;
  std::vector<expected_entry> out;
  for (std::size_t k = 0; k < A::count; ++k)
    out.push_back({std::string(A::name(k)), torch_shape(A::torch_shape(k), A::is_matrix(k), A::kernel_dims(k)), false});
  for (std::size_t k = 0; k < S::value_count; ++k)
    out.push_back({std::string(S::value_name(k)), torch_shape(S::value_shape(k), S::value_is_matrix(k)), false});
  for (std::size_t k = 0; k < S::counter_count; ++k) out.push_back({std::string(S::counter_names[k]), {}, true});
  return out;
}
}  // namespace detail

// The model's state_dict as tensors to write (they borrow the model's memory).
template <class Model>
std::vector<tensor_ref> state_dict_tensors(const Model& m) {
  using T = typename Model::value_type;
  using A = typename Model::arena_type;
  using S = typename Model::state_type;
  std::vector<tensor_ref> out;
  const auto& arena = m.arena();
  for (std::size_t k = 0; k < A::count; ++k)
    out.push_back({std::string(A::name(k)), dtype_name<T>(), detail::torch_shape(A::torch_shape(k), A::is_matrix(k), A::kernel_dims(k)),
                   as_bytes(arena.at(k))});
  const auto& state = m.state();
  for (std::size_t k = 0; k < S::value_count; ++k)
    out.push_back({std::string(S::value_name(k)), dtype_name<T>(),
                   detail::torch_shape(S::value_shape(k), S::value_is_matrix(k)), as_bytes(state.value(k))});
  for (std::size_t k = 0; k < S::counter_count; ++k)
    out.push_back({std::string(S::counter_names[k]), "I64", {},
                   {reinterpret_cast<const std::uint8_t*>(&state.counter_ref(k)), sizeof(std::int64_t)}});
  return out;
}

// Writes the model's state_dict (atomically).
template <class Model>
void save_state_dict(const Model& m, const std::string& path, const std::map<std::string, std::string>& metadata = {}) {
  save_safetensors(path, state_dict_tensors(m), metadata);
}

// Checks that file holds exactly the model's state_dict (tensors under
// training_prefix aside); throws format_error naming the first mismatch.
template <class Model>
void check_state_dict(const Model&, const safetensors_file& file) {
  const auto expected = detail::expected_entries<Model>();
  std::set<std::string> names;
  for (const auto& e : expected) {
    names.insert(e.name);
    const tensor* t = file.find(e.name);
    if (!t)
      throw format_error(file.source + ": no tensor '" + e.name + "'; the model has it with shape " +
                         shape_string(e.shape));
    if (t->shape != e.shape)
      throw format_error(file.source + ": tensor '" + e.name + "' has shape " + shape_string(t->shape) +
                         "; the model's has shape " + shape_string(e.shape));
    const bool ok = e.counter ? (t->dtype == "I64" || t->dtype == "I32") : (t->dtype == "F32" || t->dtype == "F64");
    if (!ok)
      throw format_error(file.source + ": tensor '" + e.name + "' has dtype " + t->dtype + "; the model needs " +
                         (e.counter ? "I64" : "F32 or F64"));
  }
  for (const auto& t : file.tensors)
    if (!names.count(t.name) && !std::string_view(t.name).starts_with(training_prefix))
      throw format_error(file.source + ": tensor '" + t.name + "' with shape " + shape_string(t.shape) +
                         " is not in the model");
}

// Copies the file's state_dict into the model, after check_state_dict.
template <class Model>
void load_state_dict(Model& m, const safetensors_file& file) {
  using T = typename Model::value_type;
  using A = typename Model::arena_type;
  using S = typename Model::state_type;
  check_state_dict(m, file);
  for (std::size_t k = 0; k < A::count; ++k) {
    const auto v = file.at(A::name(k)).template values<T>();
    std::copy(v.begin(), v.end(), m.arena().at(k).begin());
  }
  for (std::size_t k = 0; k < S::value_count; ++k) {
    const auto v = file.at(S::value_name(k)).template values<T>();
    std::copy(v.begin(), v.end(), m.state().value(k).begin());
  }
  for (std::size_t k = 0; k < S::counter_count; ++k)
    m.state().counter_at(k) = file.at(S::counter_names[k]).template values<std::int64_t>()[0];
}

template <class Model>
void load_state_dict(Model& m, const std::string& path) {
  load_state_dict(m, load_safetensors(path));
}

}  // namespace ingot::io
