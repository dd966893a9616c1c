#pragma once
// NumPy's .npy format (versions 1.0, 2.0 and 3.0), read and written:
// float32, float64, int32, int64 and uint8, little-endian, C order. Fortran
// order, big-endian data, object and structured arrays are refused with a
// message that says how to convert them in NumPy.
//
// The header (a Python dict literal) is parsed by a small strict parser:
// exactly the keys descr, fortran_order and shape; a shape whose element
// count and byte size are overflow-checked; a payload of exactly that size.
#include <cstdint>
#include <cstring>
#include <cctype>
#include <iterator>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ingot/data/dataset.hpp"
#include "ingot/data/format_error.hpp"
#include "ingot/data/read_file.hpp"
#include "ingot/io/atomic_file.hpp"

namespace ingot::data {

enum class npy_dtype { float32, float64, int32, int64, uint8 };

inline std::size_t item_size(npy_dtype t) {
  switch (t) {
    case npy_dtype::float32: case npy_dtype::int32: return 4;
    case npy_dtype::float64: case npy_dtype::int64: return 8;
    case npy_dtype::uint8: return 1;
  }
  return 0;
}
inline const char* npy_descr(npy_dtype t) {
  switch (t) {
    case npy_dtype::float32: return "<f4";
    case npy_dtype::float64: return "<f8";
    case npy_dtype::int32: return "<i4";
    case npy_dtype::int64: return "<i8";
    case npy_dtype::uint8: return "|u1";
  }
  return "";
}
template <class T>
constexpr npy_dtype npy_dtype_of() {
  if constexpr (std::is_same_v<T, float>) return npy_dtype::float32;
  else if constexpr (std::is_same_v<T, double>) return npy_dtype::float64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return npy_dtype::int32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return npy_dtype::int64;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return npy_dtype::uint8;
  else static_assert(sizeof(T) == 0, "ingot::data: .npy arrays hold float, double, int32_t, int64_t or uint8_t");
}

// The largest header accepted (NumPy writes a few hundred bytes).
inline constexpr std::size_t max_npy_header = 1 << 16;

struct npy_array {
  npy_dtype dtype = npy_dtype::float32;
  std::vector<std::size_t> shape;  // empty for a scalar
  std::vector<std::uint8_t> bytes;  // little-endian, C order
  std::string source;

  std::size_t count() const { return bytes.size() / item_size(dtype); }

  // The values as T. Floats convert to any type only when T is floating;
  // integer targets need an integer array whose values fit.
  template <class T>
  std::vector<T> values() const {
    const bool float_source = dtype == npy_dtype::float32 || dtype == npy_dtype::float64;
    if (std::is_integral_v<T> && float_source)
      throw format_error(source + ": holds " + npy_descr(dtype) + " values; integers (labels) are needed here");
    std::vector<T> out(count());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::uint8_t* p = bytes.data() + i * item_size(dtype);
      switch (dtype) {
        case npy_dtype::float32: { float v; std::memcpy(&v, p, 4); out[i] = static_cast<T>(v); break; }
        case npy_dtype::float64: { double v; std::memcpy(&v, p, 8); out[i] = static_cast<T>(v); break; }
        case npy_dtype::int32: { std::int32_t v; std::memcpy(&v, p, 4); out[i] = checked<T>(v, i); break; }
        case npy_dtype::int64: { std::int64_t v; std::memcpy(&v, p, 8); out[i] = checked<T>(v, i); break; }
        case npy_dtype::uint8: out[i] = static_cast<T>(*p); break;
      }
    }
    return out;
  }

 private:
  template <class T, class V>
  T checked(V v, std::size_t i) const {
    if constexpr (std::is_integral_v<T>) {
      if (v < static_cast<V>(std::numeric_limits<T>::min()) ||
          (sizeof(V) > sizeof(T) && v > static_cast<V>(std::numeric_limits<T>::max())))
        throw format_error(source + ": value " + std::to_string(v) + " of element " + std::to_string(i) +
                           " does not fit the target type");
    }
    return static_cast<T>(v);
  }
};

namespace detail {

// A strict reader of the header's dict literal.
class npy_header_parser {
 public:
  npy_header_parser(std::string_view text, const std::string& name) : t_(text), name_(name) {}

  void parse(npy_array& out) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        skip();
        if (peek() == '[') fail("structured arrays (a list descr) are not supported");
        out.dtype = dtype_of(string_literal());
        have_descr = true;
      } else if (key == "fortran_order") {
        if (word() != "False")
          fail("Fortran-order arrays are not supported (save np.ascontiguousarray(a) instead)");
        have_order = true;
      } else if (key == "shape") {
        out.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skip();
      if (peek() == ',') ++i_;
    }
    ++i_;
    skip();
    if (i_ != t_.size()) fail("unexpected text after the header's dict");
    if (!have_descr || !have_order || !have_shape) fail("the header lacks one of descr, fortran_order, shape");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(name_ + ": .npy header, byte " + std::to_string(10 + i_) + ": " + what);
  }
  void skip() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r')) ++i_;
  }
  char peek() const { return i_ < t_.size() ? t_[i_] : '\0'; }
  void expect(char c) {
    skip();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string_literal() {
    skip();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const std::size_t start = ++i_;
    while (i_ < t_.size() && t_[i_] != q) ++i_;
    if (i_ >= t_.size()) fail("unclosed string");
    return std::string(t_.substr(start, i_++ - start));
  }
  std::string word() {
    skip();
    const std::size_t start = i_;
    while (i_ < t_.size() && std::isalpha(static_cast<unsigned char>(t_[i_]))) ++i_;
    return std::string(t_.substr(start, i_ - start));
  }
  std::vector<std::size_t> tuple() {
    expect('(');
    std::vector<std::size_t> dims;
    for (;;) {
      skip();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension (a non-negative integer)");
      std::uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const std::uint64_t digit = static_cast<std::uint64_t>(t_[i_++] - '0');
        if (v > (UINT64_MAX - digit) / 10) fail("a dimension overflows 64 bits");
        v = v * 10 + digit;
      }
      dims.push_back(static_cast<std::size_t>(v));
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in the shape");
      if (dims.size() > 32) fail("more than 32 dimensions");
    }
    ++i_;
    return dims;
  }
  npy_dtype dtype_of(const std::string& d) {
    if (d.size() >= 2 && d[0] == '>' && d.substr(1) != "u1" && d.substr(1) != "i1")
      fail("big-endian dtype '" + d + "' is not supported (save a.astype(a.dtype.newbyteorder('<')) instead)");
    if (d == "|O" || d == "O" || d == "<O" || d == ">O") fail("object arrays are not supported");
    const std::string body = (d.size() >= 2 && (d[0] == '<' || d[0] == '|' || d[0] == '=')) ? d.substr(1) : d;
    if (body == "f4") return npy_dtype::float32;
    if (body == "f8") return npy_dtype::float64;
    if (body == "i4") return npy_dtype::int32;
    if (body == "i8") return npy_dtype::int64;
    if (body == "u1") return npy_dtype::uint8;
    fail("dtype '" + d + "' is not supported (ingot reads float32, float64, int32, int64 and uint8)");
  }

  std::string_view t_;
  const std::string& name_;
  std::size_t i_ = 0;
};

}  // namespace detail

// Parses a whole .npy file held in memory; name is what errors call it.
inline npy_array parse_npy(std::span<const std::uint8_t> b, const std::string& name) {
  static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), magic, 6) != 0)
    throw format_error(name + ": not a .npy file (the first 6 bytes are not \\x93NUMPY)");
  const unsigned major = b[6];
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = b[8] | (std::size_t{b[9]} << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw format_error(name + ": truncated .npy header");
    header_len = b[8] | (std::size_t{b[9]} << 8) | (std::size_t{b[10]} << 16) | (std::size_t{b[11]} << 24);
    start = 12;
  } else {
    throw format_error(name + ": .npy format version " + std::to_string(major) + "." + std::to_string(b[7]) +
                       " at byte 6 (ingot reads 1.0 to 3.0)");
  }
  if (header_len > max_npy_header)
    throw format_error(name + ": .npy header of " + std::to_string(header_len) + " bytes is larger than " +
                       std::to_string(max_npy_header));
  if (b.size() - start < header_len)
    throw format_error(name + ": truncated .npy header (" + std::to_string(b.size() - start) + " of " +
                       std::to_string(header_len) + " bytes)");
  npy_array out;
  out.source = name;
  const std::string_view text(reinterpret_cast<const char*>(b.data() + start), header_len);
  detail::npy_header_parser(text, name).parse(out);
  std::size_t count = 1;
  for (std::size_t d : out.shape)
    if (__builtin_mul_overflow(count, d, &count))
      throw format_error(name + ": the .npy shape's element count overflows");
  std::size_t payload = 0;
  if (__builtin_mul_overflow(count, item_size(out.dtype), &payload))
    throw format_error(name + ": the .npy shape's byte size overflows");
  const std::size_t data_at = start + header_len, have = b.size() - data_at;
  if (have < payload)
    throw format_error(name + ": truncated .npy data: the shape needs " + std::to_string(payload) + " bytes after byte " +
                       std::to_string(data_at) + ", the file has " + std::to_string(have));
  if (have > payload)
    throw format_error(name + ": " + std::to_string(have - payload) + " bytes after the .npy data (which ends at byte " +
                       std::to_string(data_at + payload) + ")");
  out.bytes.assign(b.begin() + static_cast<std::ptrdiff_t>(data_at), b.end());
  return out;
}

inline npy_array read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

// The bytes of a .npy file (version 1.0 when the header fits, else 2.0).
template <class T>
std::vector<std::uint8_t> npy_bytes(std::span<const T> values, const std::vector<std::size_t>& shape) {
  std::size_t count = 1;
  for (std::size_t d : shape) count *= d;
  if (count != values.size())
    throw std::invalid_argument("ingot::data::write_npy: " + std::to_string(values.size()) +
                                " values for a shape of " + std::to_string(count));
  std::string dict = std::string("{'descr': '") + npy_descr(npy_dtype_of<T>()) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
  dict += "), }";
  // Pad with spaces and end with a newline so the data starts on a 64-byte boundary.
  const bool v2 = dict.size() + 11 > 65535;
  const std::size_t prefix = v2 ? 12 : 10;
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(v2 ? 2 : 1), 0};
  const std::size_t len = dict.size();
  out.push_back(static_cast<std::uint8_t>(len));
  out.push_back(static_cast<std::uint8_t>(len >> 8));
  if (v2) {
    out.push_back(static_cast<std::uint8_t>(len >> 16));
    out.push_back(static_cast<std::uint8_t>(len >> 24));
  }
  out.insert(out.end(), dict.begin(), dict.end());
  const auto* p = reinterpret_cast<const std::uint8_t*>(values.data());
  out.insert(out.end(), p, p + values.size() * sizeof(T));
  return out;
}

// Writes values (C order, of the given shape) atomically.
template <class T>
void write_npy(const std::string& path, std::span<const T> values, const std::vector<std::size_t>& shape) {
  const std::vector<std::uint8_t> bytes = npy_bytes(values, shape);
  io::atomic_write(path, {std::span<const std::uint8_t>(bytes)});
}

// A Dataset from two arrays: features (n, ...) flattened per row, and
// targets (n,) or (n, k) floats, or (n,) integer class labels.
template <class Target = float>
Dataset<Target> npy_dataset(const npy_array& x, const npy_array& y) {
  if (x.shape.empty() || x.shape[0] == 0) throw format_error(x.source + ": features need a shape (n, ...) with n > 0");
  const std::size_t n = x.shape[0];
  if (y.shape.empty() || y.shape[0] != n)
    throw format_error(y.source + ": " + (y.shape.empty() ? std::string("a scalar") : std::to_string(y.shape[0]) + " rows") +
                       " of targets for the " + std::to_string(n) + " rows of " + x.source);
  if (std::is_integral_v<Target> && y.shape.size() != 1)
    throw format_error(y.source + ": class labels need a shape (n,), found " + std::to_string(y.shape.size()) +
                       " dimensions");
  if (y.shape.size() > 2) throw format_error(y.source + ": targets need a shape (n,) or (n, k)");
  const std::size_t features = x.count() / n, target_cols = y.shape.size() == 2 ? y.shape[1] : 1;
  if (features == 0 || target_cols == 0) throw format_error(x.source + ": zero features or targets per row");
  Dataset<Target> ds(n, features, target_cols, x.values<float>(), y.values<Target>(), x.source);
  return ds;
}
template <class Target = float>
Dataset<Target> read_npy_dataset(const std::string& x_path, const std::string& y_path) {
  return npy_dataset<Target>(read_npy(x_path), read_npy(y_path));
}

}  // namespace ingot::data
