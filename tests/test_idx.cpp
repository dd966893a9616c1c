// IDX / gzip reading: a small file written here round-trips, every kind of
// damage is reported with the file and the place, and the real
// Fashion-MNIST files (Debian's dataset-fashion-mnist) load.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <ingot/ingot.hpp>

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
