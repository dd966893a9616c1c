#pragma once
// The JSON half of safetensors.hpp: parsing and writing the header with
// nlohmann-json. Included by safetensors.hpp (header-only builds) or once
// by separate_compilation.hpp.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "ingot/io/safetensors.hpp"

namespace ingot::io {

// Parses a whole safetensors file held in memory; name is what errors call it.
INGOT_DECL safetensors_file parse_safetensors(std::span<const std::uint8_t> b, const std::string& name) {
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

// The header bytes (length and JSON, padded with spaces to a multiple of 8
// so the data is aligned) for tensors laid out one after the other.
INGOT_DECL std::vector<std::uint8_t> safetensors_header(const std::vector<tensor_ref>& tensors,
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

}  // namespace ingot::io
