#pragma once
// IDX files (the MNIST / Fashion-MNIST format), gzipped or plain. Every
// failure is a data::format_error naming the file and the byte offset or
// item where it went wrong.
//
// The header is read and checked before any data: element type unsigned
// byte, 1 to 4 dimensions, none of them zero, and a product that neither
// overflows nor exceeds max_idx_bytes. The data is then inflated only up to
// the size the header promises; more data than that is an error, found
// without inflating the rest. Memory grows with the bytes actually read,
// never with what a header claims.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ingot/core/config.hpp"
#include "ingot/core/paths.hpp"
#include "ingot/data/dataset.hpp"
#include "ingot/data/format_error.hpp"
#include "ingot/data/gzip_reader.hpp"

namespace ingot::data {

// The largest payload an IDX file may declare (16 GiB).
inline constexpr std::uint64_t max_idx_bytes = std::uint64_t{1} << 34;

struct idx_array {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> data;  // row-major, unsigned bytes
};

namespace detail {
INGOT_DECL idx_array read_idx_from(gzip_reader& in);
}  // namespace detail

// An IDX file of unsigned bytes: magic 00 00 08 <ndims>, then ndims
// big-endian uint32 sizes, then the data.
INGOT_DECL idx_array read_idx(const std::string& path);
// The same from bytes in memory (a whole file, gzipped or not).
INGOT_DECL idx_array read_idx(std::span<const std::uint8_t> bytes, const std::string& name);

// Images (n x rows x cols) scaled to [0, 1] and their labels, checked to
// agree in count and to lie in [0, classes). image_shape, when given, is
// the shape every image must have (e.g. {28, 28}).
INGOT_DECL Dataset<std::int32_t> idx_classification(const idx_array& images, const std::string& images_name,
                                                    const idx_array& labels, const std::string& labels_name,
                                                    std::size_t classes, std::vector<std::uint32_t> image_shape = {});

INGOT_DECL Dataset<std::int32_t> read_idx_classification(const std::string& images_path,
                                                         const std::string& labels_path, std::size_t classes,
                                                         std::vector<std::uint32_t> image_shape = {});

// The folder Fashion-MNIST is read from: dir when given, else the
// INGOT_FASHION_MNIST_DIR environment variable, else where Debian's
// dataset-fashion-mnist package puts it.
INGOT_DECL std::string fashion_mnist_dir(std::string dir = "");

// Fashion-MNIST, split "train" (60000) or "t10k" (10000): 28x28 images
// scaled to [0, 1] and labels 0-9.
INGOT_DECL Dataset<std::int32_t> fashion_mnist(const std::string& split, std::string dir = "");

#if INGOT_DEFINE_BODIES
INGOT_DECL idx_array detail::read_idx_from(gzip_reader& in) {
  const std::string& name = in.name();
  std::uint8_t magic[4];
  const std::size_t got = in.read(magic, 4);
  if (got < 4) throw format_error(name + ": " + std::to_string(got) + " bytes, too short for an IDX header");
  if (magic[0] != 0 || magic[1] != 0)
    throw format_error(name + ": not an IDX file (bytes 0-1 are " + std::to_string(magic[0]) + " " +
                       std::to_string(magic[1]) + ", expected 0 0)");
  if (magic[2] != 0x08)
    throw format_error(name + ": IDX element type " + std::to_string(magic[2]) +
                       " at byte 2 is not unsigned byte (8)");
  const std::size_t ndims = magic[3];
  if (ndims == 0 || ndims > 4)
    throw format_error(name + ": " + std::to_string(ndims) + " dimensions at byte 3 (IDX files here have 1 to 4)");
  idx_array out;
  std::uint64_t count = 1;
  for (std::size_t d = 0; d < ndims; ++d) {
    std::uint8_t p[4];
    const std::size_t offset = 4 + 4 * d;
    if (in.read(p, 4) < 4)
      throw format_error(name + ": truncated header (dimension " + std::to_string(d) + " at byte " +
                         std::to_string(offset) + " is missing)");
    const std::uint32_t v = (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
    if (v == 0)
      throw format_error(name + ": dimension " + std::to_string(d) + " (byte " + std::to_string(offset) +
                         ") is 0; an IDX array here needs at least one item and one value per item");
    out.dims.push_back(v);
    // A product kept below 2^34 times a factor below 2^32 can still pass
    // 2^64 (2^34 * 2^31 wraps to 0), so the multiplication is checked.
    if (__builtin_mul_overflow(count, std::uint64_t{v}, &count) || count > max_idx_bytes)
      throw format_error(name + ": the dimensions up to byte " + std::to_string(offset + 3) + " declare more than " +
                         std::to_string(max_idx_bytes) + " bytes of data");
  }
  const std::size_t header = 4 + 4 * ndims;
  // Grow with the data actually present (a header may lie about its size).
  out.data.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, std::uint64_t{1} << 20)));
  std::uint8_t chunk[1 << 16];
  while (out.data.size() < count) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof chunk, count - out.data.size()));
    const std::size_t n = in.read(chunk, want);
    out.data.insert(out.data.end(), chunk, chunk + n);
    if (n < want)
      throw format_error(name + ": header promises " + std::to_string(count) + " data bytes after byte " +
                         std::to_string(header) + ", the file has " + std::to_string(out.data.size()));
  }
  if (!in.at_end())
    throw format_error(name + ": trailing data after byte " + std::to_string(header + count) +
                       " (the header promises " + std::to_string(count) + " data bytes)");
  return out;
}

INGOT_DECL idx_array read_idx(const std::string& path) {
  gzip_reader in(path);
  return detail::read_idx_from(in);
}

INGOT_DECL idx_array read_idx(std::span<const std::uint8_t> bytes, const std::string& name) {
  gzip_reader in(bytes, name);
  return detail::read_idx_from(in);
}

INGOT_DECL Dataset<std::int32_t> idx_classification(const idx_array& images, const std::string& images_name,
                                                    const idx_array& labels, const std::string& labels_name,
                                                    std::size_t classes, std::vector<std::uint32_t> image_shape) {
  if (images.dims.size() < 2)
    throw format_error(images_name + ": expected an array of images, found 1 dimension");
  if (!image_shape.empty() && std::vector<std::uint32_t>(images.dims.begin() + 1, images.dims.end()) != image_shape) {
    std::string want, have;
    for (auto d : image_shape) {
      if (!want.empty()) want += 'x';
      want += std::to_string(d);
    }
    for (std::size_t d = 1; d < images.dims.size(); ++d) {
      if (!have.empty()) have += 'x';
      have += std::to_string(images.dims[d]);
    }
    throw format_error(images_name + ": images are " + have + " (header bytes 8-" +
                       std::to_string(4 + 4 * images.dims.size() - 1) + "), expected " + want);
  }
  if (labels.dims.size() != 1)
    throw format_error(labels_name + ": expected 1 dimension of labels, found " + std::to_string(labels.dims.size()));
  const std::size_t n = images.dims[0];
  if (labels.dims[0] != n)
    throw format_error(labels_name + ": " + std::to_string(labels.dims[0]) + " labels for the " + std::to_string(n) +
                       " images of " + images_name);
  const std::size_t features = images.data.size() / n;
  std::vector<float> x(images.data.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(images.data[i]) / 255.0f;
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (labels.data[i] >= classes)
      throw format_error(labels_name + ": label " + std::to_string(labels.data[i]) + " of item " + std::to_string(i) +
                         " (byte " + std::to_string(8 + i) + ") is outside [0, " + std::to_string(classes) + ")");
    y[i] = labels.data[i];
  }
  return Dataset<std::int32_t>(n, features, 1, std::move(x), std::move(y), images_name);
}

INGOT_DECL Dataset<std::int32_t> read_idx_classification(const std::string& images_path,
                                                         const std::string& labels_path, std::size_t classes,
                                                         std::vector<std::uint32_t> image_shape) {
  return idx_classification(read_idx(images_path), images_path, read_idx(labels_path), labels_path, classes,
                            std::move(image_shape));
}

INGOT_DECL std::string fashion_mnist_dir(std::string dir) {
  if (!dir.empty()) return dir;
  const char* env = std::getenv("INGOT_FASHION_MNIST_DIR");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

INGOT_DECL Dataset<std::int32_t> fashion_mnist(const std::string& split, std::string dir) {
  if (split != "train" && split != "t10k")
    throw std::invalid_argument("ingot: fashion_mnist split is \"train\" or \"t10k\", not \"" + split + "\"");
  dir = fashion_mnist_dir(std::move(dir));
  const std::string images = dir + "/" + split + "-images-idx3-ubyte.gz";
  const std::string labels = dir + "/" + split + "-labels-idx1-ubyte.gz";
  for (const std::string& f : {images, labels})
    if (!paths::exists(f))
      throw format_error(f + ": no such file. Fashion-MNIST comes from Debian's package dataset-fashion-mnist "
                             "(apt-get install dataset-fashion-mnist); set INGOT_FASHION_MNIST_DIR to read it from "
                             "another folder");
  return read_idx_classification(images, labels, 10, {28, 28});
}
#endif  // INGOT_DEFINE_BODIES

}  // namespace ingot::data
