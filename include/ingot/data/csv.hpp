#pragma once
// CSV files into a Dataset: a header row (or none), a delimiter, target
// columns by name or index, numbers parsed with std::from_chars, CRLF line
// ends, quoted fields (RFC 4180: "" is a quote inside quotes, and a quoted
// field may span lines), a UTF-8 byte-order mark, blank lines skipped.
//
// Every bad cell is a data::format_error "file:line:column: ..." naming the
// offending text: a ragged row, a cell that is not a number, NaN or Inf
// where they are not allowed, an empty cell, an unclosed quote. An empty
// file and a file with a header and no rows are refused too.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "ingot/data/dataset.hpp"
#include "ingot/data/format_error.hpp"
#include "ingot/data/read_file.hpp"

namespace ingot::data {

struct csv_options {
  char delimiter = ',';
  bool header = true;
  // The target columns, by header name or by 0-based index (one of the two;
  // neither: the last column). Every other column is a feature.
  std::vector<std::string> target_names = {};
  std::vector<std::size_t> target_indices = {};
  bool allow_nonfinite = false;  // accept nan / inf cells
};

namespace detail {

// A cell's text is a view into the file's text, except for a quoted field,
// whose unescaped text it owns.
struct csv_cell {
  std::string_view raw;
  std::string unquoted;
  bool quoted = false;
  std::size_t line = 0, column = 0;  // 1-based, where the cell starts
  std::string_view text() const { return quoted ? std::string_view(unquoted) : raw; }
};

// Splits text into rows of cells, tracking where each cell starts.
class csv_lexer {
 public:
  csv_lexer(std::string_view text, std::string name, char delimiter)
      : s_(text), name_(std::move(name)), d_(delimiter) {
    if (s_.size() >= 3 && s_.substr(0, 3) == "\xEF\xBB\xBF") s_.remove_prefix(3);
  }

  // The next non-blank row, or false at the end of the text.
  bool next_row(std::vector<csv_cell>& row) {
    row.clear();
    while (i_ < s_.size() && at_line_end()) skip_line_end();  // blank lines
    if (i_ >= s_.size()) return false;
    row_line_ = line_;
    for (;;) {
      row.push_back(cell());
      if (i_ >= s_.size()) return true;
      if (at_line_end()) {
        skip_line_end();
        return true;
      }
      ++i_;  // the delimiter
      ++col_;
    }
  }
  std::size_t row_line() const { return row_line_; }
  const std::string& name() const { return name_; }

 private:
  bool at_line_end() const { return s_[i_] == '\n' || (s_[i_] == '\r' && (i_ + 1 == s_.size() || s_[i_ + 1] == '\n')); }
  void skip_line_end() {
    if (s_[i_] == '\r') ++i_;
    if (i_ < s_.size() && s_[i_] == '\n') ++i_;
    ++line_;
    col_ = 1;
  }
  csv_cell cell() {
    csv_cell c{{}, {}, false, line_, col_};
    if (i_ < s_.size() && s_[i_] == '"') {
      c.quoted = true;
      ++i_;
      ++col_;
      for (;;) {
        if (i_ >= s_.size())
          throw format_error(name_ + ":" + std::to_string(c.line) + ":" + std::to_string(c.column) +
                             ": the quoted field is not closed before the end of the file");
        const char ch = s_[i_];
        if (ch == '"') {
          if (i_ + 1 < s_.size() && s_[i_ + 1] == '"') {
            c.unquoted += '"';
            i_ += 2;
            col_ += 2;
            continue;
          }
          ++i_;
          ++col_;
          break;
        }
        c.unquoted += ch;
        ++i_;
        if (ch == '\n') {
          ++line_;
          col_ = 1;
        } else {
          ++col_;
        }
      }
      if (i_ < s_.size() && s_[i_] != d_ && !at_line_end())
        throw format_error(name_ + ":" + std::to_string(line_) + ":" + std::to_string(col_) + ": '" +
                           std::string(1, s_[i_]) + "' after the closing quote of the field at column " +
                           std::to_string(c.column) + " (expected the delimiter or the end of the line)");
      return c;
    }
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != d_ && s_[i_] != '\n' && !(s_[i_] == '\r' && at_line_end())) ++i_;
    c.raw = s_.substr(start, i_ - start);
    col_ += i_ - start;
    return c;
  }

  std::string_view s_;
  std::string name_;
  char d_;
  std::size_t i_ = 0, line_ = 1, col_ = 1, row_line_ = 1;
};

inline std::string_view trim(std::string_view t, char delimiter) {
  auto blank = [&](char c) { return c == ' ' || (c == '\t' && delimiter != '\t'); };
  while (!t.empty() && blank(t.front())) t.remove_prefix(1);
  while (!t.empty() && blank(t.back())) t.remove_suffix(1);
  return t;
}

inline std::string where(const std::string& name, const csv_cell& c) {
  return name + ":" + std::to_string(c.line) + ":" + std::to_string(c.column);
}

// Short enough to quote in a message.
inline std::string quoted(std::string_view t) {
  std::string s(t.substr(0, 40));
  if (t.size() > 40) s += "...";
  return "'" + s + "'";
}

template <class V>
V parse_cell(const std::string& name, const csv_cell& c, const std::string& column, char delimiter,
             bool allow_nonfinite) {
  std::string_view t = trim(c.text(), delimiter);
  // Built only for a message: this runs once per cell.
  auto place = [&] { return where(name, c) + ": column " + column + ": "; };
  if (t.empty()) throw format_error(place() + "empty cell");
  std::string_view digits = t;
  if (digits.front() == '+') digits.remove_prefix(1);
  if constexpr (std::is_floating_point_v<V>) {
    V v{};
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range)
      throw format_error(place() + quoted(t) + " is out of range for a " + (sizeof(V) == 4 ? "float" : "double"));
    if (ec != std::errc() || end != digits.data() + digits.size())
      throw format_error(place() + quoted(t) + " is not a number");
    if (!allow_nonfinite && !std::isfinite(v))
      throw format_error(place() + quoted(t) + " is not finite (csv_options::allow_nonfinite accepts it)");
    return v;
  } else {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || v < std::numeric_limits<V>::min() ||
        v > std::numeric_limits<V>::max())
      throw format_error(place() + quoted(t) + " is not an integer class label");
    return static_cast<V>(v);
  }
}

}  // namespace detail

// Parses CSV text; name is what error messages call it.
template <class Target = float>
Dataset<Target> parse_csv(std::string_view text, const std::string& name, const csv_options& opt = {}) {
  static_assert(std::is_same_v<Target, float> || std::is_same_v<Target, std::int32_t>,
                "ingot::data::parse_csv: targets are float (regression) or std::int32_t (class labels)");
  if (opt.delimiter == '"' || opt.delimiter == '\n' || opt.delimiter == '\r')
    throw std::invalid_argument("ingot::data::csv_options: the delimiter cannot be a quote or a line end");
  if (!opt.target_names.empty() && !opt.target_indices.empty())
    throw std::invalid_argument("ingot::data::csv_options: give target columns by name or by index, not both");
  if (opt.target_names.size() > 0 && !opt.header)
    throw std::invalid_argument(name + ": target columns by name need a header row");
  detail::csv_lexer lex(text, name, opt.delimiter);
  std::vector<detail::csv_cell> row;
  if (!lex.next_row(row)) throw format_error(name + ": empty file (no " + (opt.header ? "header" : "rows") + ")");

  std::vector<std::string> columns;
  const std::size_t width = row.size();
  for (std::size_t j = 0; j < width; ++j)
    columns.push_back(opt.header ? std::string("'").append(detail::trim(row[j].text(), opt.delimiter)).append("'")
                                 : std::to_string(j + 1));

  std::vector<bool> is_target(width, false);
  std::vector<std::size_t> target_order;  // as the options list them
  auto take = [&](std::size_t j) {
    if (is_target[j]) throw std::invalid_argument(name + ": target column " + columns[j] + " is named twice");
    is_target[j] = true;
    target_order.push_back(j);
  };
  if (!opt.target_names.empty()) {
    for (const auto& want : opt.target_names) {
      std::size_t found = width;
      for (std::size_t j = 0; j < width; ++j)
        if (detail::trim(row[j].text(), opt.delimiter) == want) found = j;
      if (found == width) {
        std::string all;
        for (const auto& c : columns) all += (all.empty() ? "" : ", ") + c;
        throw format_error(name + ":1: no column named '" + want + "' (columns: " + all + ")");
      }
      take(found);
    }
  } else if (!opt.target_indices.empty()) {
    for (std::size_t j : opt.target_indices) {
      if (j >= width)
        throw format_error(name + ":" + std::to_string(lex.row_line()) + ": target column index " + std::to_string(j) +
                           " is past the " + std::to_string(width) + " columns");
      take(j);
    }
  } else {
    take(width - 1);
  }
  const std::size_t targets = target_order.size();
  if (std::is_integral_v<Target> && targets != 1)
    throw std::invalid_argument(name + ": class labels come from exactly one column");
  if (targets == width) throw format_error(name + ": every column is a target; no feature is left");
  const std::size_t features = width - targets;

  std::vector<float> x;
  std::vector<Target> y;
  std::size_t rows = 0;
  bool have = !opt.header;  // without a header the first row is data
  while (have || lex.next_row(row)) {
    have = false;
    if (row.size() != width)
      throw format_error(name + ":" + std::to_string(lex.row_line()) + ": " + std::to_string(row.size()) +
                         " fields, expected " + std::to_string(width) +
                         (opt.header ? " (as the header has)" : " (as the first row has)"));
    for (std::size_t j = 0; j < width; ++j) {
      if (is_target[j]) continue;
      x.push_back(detail::parse_cell<float>(name, row[j], columns[j], opt.delimiter, opt.allow_nonfinite));
    }
    for (std::size_t j : target_order)
      y.push_back(detail::parse_cell<Target>(name, row[j], columns[j], opt.delimiter, false));
    ++rows;
  }
  if (rows == 0) throw format_error(name + ": a header row and no data rows");
  Dataset<Target> ds;
  ds.rows = rows;
  ds.features = features;
  ds.target_cols = std::is_integral_v<Target> ? 1 : targets;
  ds.x = std::move(x);
  ds.y = std::move(y);
  ds.source = name;
  if (!opt.allow_nonfinite) ds.validate();
  return ds;
}

// Reads and parses a CSV file.
template <class Target = float>
Dataset<Target> read_csv(const std::string& path, const csv_options& opt = {}) {
  return parse_csv<Target>(read_file<std::string>(path), path, opt);
}

}  // namespace ingot::data
