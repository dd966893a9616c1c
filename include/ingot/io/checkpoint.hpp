#pragma once
// Training checkpoints: one safetensors file holding everything a run needs
// to continue exactly where it stopped, at an epoch boundary:
//   - the model's state_dict under PyTorch's names (parameters and buffers);
//   - the optimizer's state buffers, as "ingot.optimizer.<key>.<param>";
//   - in the metadata: the epochs done, the random state of the dropout
//     masks, the optimizer's name, step count and parameter groups (learning
//     rate, momentum), and each scheduler's state.
// PyTorch loads the model part with
//   sd = safetensors.torch.load_file(p)
//   model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("ingot.")})
// and io::load_state_dict(net, p) reads a checkpoint as a plain weights file.
//
// Saving is atomic (atomic_file.hpp); loading checks the whole file against
// the trainer (model names and shapes, optimizer kind, keys and sizes,
// scheduler count) before it changes anything.
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/io/state_dict.hpp"
#include "ingot/optim/optimizer.hpp"

namespace ingot::io {

inline constexpr const char* checkpoint_format = "ingot-training-checkpoint-1";

// What a checkpoint holds besides tensors. It is written as the file's
// metadata (JSON strings) by encode_checkpoint_meta and read back, with
// every field's type checked, by decode_checkpoint_meta (impl/checkpoint_json.hpp).
struct checkpoint_meta {
  std::size_t epoch = 0;
  std::array<std::uint64_t, 2> random{};  // the dropout masks' generator
  std::string optimizer;                  // its name()
  std::size_t steps = 0;
  std::vector<std::string> keys;          // the optimizer's state_keys()
  std::vector<optim::group_state> groups;
  std::vector<std::vector<double>> schedulers;  // each one's state()
};
INGOT_DECL std::map<std::string, std::string> encode_checkpoint_meta(const checkpoint_meta& m);
// Throws format_error, naming file.source, when a field is missing or malformed.
INGOT_DECL checkpoint_meta decode_checkpoint_meta(const safetensors_file& file);

namespace detail {
// "ingot.optimizer.<key>.<param>".
INGOT_DECL std::string optimizer_tensor(const std::string& key, const std::string& param);
// Throws format_error unless file's metadata names this checkpoint format.
INGOT_DECL void require_checkpoint_format(const safetensors_file& file);

// The optimizer's part of a checkpoint, apart from the model (compiled once
// in a separately compiled program):
//   its state buffers as tensors "ingot.optimizer.<key>.<param>";
template <class T>
void add_optimizer_tensors(const optim::optimizer_core& opt, std::vector<tensor_ref>& tensors);
//   a check that file and its metadata m fit opt (kind, state keys, groups,
//   each buffer's dtype and shape), naming the first difference;
template <class T>
void check_optimizer_state(const safetensors_file& file, const checkpoint_meta& m, const optim::optimizer_core& opt);
//   the state buffers, step count and groups copied into opt (after the check);
template <class T>
void load_optimizer_state(const safetensors_file& file, const checkpoint_meta& m, optim::optimizer_core& opt);
//   each group's saved learning rate and momentum.
INGOT_DECL void restore_group_rates(const checkpoint_meta& m, optim::optimizer_core& opt);

template <class T>
void add_optimizer_tensors(const optim::optimizer_core& opt, std::vector<tensor_ref>& tensors) {
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params())
      tensors.push_back({optimizer_tensor(key, p.name), dtype_name<T>(), {p.size},
                         as_bytes(opt.template state<T>(p.name, key))});
}

template <class T>
void check_optimizer_state(const safetensors_file& file, const checkpoint_meta& m, const optim::optimizer_core& opt) {
  const std::string& path = file.source;
  if (m.optimizer != opt.name())
    throw format_error(path + ": the checkpoint's optimizer is " + m.optimizer + ", the trainer's is " + opt.name());
  if (m.keys != opt.state_keys()) {
    std::string keys;
    for (const auto& k : m.keys) keys += (keys.empty() ? "" : ", ") + k;
    throw format_error(path + ": the checkpoint's optimizer keeps other state buffers than the trainer's (" + keys +
                       ")");
  }
  if (m.groups.size() != opt.num_groups())
    throw format_error(path + ": the checkpoint's optimizer has " + std::to_string(m.groups.size()) +
                       " parameter groups, the trainer's " + std::to_string(opt.num_groups()));
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params()) {
      const std::string name = detail::optimizer_tensor(key, p.name);
      const tensor* t = file.find(name);
      if (!t) throw format_error(path + ": no tensor '" + name + "'");
      if (t->shape != std::vector<std::size_t>{p.size} || t->dtype != dtype_name<T>())
        throw format_error(path + ": tensor '" + name + "' is " + t->dtype + " " + shape_string(t->shape) +
                           "; the optimizer needs " + dtype_name<T>() + " [" + std::to_string(p.size) + "]");
    }
}

template <class T>
void load_optimizer_state(const safetensors_file& file, const checkpoint_meta& m, optim::optimizer_core& opt) {
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params()) {
      const auto& t = file.at(detail::optimizer_tensor(key, p.name));
      std::memcpy(opt.template state<T>(p.name, key).data(), t.bytes.data(), t.bytes.size());
    }
  opt.set_steps(m.steps);
  for (std::size_t g = 0; g < opt.num_groups(); ++g) opt.set_group(g, m.groups[g]);
}

#if INGOT_DEFINE_BODIES
INGOT_DECL std::string optimizer_tensor(const std::string& key, const std::string& param) {
  return std::string(training_prefix) + "optimizer." + key + "." + param;
}

INGOT_DECL void require_checkpoint_format(const safetensors_file& file) {
  const auto it = file.metadata.find("format");
  if (it == file.metadata.end())
    throw format_error(file.source +
                       ": not an ingot training checkpoint (no 'format' in its metadata; a weights-only file loads "
                       "with io::load_state_dict)");
  if (it->second != checkpoint_format)
    throw format_error(file.source + ": checkpoint format '" + it->second + "', expected '" + checkpoint_format + "'");
}

INGOT_DECL void restore_group_rates(const checkpoint_meta& m, optim::optimizer_core& opt) {
  for (std::size_t g = 0; g < opt.num_groups(); ++g) {
    opt.set_lr(m.groups[g].lr, g);
    opt.set_momentum(m.groups[g].momentum, g);
  }
}
#endif  // INGOT_DEFINE_BODIES

// Compiled once in a separately compiled program (core/config.hpp).
INGOT_INSTANTIATE(void add_optimizer_tensors<float>(const optim::optimizer_core&, std::vector<tensor_ref>&))
INGOT_INSTANTIATE(void check_optimizer_state<float>(const safetensors_file&, const checkpoint_meta&,
                                                    const optim::optimizer_core&))
INGOT_INSTANTIATE(void load_optimizer_state<float>(const safetensors_file&, const checkpoint_meta&,
                                                   optim::optimizer_core&))
}  // namespace detail

// Saves trainer (its model, optimizer and random state, and the epochs it
// has done) and the schedulers' states to path, atomically.
template <class Trainer, class... Schedulers>
void save_checkpoint(const std::string& path, Trainer& trainer, const Schedulers&... schedulers) {
  using T = typename Trainer::T;
  const optim::optimizer_core& opt = trainer.optimizer();
  std::vector<tensor_ref> tensors = state_dict_tensors(trainer.model());
  detail::add_optimizer_tensors<T>(opt, tensors);
  checkpoint_meta m{.epoch = trainer.epochs_done(),
                    .random = trainer.random_state(),
                    .optimizer = opt.name(),
                    .steps = opt.steps(),
                    .keys = opt.state_keys(),
                    .groups = {},
                    .schedulers = {schedulers.state()...}};
  for (std::size_t g = 0; g < opt.num_groups(); ++g) m.groups.push_back(opt.group(g));
  save_safetensors(path, tensors, encode_checkpoint_meta(m));
}

// Restores what save_checkpoint saved. The trainer must be built like the
// one saved (same model type, same optimizer kind and groups) and the
// schedulers given in the same order; anything else is refused with the
// first difference named, and nothing is changed. Continue with
// fit({... .resume = true}).
template <class Trainer, class... Schedulers>
void load_checkpoint(const std::string& path, Trainer& trainer, Schedulers&... schedulers) {
  using T = typename Trainer::T;
  const safetensors_file file = load_safetensors(path);
  detail::require_checkpoint_format(file);
  check_state_dict(trainer.model(), file);
  const checkpoint_meta m = decode_checkpoint_meta(file);

  optim::optimizer_core& opt = trainer.optimizer();
  detail::check_optimizer_state<T>(file, m, opt);
  if (m.schedulers.size() != sizeof...(Schedulers))
    throw format_error(path + ": the checkpoint holds " + std::to_string(m.schedulers.size()) +
                       " scheduler states; " + std::to_string(sizeof...(Schedulers)) + " schedulers were given");
  {
    std::size_t i = 0;
    auto check = [&](const auto& s) {
      if (m.schedulers[i++].size() != s.state().size())
        throw format_error(path + ": scheduler " + std::to_string(i) + "'s state does not fit the scheduler given");
    };
    (check(schedulers), ...);
    (void)check;
  }

  // Everything checked: now change the trainer.
  load_state_dict(trainer.model(), file);
  detail::load_optimizer_state<T>(file, m, opt);
  {
    std::size_t i = 0;
    (schedulers.load_state(m.schedulers[i++]), ...);
    (void)i;
  }
  // A scheduler's load sets the learning rates of its step; the saved ones
  // (which a plateau scheduler or a user may have changed) win.
  detail::restore_group_rates(m, opt);
  trainer.set_random_state(m.random);
  trainer.set_epochs_done(m.epoch);
}

// A fit callback that saves a checkpoint after every epoch. Pass it after
// the scheduler callbacks, so that it saves their stepped state.
template <class Trainer, class... Schedulers>
struct checkpoint_each_epoch {
  std::string path;
  Trainer* trainer;
  std::tuple<const Schedulers*...> schedulers;
  // Rank 0 of a distributed run saves; the others have the same values.
  template <class R>
  void on_epoch_end(const R& r) {
    if (r.rank != 0) return;
    std::apply([&](const auto*... s) { save_checkpoint(path, *trainer, *s...); }, schedulers);
  }
};
template <class Trainer, class... Schedulers>
checkpoint_each_epoch<Trainer, Schedulers...> checkpoint_every_epoch(std::string path, Trainer& t,
                                                                     const Schedulers&... s) {
  return {std::move(path), &t, {&s...}};
}

}  // namespace ingot::io

#ifndef INGOT_SEPARATE_COMPILATION
#include "ingot/io/impl/checkpoint_json.hpp"
#endif
