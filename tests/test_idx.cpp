// IDX / gzip reading: a small file written here round-trips, every kind of
// damage is reported with the file and the place, and the real
// Fashion-MNIST files (Debian's dataset-fashion-mnist) load.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
// Only the data headers: the readers stand apart from the expression core.
#include <ingot/data/idx.hpp>

using namespace ingot;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
  const fs::path dir = fs::temp_directory_path() / ("ingot_idx_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

std::vector<std::uint8_t> idx_bytes(std::vector<std::uint32_t> dims, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out = {0, 0, 8, static_cast<std::uint8_t>(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::string write_gz(const std::string& name, const std::vector<std::uint8_t>& bytes) {
  const std::string path = (scratch() / name).string();
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  gzclose(f);
  return path;
}

const std::vector<std::uint8_t> pixels = {0, 255, 51, 102, 1, 2, 3, 4, 9, 8, 7, 6};  // 3 images of 2 x 2
}  // namespace

TEST_CASE("a small IDX pair round-trips into a dataset", "[idx]") {
  const auto images = write_gz("ok-images.gz", idx_bytes({3, 2, 2}, pixels));
  const auto labels = write_gz("ok-labels.gz", idx_bytes({3}, {2, 0, 9}));
  const auto ds = data::read_idx_classification(images, labels, 10);
  CHECK(ds.rows == 3);
  CHECK(ds.features == 4);
  CHECK(ds.y == std::vector<std::int32_t>{2, 0, 9});
  CHECK(ds.x[1] == 1.0f);
  CHECK(ds.x[2] == Approx(0.2f));
  CHECK(ds.source == images);
}

TEST_CASE("damaged IDX files are refused with the file and place named", "[idx][errors]") {
  const auto labels = write_gz("labels.gz", idx_bytes({3}, {2, 0, 9}));
  {
    auto bytes = idx_bytes({3, 2, 2}, pixels);
    bytes[0] = 0x1f;
    const auto path = write_gz("magic.gz", bytes);
    CHECK_THROWS_WITH(data::read_idx(path), Catch::Contains(path) && Catch::Contains("not an IDX file"));
  }
  {
    auto bytes = idx_bytes({3, 2, 2}, pixels);
    bytes[2] = 0x0d;  // float32 elements
    const auto path = write_gz("type.gz", bytes);
    CHECK_THROWS_WITH(data::read_idx(path), Catch::Contains(path) && Catch::Contains("element type 13 at byte 2"));
  }
  {
    auto bytes = idx_bytes({3, 2, 2}, pixels);
    bytes.resize(bytes.size() - 5);
    const auto path = write_gz("short.gz", bytes);
    CHECK_THROWS_WITH(data::read_idx(path), Catch::Contains(path) &&
                                                Catch::Contains("header promises 12 data bytes after byte 16") &&
                                                Catch::Contains("the file has 7"));
  }
  {
    // A gzip file cut in the middle of its stream.
    const auto whole = write_gz("whole.gz", idx_bytes({3, 2, 2}, pixels));
    std::ifstream in(whole, std::ios::binary);
    std::vector<char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = (scratch() / "cut.gz").string();
    std::ofstream(cut, std::ios::binary).write(gz.data(), static_cast<std::streamsize>(gz.size() - 12));
    CHECK_THROWS_WITH(data::read_idx(cut), Catch::Contains(cut));
  }
  {
    const auto images = write_gz("images.gz", idx_bytes({3, 2, 2}, pixels));
    const auto two = write_gz("two-labels.gz", idx_bytes({2}, {1, 1}));
    CHECK_THROWS_WITH(data::read_idx_classification(images, two, 10),
                      Catch::Contains(two) && Catch::Contains("2 labels for the 3 images"));
    const auto big = write_gz("big-label.gz", idx_bytes({3}, {1, 12, 1}));
    CHECK_THROWS_WITH(data::read_idx_classification(images, big, 10),
                      Catch::Contains(big) && Catch::Contains("label 12 of item 1 (byte 9)"));
  }
  CHECK_THROWS_WITH(data::read_idx((scratch() / "absent.gz").string()), Catch::Contains("absent.gz: cannot open"));
  CHECK_THROWS_AS(data::fashion_mnist("validation"), std::invalid_argument);
  fs::remove_all(scratch());
}

TEST_CASE("the real Fashion-MNIST test split loads", "[idx][fashion-mnist]") {
  const char* env = std::getenv("INGOT_FASHION_MNIST_DIR");
  const fs::path dir = env ? env : "/usr/share/datasets/fashion-mnist";
  INFO("Fashion-MNIST is expected at " << dir << " (tools/deps.sh installs dataset-fashion-mnist)");
  REQUIRE(fs::exists(dir / "t10k-images-idx3-ubyte.gz"));
  const auto test = data::fashion_mnist("t10k");
  CHECK(test.rows == 10000);
  CHECK(test.features == 784);
  std::array<int, 10> per_class{};
  for (auto label : test.y) ++per_class[static_cast<std::size_t>(label)];
  for (int count : per_class) CHECK(count == 1000);  // the test split is balanced
  CHECK(test.y[0] == 9);                              // an ankle boot comes first
}

namespace {
std::vector<std::uint8_t> header(std::vector<std::uint32_t> dims) { return idx_bytes(std::move(dims), {}); }

std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size())) + 64;
  std::vector<std::uint8_t> out(size);
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  zs.next_in = const_cast<std::uint8_t*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
}  // namespace

TEST_CASE("IDX headers whose sizes overflow or are absurd are refused before any data is read", "[idx][errors]") {
  // 2^32-1 cubed wraps around 2^64 to a small number in unchecked arithmetic.
  const std::uint32_t big = 0xffffffffu;
  auto wrap = header({big, big, big});
  CHECK_THROWS_WITH(data::read_idx(wrap, "wrap.idx"),
                    Catch::Contains("wrap.idx") && Catch::Contains("declare more than 17179869184 bytes"));
  // 65536^2 * 2^16: each factor fits, the product wraps 2^48 * 2^16 = 2^64 to 0.
  auto zero_wrap = header({65536, 65536, 65536, 65536});
  CHECK_THROWS_WITH(data::read_idx(zero_wrap, "zero_wrap.idx"), Catch::Contains("declare more than"));
  // Found by fuzzing with -fsanitize=unsigned-integer-overflow: 2^31 * 8 is
  // within the bound, and times 2^31 it wrapped to 0, which passed the check
  // and gave an array of 2^65 declared bytes holding none.
  CHECK_THROWS_WITH(data::read_idx(header({0x80000000u, 8, 0x80000000u}), "wrap0.idx"),
                    Catch::Contains("wrap0.idx") && Catch::Contains("declare more than"));
  // Large but in bound: refused for missing data, without allocating 16 GB.
  auto absurd = header({4096, 4096, 1024});
  CHECK_THROWS_WITH(data::read_idx(absurd, "absurd.idx"),
                    Catch::Contains("header promises 17179869184 data bytes after byte 16") &&
                        Catch::Contains("the file has 0"));
}

TEST_CASE("IDX files with zero items, zero dimensions or trailing data are refused", "[idx][errors]") {
  CHECK_THROWS_WITH(data::read_idx(header({0, 28, 28}), "empty.idx"),
                    Catch::Contains("empty.idx") && Catch::Contains("dimension 0 (byte 4) is 0"));
  CHECK_THROWS_WITH(data::read_idx(header({3, 0, 2}), "flat.idx"), Catch::Contains("dimension 1 (byte 8) is 0"));
  auto bytes = idx_bytes({3, 2, 2}, pixels);
  bytes.push_back(7);
  CHECK_THROWS_WITH(data::read_idx(bytes, "trailing.idx"),
                    Catch::Contains("trailing.idx") && Catch::Contains("trailing data after byte 28"));
  const auto gz = gzip_bytes(bytes);
  CHECK_THROWS_WITH(data::read_idx(gz, "trailing.idx.gz"), Catch::Contains("trailing data after byte 28"));
  // Garbage after the gzip stream itself.
  auto tail = gzip_bytes(idx_bytes({3, 2, 2}, pixels));
  tail.insert(tail.end(), {'x', 'y', 'z'});
  CHECK_THROWS_WITH(data::read_idx(tail, "tail.gz"), Catch::Contains("unexpected bytes after the gzip stream"));
  // Two gzip members are one stream (gzip's concatenation rule).
  const auto all = idx_bytes({3, 2, 2}, pixels);
  auto two = gzip_bytes(std::vector<std::uint8_t>(all.begin(), all.begin() + 10));
  const auto second = gzip_bytes(std::vector<std::uint8_t>(all.begin() + 10, all.end()));
  two.insert(two.end(), second.begin(), second.end());
  CHECK(data::read_idx(two, "two.gz").data == pixels);
  CHECK_THROWS_WITH(data::read_idx(std::vector<std::uint8_t>{0, 0}, "tiny.idx"),
                    Catch::Contains("2 bytes, too short for an IDX header"));
  CHECK_THROWS_WITH(data::read_idx(std::vector<std::uint8_t>{0, 0, 8, 3, 0, 0}, "cut.idx"),
                    Catch::Contains("truncated header (dimension 0 at byte 4 is missing)"));
}

TEST_CASE("a gzip bomb is inflated only as far as the header promises", "[idx][errors]") {
  // 64 MB of zeros after a header promising 12 bytes: about 64 kB compressed.
  auto bytes = idx_bytes({3, 2, 2}, pixels);
  bytes.resize(bytes.size() + (64u << 20), 0);
  const auto gz = gzip_bytes(bytes);
  CHECK(gz.size() < (1u << 20));
  CHECK_THROWS_WITH(data::read_idx(gz, "bomb.gz"), Catch::Contains("bomb.gz") && Catch::Contains("trailing data"));
  // The reader stops one byte past the promise; it never inflates the rest.
  data::gzip_reader in(gz, "bomb.gz");
  std::vector<std::uint8_t> head(29);
  CHECK(in.read(head.data(), head.size()) == 29);
  CHECK(in.position() == 29);
}

TEST_CASE("corrupt gzip data is named with the decompressed offset", "[idx][errors]") {
  auto gz = gzip_bytes(idx_bytes({3, 2, 2}, pixels));
  gz[gz.size() - 6] ^= 0xff;  // the stored CRC
  CHECK_THROWS_WITH(data::read_idx(gz, "crc.gz"), Catch::Contains("crc.gz: corrupt gzip data"));
  auto cut = gzip_bytes(idx_bytes({3, 2, 2}, pixels));
  cut.resize(cut.size() - 4);
  CHECK_THROWS_WITH(data::read_idx(cut, "cut.gz"),
                    Catch::Contains("cut.gz: the gzip stream ends early (truncated file)"));
}

TEST_CASE("fashion_mnist checks 28x28 images and names the package when a file is missing", "[idx][errors]") {
  const fs::path dir = scratch() / "fmnist";
  fs::create_directories(dir);
  CHECK_THROWS_WITH(data::fashion_mnist("t10k", dir.string()),
                    Catch::Contains("t10k-images-idx3-ubyte.gz: no such file") &&
                        Catch::Contains("dataset-fashion-mnist") && Catch::Contains("INGOT_FASHION_MNIST_DIR"));
  auto write = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) {
    std::ofstream out(dir / name, std::ios::binary);
    const auto gz = gzip_bytes(bytes);
    out.write(reinterpret_cast<const char*>(gz.data()), static_cast<std::streamsize>(gz.size()));
  };
  write("t10k-images-idx3-ubyte.gz", idx_bytes({3, 2, 2}, pixels));
  write("t10k-labels-idx1-ubyte.gz", idx_bytes({3}, {1, 2, 3}));
  CHECK_THROWS_WITH(data::fashion_mnist("t10k", dir.string()),
                    Catch::Contains("t10k-images-idx3-ubyte.gz: images are 2x2") && Catch::Contains("expected 28x28"));
  write("t10k-images-idx3-ubyte.gz", idx_bytes({1, 28, 28}, std::vector<std::uint8_t>(784, 3)));
  write("t10k-labels-idx1-ubyte.gz", idx_bytes({1}, {10}));
  CHECK_THROWS_WITH(data::fashion_mnist("t10k", dir.string()),
                    Catch::Contains("t10k-labels-idx1-ubyte.gz: label 10 of item 0"));
  write("t10k-labels-idx1-ubyte.gz", idx_bytes({1}, {4}));
  const auto one = data::fashion_mnist("t10k", dir.string());
  CHECK(one.rows == 1);
  CHECK(one.y[0] == 4);
  fs::remove_all(scratch());
}
