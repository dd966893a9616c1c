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
// Depends only on nlohmann-json and the standard library.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <vector>

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
inline safetensors_file parse_safetensors(std::span<const std::uint8_t> b, const std::string& name) {
  using nlohmann::json;
  if (b.size() < 8)
    throw format_error(name + ": " + std::to_string(b.size()) + " bytes, too short for a safetensors header size");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<std::size_t>(i)];
  if (n > max_safetensors_header)
    throw format_error(name + ": header size " + std::to_string(n) + " (bytes 0-7) is larger than the limit of " +
                       std::to_string(max_safetensors_header));
  if (n > b.size() - 8)
    throw format_error(name + ": header size " + std::to_string(n) + " (bytes 0-7) runs past the end of the " +
                       std::to_string(b.size()) + "-byte file");
  const char* text = reinterpret_cast<const char*>(b.data() + 8);
  if (n == 0 || text[0] != '{') throw format_error(name + ": the header (byte 8) does not start with '{'");

  // Duplicate top-level names would silently shadow each other.
  std::set<std::string> seen;
  std::string duplicate;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text, text + n, check);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number like 1e999
    throw format_error(name + ": the JSON header (bytes 8-" + std::to_string(8 + n - 1) + ") is not valid JSON: " +
                       e.what());
  }
  if (!duplicate.empty()) throw format_error(name + ": the header names tensor '" + duplicate + "' twice");
  if (!header.is_object()) throw format_error(name + ": the header is not a JSON object");

  safetensors_file out;
  out.source = name;
  struct range {
    std::uint64_t begin, end;
    std::size_t index;
  };
  std::vector<range> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) throw format_error(name + ": __metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw format_error(name + ": __metadata__ entry '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = name + ": tensor '" + key + "'";
    if (!v.is_object() || v.size() != 3 || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw format_error(where + ": expected exactly dtype, shape and data_offsets");
    tensor t;
    t.name = key;
    if (!v["dtype"].is_string()) throw format_error(where + ": dtype is not a string");
    t.dtype = v["dtype"].get<std::string>();
    const std::size_t item = dtype_size(t.dtype);
    if (item == 0) throw format_error(where + ": unknown dtype '" + t.dtype + "'");
    if (!v["shape"].is_array()) throw format_error(where + ": shape is not an array");
    std::uint64_t count = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw format_error(where + ": shape " + v["shape"].dump() + " holds a non-integer");
      const std::uint64_t dim = d.get<std::uint64_t>();
      if (__builtin_mul_overflow(count, dim, &count))
        throw format_error(where + ": shape " + v["shape"].dump() + " overflows");
      t.shape.push_back(static_cast<std::size_t>(dim));
    }
    std::uint64_t size = 0;
    if (__builtin_mul_overflow(count, std::uint64_t{item}, &size))
      throw format_error(where + ": shape " + v["shape"].dump() + " overflows");
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw format_error(where + ": data_offsets is not a pair of byte offsets");
    const std::uint64_t begin = off[0].get<std::uint64_t>(), end = off[1].get<std::uint64_t>();
    if (end < begin || end - begin != size)
      throw format_error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] hold " +
                         (end < begin ? std::string("a negative range") : std::to_string(end - begin) + " bytes") +
                         "; dtype " + t.dtype + " and shape " + v["shape"].dump() + " need " + std::to_string(size));
    ranges.push_back({begin, end, out.tensors.size()});
    out.tensors.push_back(std::move(t));
  }
  // The ranges, in order, must tile the data from 0 to its end.
  std::sort(ranges.begin(), ranges.end(), [](const range& a, const range& c) {
    return a.begin != c.begin ? a.begin < c.begin : a.end < c.end;
  });
  const std::uint64_t data_size = b.size() - 8 - n;
  std::uint64_t at = 0;
  for (const range& r : ranges) {
    const std::string& tname = out.tensors[r.index].name;
    if (r.begin < at)
      throw format_error(name + ": tensor '" + tname + "' (bytes " + std::to_string(r.begin) + "-" +
                         std::to_string(r.end) + " of the data) overlaps the tensor before it");
    if (r.begin > at)
      throw format_error(name + ": a gap in the data before tensor '" + tname + "' (bytes " + std::to_string(at) +
                         "-" + std::to_string(r.begin) + ")");
    if (r.end > data_size)
      throw format_error(name + ": tensor '" + tname + "' ends at data byte " + std::to_string(r.end) +
                         ", past the end of the file (" + std::to_string(data_size) + " data bytes)");
    at = r.end;
  }
  if (at != data_size)
    throw format_error(name + ": " + std::to_string(data_size - at) + " bytes after the last tensor's data");
  const std::uint8_t* data = b.data() + 8 + n;
  std::vector<tensor> ordered;
  ordered.reserve(ranges.size());
  for (const range& r : ranges) {
    tensor& t = out.tensors[r.index];
    t.bytes.assign(data + r.begin, data + r.end);
    ordered.push_back(std::move(t));
  }
  out.tensors = std::move(ordered);
  return out;
}

inline safetensors_file load_safetensors(const std::string& path) {
  return parse_safetensors(data::read_file(path), path);
}

// The header bytes (length and JSON, padded with spaces to a multiple of 8
// so the data is aligned) for tensors laid out one after the other.
inline std::vector<std::uint8_t> safetensors_header(const std::vector<tensor_ref>& tensors,
                                                    const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::uint64_t at = 0;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (!names.insert(t.name).second) throw std::invalid_argument("ingot::io: two tensors named '" + t.name + "'");
    std::size_t count = 1;
    for (auto d : t.shape) count *= d;
    if (dtype_size(t.dtype) == 0 || count * dtype_size(t.dtype) != t.bytes.size())
      throw std::invalid_argument("ingot::io: tensor '" + t.name + "': " + std::to_string(t.bytes.size()) +
                                  " bytes for dtype " + t.dtype + " and shape " + shape_string(t.shape));
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + t.bytes.size()}}};
    at += t.bytes.size();
  }
  std::string text = h.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t n = text.size();
  std::vector<std::uint8_t> out(8 + text.size());
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  return out;
}

// Writes a safetensors file atomically (see atomic_file.hpp).
inline void save_safetensors(const std::string& path, const std::vector<tensor_ref>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  const std::vector<std::uint8_t> head = safetensors_header(tensors, metadata);
  std::vector<std::span<const std::uint8_t>> pieces = {head};
  for (const auto& t : tensors) pieces.push_back(t.bytes);
  atomic_write(path, pieces);
}

}  // namespace ingot::io
