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
#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "ingot/io/state_dict.hpp"
#include "ingot/optim/optimizer.hpp"

namespace ingot::io {

inline constexpr const char* checkpoint_format = "ingot-training-checkpoint-1";

namespace detail {
inline std::string optimizer_tensor(const std::string& key, const std::string& param) {
  return std::string(training_prefix) + "optimizer." + key + "." + param;
}
inline double json_double(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}
}  // namespace detail

// Saves trainer (its model, optimizer and random state, and the epochs it
// has done) and the schedulers' states to path, atomically.
template <class Trainer, class... Schedulers>
void save_checkpoint(const std::string& path, Trainer& trainer, const Schedulers&... schedulers) {
  using T = typename Trainer::T;
  const optim::optimizer_core& opt = trainer.optimizer();
  std::vector<tensor_ref> tensors = state_dict_tensors(trainer.model());
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params())
      tensors.push_back({detail::optimizer_tensor(key, p.name), dtype_name<T>(), {p.size},
                         as_bytes(opt.template state<T>(p.name, key))});
  nlohmann::json groups = nlohmann::json::array();
  for (std::size_t g = 0; g < opt.num_groups(); ++g) {
    const auto& s = opt.group(g);
    groups.push_back({{"lr", s.lr}, {"initial_lr", s.initial_lr}, {"weight_decay", s.weight_decay},
                      {"momentum", std::isnan(s.momentum) ? nlohmann::json() : nlohmann::json(s.momentum)}});
  }
  const nlohmann::json optimizer = {
      {"name", opt.name()}, {"steps", opt.steps()}, {"keys", opt.state_keys()}, {"groups", groups}};
  nlohmann::json scheds = nlohmann::json::array();
  (scheds.push_back(schedulers.state()), ...);
  const auto random = trainer.random_state();
  const std::map<std::string, std::string> metadata = {
      {"format", checkpoint_format},
      {"epoch", std::to_string(trainer.epochs_done())},
      {"random", nlohmann::json(random).dump()},
      {"optimizer", optimizer.dump()},
      {"schedulers", scheds.dump()},
  };
  save_safetensors(path, tensors, metadata);
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
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw format_error(path + ": not an ingot training checkpoint (no '" + key +
                         "' in its metadata; a weights-only file loads with io::load_state_dict)");
    return it->second;
  };
  if (meta("format") != checkpoint_format)
    throw format_error(path + ": checkpoint format '" + meta("format") + "', expected '" + checkpoint_format + "'");
  check_state_dict(trainer.model(), file);

  optim::optimizer_core& opt = trainer.optimizer();
  nlohmann::json o, scheds, random;
  std::size_t epoch = 0;
  try {
    o = nlohmann::json::parse(meta("optimizer"));
    scheds = nlohmann::json::parse(meta("schedulers"));
    random = nlohmann::json::parse(meta("random"));
    epoch = std::stoull(meta("epoch"));
    if (o.at("name").get<std::string>() != opt.name())
      throw format_error(path + ": the checkpoint's optimizer is " + o.at("name").get<std::string>() +
                         ", the trainer's is " + opt.name());
    if (o.at("keys").get<std::vector<std::string>>() != opt.state_keys())
      throw format_error(path + ": the checkpoint's optimizer keeps other state buffers than the trainer's (" +
                         o.at("keys").dump() + ")");
    if (o.at("groups").size() != opt.num_groups())
      throw format_error(path + ": the checkpoint's optimizer has " + std::to_string(o.at("groups").size()) +
                         " parameter groups, the trainer's " + std::to_string(opt.num_groups()));
    if (!random.is_array() || random.size() != 2) throw format_error(path + ": malformed random state");
    random.get<std::array<std::uint64_t, 2>>();
    o.at("steps").get<std::size_t>();
    for (const auto& g : o.at("groups")) {
      g.at("lr").get<double>();
      g.at("initial_lr").get<double>();
      g.at("weight_decay").get<double>();
      detail::json_double(g.at("momentum"));
    }
  } catch (const nlohmann::json::exception& e) {
    throw format_error(path + ": malformed checkpoint metadata (" + e.what() + ")");
  } catch (const std::logic_error& e) {
    throw format_error(path + ": malformed checkpoint metadata (" + e.what() + ")");
  }
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params()) {
      const std::string name = detail::optimizer_tensor(key, p.name);
      const tensor* t = file.find(name);
      if (!t) throw format_error(path + ": no tensor '" + name + "'");
      if (t->shape != std::vector<std::size_t>{p.size} || t->dtype != dtype_name<T>())
        throw format_error(path + ": tensor '" + name + "' is " + t->dtype + " " + shape_string(t->shape) +
                           "; the optimizer needs " + dtype_name<T>() + " [" + std::to_string(p.size) + "]");
    }
  if (!scheds.is_array() || scheds.size() != sizeof...(Schedulers))
    throw format_error(path + ": the checkpoint holds " + std::to_string(scheds.is_array() ? scheds.size() : 0) +
                       " scheduler states; " + std::to_string(sizeof...(Schedulers)) + " schedulers were given");
  std::vector<std::vector<double>> sched_states;
  {
    std::size_t i = 0;
    auto check = [&](const auto& s) {
      const auto& j = scheds[i++];
      if (!j.is_array() || j.size() != s.state().size())
        throw format_error(path + ": scheduler " + std::to_string(i) + "'s state does not fit the scheduler given");
      std::vector<double> v;
      for (const auto& x : j) v.push_back(detail::json_double(x));
      sched_states.push_back(std::move(v));
    };
    (check(schedulers), ...);
    (void)check;
  }

  // Everything checked: now change the trainer.
  load_state_dict(trainer.model(), file);
  for (const std::string& key : opt.state_keys())
    for (const auto& p : opt.params()) {
      const auto& t = file.at(detail::optimizer_tensor(key, p.name));
      std::memcpy(opt.template state<T>(p.name, key).data(), t.bytes.data(), t.bytes.size());
    }
  opt.set_steps(o.at("steps").get<std::size_t>());
  for (std::size_t g = 0; g < opt.num_groups(); ++g) {
    const auto& j = o.at("groups")[g];
    opt.set_group(g, {j.at("lr").get<double>(), j.at("initial_lr").get<double>(), j.at("weight_decay").get<double>(),
                      detail::json_double(j.at("momentum"))});
  }
  {
    std::size_t i = 0;
    (schedulers.load_state(sched_states[i++]), ...);
    (void)i;
  }
  // A scheduler's load sets the learning rates of its step; the saved ones
  // (which a plateau scheduler or a user may have changed) win.
  for (std::size_t g = 0; g < opt.num_groups(); ++g) {
    const auto& j = o.at("groups")[g];
    opt.set_lr(j.at("lr").get<double>(), g);
    opt.set_momentum(detail::json_double(j.at("momentum")), g);
  }
  trainer.set_random_state(random.get<std::array<std::uint64_t, 2>>());
  trainer.set_epochs_done(epoch);
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
