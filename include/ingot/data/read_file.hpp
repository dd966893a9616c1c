#pragma once
// A whole file into memory with one read of its size (istreambuf_iterator
// reads a byte at a time: 0.8 s for a 188 MB array against 0.1 s).
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ingot/data/format_error.hpp"

namespace ingot::data {

template <class Bytes = std::vector<std::uint8_t>>
Bytes read_file(const std::string& path) {
  struct closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, closer> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw format_error(path + ": cannot open (" + std::strerror(errno) + ")");
  Bytes out;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    if (size > 0) out.reserve(static_cast<std::size_t>(size));
    std::rewind(f.get());
  }
  char chunk[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
    out.insert(out.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  if (std::ferror(f.get())) throw format_error(path + ": read error (" + std::strerror(errno) + ")");
  return out;
}

}  // namespace ingot::data
