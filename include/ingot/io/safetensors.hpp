#pragma once
// The safetensors format (what PyTorch's safetensors.torch.save_file and
// load_file use): an 8-byte little-endian header length N, N bytes of JSON
// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} (plus an optional "__metadata__" object of strings), then the raw
// little-endian tensor bytes, offsets counted from the end of the header.
//
// Reading validates the whole file before returning anything: the header
// size is bounded and fits the file, the JSON is well formed with no
// duplicate or unknown keys, every dtype is known, every byte range has the
// size its shape and dtype give, and the ranges tile the data exactly
// (contiguous, no overlap, no gap, nothing after the last one).
//
// Depends only on nlohmann-json (in impl/safetensors_json.hpp, the parser
// and writer of the header) and the standard library.
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/data/format_error.hpp"
#include "ingot/data/read_file.hpp"
#include "ingot/io/atomic_file.hpp"

namespace ingot::io {

using data::format_error;
static_assert(std::endian::native == std::endian::little,
              "ingot::io: safetensors data is little-endian; this reader copies it as is");

// The largest header accepted (the format's own limit is 100 MB).
inline constexpr std::uint64_t max_safetensors_header = 100u << 20;

// Bytes per element of a safetensors dtype, or 0 for an unknown name.
inline std::size_t dtype_size(std::string_view d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

struct tensor {
  std::string name;
  std::string dtype;                // "F32", "I64", ...
  std::vector<std::size_t> shape;   // empty for a scalar
  std::vector<std::uint8_t> bytes;  // little-endian, C order

  std::size_t count() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  // The values as T, converting between the float dtypes (and from any
  // integer dtype to an integer T).
  template <class T>
  std::vector<T> values() const {
    std::vector<T> out(count());
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (dtype == "F32") out[i] = static_cast<T>(load<float>(i));
      else if (dtype == "F64") out[i] = static_cast<T>(load<double>(i));
      else if (dtype == "I64") out[i] = static_cast<T>(load<std::int64_t>(i));
      else if (dtype == "I32") out[i] = static_cast<T>(load<std::int32_t>(i));
      else if (dtype == "U8") out[i] = static_cast<T>(bytes[i]);
      else throw format_error("ingot: tensor '" + name + "' has dtype " + dtype + ", which ingot does not read");
    }
    return out;
  }

 private:
  template <class V>
  V load(std::size_t i) const {
    V v;
    std::memcpy(&v, bytes.data() + i * sizeof(V), sizeof(V));
    return v;
  }
};

inline std::string shape_string(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

struct safetensors_file {
  std::vector<tensor> tensors;  // in the order of their data
  std::map<std::string, std::string> metadata;
  std::string source;

  const tensor* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  const tensor& at(std::string_view name) const {
    if (const tensor* t = find(name)) return *t;
    throw format_error(source + ": no tensor named '" + std::string(name) + "'");
  }
};

// A tensor to write: its bytes are borrowed.
struct tensor_ref {
  std::string name;
  std::string dtype;
  std::vector<std::size_t> shape;
  std::span<const std::uint8_t> bytes;
};
template <class T>
std::span<const std::uint8_t> as_bytes(std::span<const T> v) {
  return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * sizeof(T)};
}
template <class T>
constexpr const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "F32";
  else if constexpr (std::is_same_v<T, double>) return "F64";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "I64";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "I32";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "U8";
  else static_assert(sizeof(T) == 0, "ingot::io: safetensors tensors of float, double, int64, int32 or uint8");
}

// Parses a whole safetensors file held in memory; name is what errors call it.
INGOT_DECL safetensors_file parse_safetensors(std::span<const std::uint8_t> b, const std::string& name);

inline safetensors_file load_safetensors(const std::string& path) {
  return parse_safetensors(data::read_file(path), path);
}

// The header bytes (length and JSON, padded with spaces to a multiple of 8
// so the data is aligned) for tensors laid out one after the other.
INGOT_DECL std::vector<std::uint8_t> safetensors_header(const std::vector<tensor_ref>& tensors,
                                                        const std::map<std::string, std::string>& metadata);

// Writes a safetensors file atomically (see atomic_file.hpp).
inline void save_safetensors(const std::string& path, const std::vector<tensor_ref>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  const std::vector<std::uint8_t> head = safetensors_header(tensors, metadata);
  std::vector<std::span<const std::uint8_t>> pieces = {head};
  for (const auto& t : tensors) pieces.push_back(t.bytes);
  atomic_write(path, pieces);
}

}  // namespace ingot::io

#ifndef INGOT_SEPARATE_COMPILATION
#include "ingot/io/impl/safetensors_json.hpp"
#endif
