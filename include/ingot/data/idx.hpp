#pragma once
// IDX files (the MNIST / Fashion-MNIST format), gzipped or plain, read with
// zlib. Every failure is a data::format_error naming the file and the byte
// offset or item where the file went wrong.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/data/dataset.hpp"

namespace ingot::data {

struct format_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The whole decompressed content of a gzip file (a plain file reads as is).
inline std::vector<std::uint8_t> read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw format_error(path + ": cannot open");
  std::vector<std::uint8_t> out;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(f, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throw format_error(path + ": corrupt gzip data after " + std::to_string(out.size()) +
                         " decompressed bytes (zlib: " + msg + ")");
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  int code = 0;
  const std::string msg = gzerror(f, &code);
  gzclose(f);
  // gzread returns 0 at a truncated stream too; zlib reports it here.
  if (code != Z_OK && code != Z_STREAM_END)
    throw format_error(path + ": gzip stream ends early after " + std::to_string(out.size()) +
                       " decompressed bytes (zlib: " + msg + ")");
  return out;
}

struct idx_array {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;  // row-major, unsigned bytes
};

// An IDX file of unsigned bytes: magic 00 00 08 <ndims>, then ndims
// big-endian uint32 sizes, then the data.
inline idx_array read_idx(const std::string& path) {
  const std::vector<std::uint8_t> raw = read_gzip(path);
  if (raw.size() < 4) throw format_error(path + ": " + std::to_string(raw.size()) + " bytes, too short for an IDX header");
  if (raw[0] != 0 || raw[1] != 0)
    throw format_error(path + ": not an IDX file (bytes 0-1 are " + std::to_string(raw[0]) + " " +
                       std::to_string(raw[1]) + ", expected 0 0)");
  if (raw[2] != 0x08)
    throw format_error(path + ": IDX element type " + std::to_string(raw[2]) +
                       " at byte 2 is not unsigned byte (8)");
  const std::size_t ndims = raw[3];
  if (ndims == 0 || ndims > 4) throw format_error(path + ": " + std::to_string(ndims) + " dimensions at byte 3");
  const std::size_t header = 4 + 4 * ndims;
  if (raw.size() < header)
    throw format_error(path + ": truncated header (" + std::to_string(raw.size()) + " of " + std::to_string(header) +
                       " bytes)");
  idx_array out;
  std::size_t count = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    const std::uint8_t* p = raw.data() + 4 + 4 * d;
    const std::uint32_t v = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    out.dims.push_back(v);
    count *= v;
  }
  if (raw.size() - header != count)
    throw format_error(path + ": header promises " + std::to_string(count) + " data bytes after byte " +
                       std::to_string(header) + ", the file has " + std::to_string(raw.size() - header));
  out.data.assign(raw.begin() + static_cast<std::ptrdiff_t>(header), raw.end());
  return out;
}

// Images (n x rows x cols) scaled to [0, 1] and their labels, checked to
// agree in count and to lie in [0, classes).
inline Dataset<std::int32_t> read_idx_classification(const std::string& images_path, const std::string& labels_path,
                                                     std::size_t classes) {
  const idx_array images = read_idx(images_path);
  const idx_array labels = read_idx(labels_path);
  if (images.dims.size() < 2) throw format_error(images_path + ": expected an array of images, found 1 dimension");
  if (labels.dims.size() != 1)
    throw format_error(labels_path + ": expected 1 dimension of labels, found " + std::to_string(labels.dims.size()));
  const std::size_t n = images.dims[0];
  if (labels.dims[0] != n)
    throw format_error(labels_path + ": " + std::to_string(labels.dims[0]) + " labels for the " + std::to_string(n) +
                       " images of " + images_path);
  const std::size_t features = n ? images.data.size() / n : 0;
  std::vector<float> x(images.data.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(images.data[i]) / 255.0f;
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels.data[i] >= classes)
      throw format_error(labels_path + ": label " + std::to_string(labels.data[i]) + " of item " + std::to_string(i) +
                         " (byte " + std::to_string(8 + i) + ") is outside [0, " + std::to_string(classes) + ")");
    y[i] = labels.data[i];
  }
  return Dataset<std::int32_t>(n, features, 1, std::move(x), std::move(y), images_path);
}

// Fashion-MNIST, split "train" (60000) or "t10k" (10000), from the folder
// INGOT_FASHION_MNIST_DIR names, else Debian's dataset-fashion-mnist package.
inline Dataset<std::int32_t> fashion_mnist(const std::string& split, std::string dir = "") {
  if (split != "train" && split != "t10k")
    throw std::invalid_argument("ingot: fashion_mnist split is \"train\" or \"t10k\", not \"" + split + "\"");
  if (dir.empty()) {
    const char* env = std::getenv("INGOT_FASHION_MNIST_DIR");
    dir = env ? env : "/usr/share/datasets/fashion-mnist";
  }
  return read_idx_classification(dir + "/" + split + "-images-idx3-ubyte.gz", dir + "/" + split + "-labels-idx1-ubyte.gz",
                                 10);
}

}  // namespace ingot::data
