#pragma once
// Reads a file, or a buffer in memory, as a stream of bytes, inflating it
// with zlib when it starts with gzip's magic (1f 8b) and passing it through
// otherwise. Callers pull exactly the bytes they need, so a reader can check
// a header before it reads the payload, and stop as soon as the data
// exceeds what the header promised: a small file that would inflate to
// gigabytes is never inflated further than the promise.
//
// Errors (data::format_error) name the source and the decompressed offset:
// corrupt data, a stream cut short, bytes after the last gzip member.
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "ingot/core/config.hpp"
#include "ingot/data/format_error.hpp"

namespace ingot::data {

class gzip_reader {
 public:
  // Opens path; a missing or unreadable file throws format_error with the
  // system's reason.
  explicit gzip_reader(std::string path);
  // Reads bytes held in memory (they must outlive the reader); name is
  // what error messages call them.
  gzip_reader(std::span<const std::uint8_t> bytes, std::string name);
  gzip_reader(const gzip_reader&) = delete;
  gzip_reader& operator=(const gzip_reader&) = delete;
  ~gzip_reader();

  const std::string& name() const { return name_; }
  bool compressed() const { return gzip_; }
  // Bytes delivered so far (decompressed).
  std::uint64_t position() const { return delivered_; }

  // Up to n bytes into dst; fewer only at the end of the data.
  std::size_t read(std::uint8_t* dst, std::size_t n);

  // True when no byte is left (reads one byte ahead if it must).
  bool at_end();

 private:
  struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  // Sniffs the magic and sets up inflation when it is gzip's.
  void begin();
  void start_member();

  // Refills the input window when it is empty; false at the end of input.
  bool fill();

  std::size_t raw_some(std::uint8_t* dst, std::size_t n);

  std::size_t take_pending(std::uint8_t* dst, std::size_t n) {
    if (!has_pending_ || n == 0) return 0;
    dst[0] = pending_;
    has_pending_ = false;
    return 1;
  }

  std::size_t inflate_some(std::uint8_t* dst, std::size_t n);

  static constexpr std::size_t buffer_size = 1 << 16;
  std::string name_;
  std::unique_ptr<std::FILE, file_closer> file_;
  std::unique_ptr<std::uint8_t[]> buffer_{new std::uint8_t[buffer_size]};
  std::span<const std::uint8_t> memory_;
  bool memory_mode_ = false, memory_used_ = false;
  const std::uint8_t* in_ = nullptr;
  std::size_t avail_ = 0;
  z_stream zs_{};
  bool gzip_ = false, inflating_ = false, member_done_ = false;
  std::uint8_t pending_ = 0;
  bool has_pending_ = false;
  std::uint64_t delivered_ = 0;
};

#if INGOT_DEFINE_BODIES
INGOT_DECL gzip_reader::gzip_reader(std::string path) : name_(std::move(path)) {
  file_.reset(std::fopen(name_.c_str(), "rb"));
  if (!file_) throw format_error(name_ + ": cannot open (" + std::strerror(errno) + ")");
  begin();
}

INGOT_DECL gzip_reader::gzip_reader(std::span<const std::uint8_t> bytes, std::string name)
    : name_(std::move(name)), memory_(bytes), memory_mode_(true) {
  begin();
}

INGOT_DECL gzip_reader::~gzip_reader() {
  if (inflating_) inflateEnd(&zs_);
}

INGOT_DECL std::size_t gzip_reader::read(std::uint8_t* dst, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t k = gzip_ ? inflate_some(dst + got, n - got) : raw_some(dst + got, n - got);
    if (k == 0) break;
    got += k;
  }
  delivered_ += got;
  return got;
}

INGOT_DECL bool gzip_reader::at_end() {
  std::uint8_t b;
  if (read(&b, 1) == 0) return true;
  --delivered_;
  pending_ = b;
  has_pending_ = true;
  return false;
}

INGOT_DECL void gzip_reader::begin() {
  fill();
  gzip_ = avail_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
  if (gzip_) start_member();
}

INGOT_DECL void gzip_reader::start_member() {
  if (!inflating_) {
    std::memset(&zs_, 0, sizeof zs_);
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) throw format_error(name_ + ": zlib could not start");
    inflating_ = true;
  } else {
    inflateReset(&zs_);
  }
  member_done_ = false;
}

INGOT_DECL bool gzip_reader::fill() {
  if (avail_ > 0) return true;
  if (memory_mode_) {
    if (memory_used_ || memory_.empty()) return false;
    in_ = memory_.data();
    avail_ = memory_.size();
    memory_used_ = true;
    return true;
  }
  const std::size_t n = std::fread(buffer_.get(), 1, buffer_size, file_.get());
  if (n == 0 && std::ferror(file_.get()))
    throw format_error(name_ + ": read error (" + std::strerror(errno) + ")");
  in_ = buffer_.get();
  avail_ = n;
  return n > 0;
}

INGOT_DECL std::size_t gzip_reader::raw_some(std::uint8_t* dst, std::size_t n) {
  std::size_t got = take_pending(dst, n);
  if (got == n || !fill()) return got;
  const std::size_t k = std::min(n - got, avail_);
  std::memcpy(dst + got, in_, k);
  in_ += k;
  avail_ -= k;
  return got + k;
}

INGOT_DECL std::size_t gzip_reader::inflate_some(std::uint8_t* dst, std::size_t n) {
  std::size_t got = take_pending(dst, n);
  while (got < n) {
    if (member_done_) {
      // Another gzip member may follow (gzip allows concatenation);
      // anything else after the stream is damage. When only the first
      // magic byte is in the window, inflate checks the rest.
      if (!fill()) return got;
      if (in_[0] != 0x1f || (avail_ >= 2 && in_[1] != 0x8b))
        throw format_error(name_ + ": unexpected bytes after the gzip stream (after " +
                           std::to_string(delivered_ + got) + " decompressed bytes)");
      start_member();
    }
    if (!fill())
      throw format_error(name_ + ": the gzip stream ends early (truncated file) after " +
                         std::to_string(delivered_ + got) + " decompressed bytes");
    zs_.next_in = const_cast<std::uint8_t*>(in_);
    zs_.avail_in = static_cast<uInt>(std::min<std::size_t>(avail_, 1u << 30));
    zs_.next_out = dst + got;
    zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - got, 1u << 30));
    const uInt in_before = zs_.avail_in, out_before = zs_.avail_out;
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    const std::size_t used = in_before - zs_.avail_in, made = out_before - zs_.avail_out;
    in_ += used;
    avail_ -= used;
    got += made;
    if (rc == Z_STREAM_END) {
      member_done_ = true;
      if (got > 0) return got;
      continue;
    }
    if (rc == Z_OK) continue;
    throw format_error(name_ + ": corrupt gzip data after " + std::to_string(delivered_ + got) +
                       " decompressed bytes (zlib: " + (zs_.msg ? zs_.msg : "error " + std::to_string(rc)) + ")");
  }
  return got;
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::data
