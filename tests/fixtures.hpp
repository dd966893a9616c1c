#pragma once
// Reads the PyTorch reference values written by tools/make_fixtures.py.
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace fixtures {

inline nlohmann::json load(const std::string& name) {
  const std::string path = std::string(INGOT_FIXTURES) + "/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path + " (regenerate with tools/make_fixtures.py)");
  return nlohmann::json::parse(in);
}

template <class T = float>
std::vector<T> values(const nlohmann::json& j) {
  std::vector<T> out;
  for (const auto& v : j) out.push_back(v.get<T>());
  return out;
}

}  // namespace fixtures
