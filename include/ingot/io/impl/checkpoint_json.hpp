#pragma once
// The JSON half of checkpoint.hpp: a checkpoint's metadata to and from the
// safetensors metadata strings. Included by checkpoint.hpp (header-only
// builds) or once by separate_compilation.hpp.
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "ingot/io/checkpoint.hpp"

namespace ingot::io {

namespace detail {
// NaN (a group without momentum, a scheduler state not set) is JSON null.
inline nlohmann::json json_number(double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); }
inline double json_double(const nlohmann::json& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}
}  // namespace detail

INGOT_DECL std::map<std::string, std::string> encode_checkpoint_meta(const checkpoint_meta& m) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : m.groups)
    groups.push_back({{"lr", g.lr},
                      {"initial_lr", g.initial_lr},
                      {"weight_decay", g.weight_decay},
                      {"momentum", detail::json_number(g.momentum)}});
  const nlohmann::json optimizer = {{"name", m.optimizer}, {"steps", m.steps}, {"keys", m.keys}, {"groups", groups}};
  nlohmann::json scheds = nlohmann::json::array();
  for (const auto& state : m.schedulers) {
    nlohmann::json one = nlohmann::json::array();
    for (double v : state) one.push_back(detail::json_number(v));
    scheds.push_back(std::move(one));
  }
  return {
      {"format", checkpoint_format},
      {"epoch", std::to_string(m.epoch)},
      {"random", nlohmann::json(m.random).dump()},
      {"optimizer", optimizer.dump()},
      {"schedulers", scheds.dump()},
  };
}

INGOT_DECL checkpoint_meta decode_checkpoint_meta(const safetensors_file& file) {
  const std::string& path = file.source;
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw format_error(path + ": not an ingot training checkpoint (no '" + key +
                         "' in its metadata; a weights-only file loads with io::load_state_dict)");
    return it->second;
  };
  detail::require_checkpoint_format(file);
  checkpoint_meta m;
  try {
    const nlohmann::json o = nlohmann::json::parse(meta("optimizer"));
    const nlohmann::json scheds = nlohmann::json::parse(meta("schedulers"));
    const nlohmann::json random = nlohmann::json::parse(meta("random"));
    m.epoch = std::stoull(meta("epoch"));
    m.optimizer = o.at("name").get<std::string>();
    m.keys = o.at("keys").get<std::vector<std::string>>();
    m.steps = o.at("steps").get<std::size_t>();
    for (const auto& g : o.at("groups"))
      m.groups.push_back({g.at("lr").get<double>(), g.at("initial_lr").get<double>(),
                          g.at("weight_decay").get<double>(), detail::json_double(g.at("momentum"))});
    if (!random.is_array() || random.size() != 2) throw format_error(path + ": malformed random state");
    m.random = random.get<std::array<std::uint64_t, 2>>();
    if (!scheds.is_array()) throw format_error(path + ": malformed scheduler states (not a JSON array)");
    for (const auto& s : scheds) {
      if (!s.is_array()) throw format_error(path + ": malformed scheduler state (not a JSON array)");
      std::vector<double> state;
      for (const auto& x : s) state.push_back(detail::json_double(x));
      m.schedulers.push_back(std::move(state));
    }
  } catch (const nlohmann::json::exception& e) {
    throw format_error(path + ": malformed checkpoint metadata (" + e.what() + ")");
  } catch (const std::logic_error& e) {
    throw format_error(path + ": malformed checkpoint metadata (" + e.what() + ")");
  }
  return m;
}

}  // namespace ingot::io
