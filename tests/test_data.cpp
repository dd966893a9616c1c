// The data layer on its own: CSV and .npy readers on small files written
// here (correct values; every bad input named by file and place), the
// DataLoader, random_split and the transforms. Only data headers are
// included: the readers do not depend on the expression core.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ingot/data/csv.hpp>
#include <ingot/data/loader.hpp>
#include <ingot/data/npy.hpp>
#include <ingot/data/split.hpp>
#include <ingot/data/transforms.hpp>
#include <numeric>
#include <set>

using namespace ingot;
namespace fs = std::filesystem;

namespace {
fs::path scratch() {
  const fs::path dir = fs::temp_directory_path() / ("ingot_data_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}
std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = (scratch() / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}
template <class T = float>
data::Dataset<T> csv(const std::string& text, data::csv_options o = {}) {
  return data::parse_csv<T>(text, "t.csv", o);
}
}  // namespace

TEST_CASE("CSV: header, targets by name or index, CRLF, quotes, BOM, blank lines", "[data][csv]") {
  const auto path = write_text("ok.csv", "\xEF\xBB\xBF" "a,b,label\r\n1.5,-2,1\r\n\r\n 3e2 ,\"4\",0\r\n");
  const auto ds = data::read_csv<std::int32_t>(path, {.target_names = {"label"}});
  CHECK(ds.rows == 2);
  CHECK(ds.features == 2);
  CHECK(ds.x == std::vector<float>{1.5f, -2.0f, 300.0f, 4.0f});
  CHECK(ds.y == std::vector<std::int32_t>{1, 0});
  CHECK(ds.source == path);

  // Two float targets by index, listed out of column order; no header.
  const auto reg = csv("1,2,3,4\n5,6,7,8\n", {.header = false, .target_indices = {3, 0}});
  CHECK(reg.features == 2);
  CHECK(reg.target_cols == 2);
  CHECK(reg.x == std::vector<float>{2, 3, 6, 7});
  CHECK(reg.y == std::vector<float>{4, 1, 8, 5});

  // Semicolons, a quoted field holding the delimiter, a doubled quote and a
  // line break, and no final newline; the default target is the last column.
  const auto q = csv("\"x;1\";\"say \"\"hi\"\"\nthere\";y\n+0.25;7;1", {.delimiter = ';'});
  CHECK(q.x == std::vector<float>{0.25f, 7.0f});
  CHECK(q.y == std::vector<float>{1.0f});
  // A tab-separated file keeps tabs as delimiters, not blanks.
  const auto tsv = csv("a\tb\n1\t2\n", {.delimiter = '\t'});
  CHECK(tsv.x == std::vector<float>{1});
}

TEST_CASE("CSV: every bad cell names file:line:column and the text", "[data][csv][errors]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(csv("a,b\n1,2\n3,4,5\n"), Contains("t.csv:3: 3 fields, expected 2 (as the header has)"));
  CHECK_THROWS_WITH(csv("a,b\n1,2\n3\n"), Contains("t.csv:3: 1 fields, expected 2"));
  CHECK_THROWS_WITH(csv("a,b\n1,2\n3,abc\n"), Contains("t.csv:3:3: column 'b': 'abc' is not a number"));
  CHECK_THROWS_WITH(csv("a,b\n1.5x,2\n"), Contains("t.csv:2:1: column 'a': '1.5x' is not a number"));
  CHECK_THROWS_WITH(csv("a,b\n1,nan\n"), Contains("t.csv:2:3: column 'b': 'nan' is not finite"));
  CHECK_THROWS_WITH(csv("a,b\ninf,1\n"), Contains("t.csv:2:1: column 'a': 'inf' is not finite"));
  CHECK_THROWS_WITH(csv("a,b\n1e999,1\n"), Contains("'1e999' is out of range for a float"));
  CHECK_THROWS_WITH(csv("a,b\n1,\n"), Contains("t.csv:2:3: column 'b': empty cell"));
  CHECK_THROWS_WITH(csv(""), Contains("t.csv: empty file (no header)"));
  CHECK_THROWS_WITH(csv("\n\r\n"), Contains("t.csv: empty file"));
  CHECK_THROWS_WITH(csv("a,b\n"), Contains("t.csv: a header row and no data rows"));
  CHECK_THROWS_WITH(csv("a,b\n\"1,2\n"), Contains("t.csv:2:1: the quoted field is not closed"));
  CHECK_THROWS_WITH(csv("a,b\n\"1\"x,2\n"), Contains("t.csv:2:4: 'x' after the closing quote"));
  CHECK_THROWS_WITH(csv("a,b\n1,2\n", {.target_names = {"c"}}), Contains("t.csv:1: no column named 'c' (columns: 'a', 'b')"));
  CHECK_THROWS_WITH(csv("a,b\n1,2\n", {.target_indices = {2}}), Contains("target column index 2 is past the 2 columns"));
  CHECK_THROWS_WITH(csv("a\n1\n"), Contains("every column is a target"));
  CHECK_THROWS_WITH(csv<std::int32_t>("a,b\n1,2.5\n"), Contains("t.csv:2:3: column 'b': '2.5' is not an integer class label"));
  // Line numbers count the lines inside quoted fields.
  CHECK_THROWS_WITH(csv("\"a\nA\",b\n1,2\n3,x\n"), Contains("t.csv:4:3: column 'b': 'x' is not a number"));
  // NaN allowed when asked (features only).
  const auto lax = csv("a,b\nnan,1\n", {.allow_nonfinite = true});
  CHECK(std::isnan(lax.x[0]));
  CHECK_THROWS_WITH(data::read_csv((scratch() / "absent.csv").string()), Contains("absent.csv: cannot open"));
}

TEST_CASE(".npy: every dtype round-trips through write_npy and read_npy", "[data][npy]") {
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 1e-3f};
  const auto pf = (scratch() / "f.npy").string();
  data::write_npy<float>(pf, f, {2, 3});
  const auto a = data::read_npy(pf);
  CHECK(a.dtype == data::npy_dtype::float32);
  CHECK(a.shape == std::vector<std::size_t>{2, 3});
  CHECK(a.values<float>() == f);
  // The data starts on a 64-byte boundary, as NumPy writes it.
  CHECK((fs::file_size(pf) - f.size() * 4) % 64 == 0);

  const std::vector<double> d = {0.1, 0.2, -0.3};
  const auto pd = (scratch() / "d.npy").string();
  data::write_npy<double>(pd, d, {3});
  CHECK(data::read_npy(pd).values<double>() == d);
  const std::vector<std::int64_t> l = {0, 9, 3, 3};
  const auto pl = (scratch() / "l.npy").string();
  data::write_npy<std::int64_t>(pl, l, {4});
  CHECK(data::read_npy(pl).values<std::int32_t>() == std::vector<std::int32_t>{0, 9, 3, 3});
  const std::vector<std::int32_t> i = {5, -1};
  data::write_npy<std::int32_t>(pl, i, {2, 1});
  CHECK(data::read_npy(pl).shape == std::vector<std::size_t>{2, 1});
  const std::vector<std::uint8_t> u = {0, 128, 255};
  const auto pu = (scratch() / "u.npy").string();
  data::write_npy<std::uint8_t>(pu, u, {3});
  CHECK(data::read_npy(pu).values<float>() == std::vector<float>{0, 128, 255});
  // A scalar has shape ().
  const std::vector<float> s = {4};
  data::write_npy<float>(pf, s, {});
  CHECK(data::read_npy(pf).shape.empty());
  CHECK_THROWS_WITH(data::write_npy<float>(pf, f, {4, 2}), Catch::Contains("6 values for a shape of 8"));

  // Labels as a data set.
  data::write_npy<float>(pf, f, {3, 2});
  data::write_npy<std::int64_t>(pl, std::vector<std::int64_t>{1, 0, 1}, {3});
  const auto ds = data::read_npy_dataset<std::int32_t>(pf, pl);
  CHECK(ds.rows == 3);
  CHECK(ds.features == 2);
  CHECK(ds.y == std::vector<std::int32_t>{1, 0, 1});
  CHECK_THROWS_WITH(data::read_npy_dataset<std::int32_t>(pf, pd), Catch::Contains("integers (labels) are needed"));
  data::write_npy<std::int64_t>(pl, std::vector<std::int64_t>{1, 0}, {2});
  CHECK_THROWS_WITH(data::read_npy_dataset<std::int32_t>(pf, pl), Catch::Contains("2 rows of targets for the 3 rows"));
}

namespace {
std::vector<std::uint8_t> npy_with(const std::string& dict, std::size_t payload) {
  std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<std::uint8_t>(dict.size()),
                                 static_cast<std::uint8_t>(dict.size() >> 8)};
  for (char c : dict) b.push_back(static_cast<std::uint8_t>(c));
  b.resize(b.size() + payload, 0);
  return b;
}
}  // namespace

TEST_CASE(".npy: bad headers, unsupported dtypes and truncated payloads are refused", "[data][npy][errors]") {
  using Catch::Contains;
  auto parse = [](const std::vector<std::uint8_t>& b) { return data::parse_npy(b, "a.npy"); };
  CHECK(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8)).count() == 2);
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 7)),
                    Contains("a.npy: truncated .npy data: the shape needs 8 bytes"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 9)),
                    Contains("1 bytes after the .npy data"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8)),
                    Contains("big-endian dtype '>f4' is not supported"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16)),
                    Contains("object arrays are not supported"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16)),
                    Contains("dtype '<c8' is not supported"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8)),
                    Contains("Fortran-order arrays are not supported"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8)),
                    Contains("structured arrays"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'shape': (2,), }", 8)), Contains("lacks one of"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8)),
                    Contains("unexpected key 'x'"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8)),
                    Contains("expected a dimension"));
  CHECK_THROWS_WITH(
      parse(npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8)),
      Contains("overflows"));
  CHECK_THROWS_WITH(
      parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8)),
      Contains("a dimension overflows 64 bits"));
  CHECK_THROWS_WITH(parse(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", 8)),
                    Contains("a.npy: .npy header"));
  CHECK_THROWS_WITH(parse({1, 2, 3}), Contains("a.npy: not a .npy file"));
  auto v9 = npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
  v9[6] = 9;
  CHECK_THROWS_WITH(parse(v9), Contains("format version 9.0"));
  auto long_header = npy_with("{}", 0);
  long_header[8] = 0xff;
  long_header[9] = 0xff;
  CHECK_THROWS_WITH(parse(long_header), Contains("truncated .npy header"));
}

namespace {
data::Dataset<std::int32_t> numbered(std::size_t n) {
  std::vector<float> x(n * 2);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[2 * i] = static_cast<float>(i);
    x[2 * i + 1] = static_cast<float>(i) * 10;
    y[i] = static_cast<std::int32_t>(i);
  }
  return data::Dataset<std::int32_t>(n, 2, 1, x, y, "numbered");
}
std::vector<int> epoch_order(data::DataLoader<std::int32_t>& loader, std::uint64_t e) {
  loader.set_epoch(e);
  std::vector<int> order;
  data::DataLoader<std::int32_t>::batch b;
  while (loader.next(b))
    for (std::size_t r = 0; r < b.rows; ++r) order.push_back(b.y[r]);
  return order;
}
}  // namespace

TEST_CASE("DataLoader: the order of an epoch depends only on the seed and the epoch", "[data][loader]") {
  const auto ds = numbered(37);
  data::DataLoader<std::int32_t> a(ds, {.batch_size = 5, .shuffle = true, .seed = 11});
  data::DataLoader<std::int32_t> b(ds, {.batch_size = 5, .shuffle = true, .seed = 11});
  const auto e0 = epoch_order(a, 0), e1 = epoch_order(a, 1), e2 = epoch_order(a, 2);
  CHECK(e0 != e1);
  CHECK(e1 != e2);
  // Jumping straight to epoch 2 (a resumed run) gives the same order.
  CHECK(epoch_order(b, 2) == e2);
  CHECK(epoch_order(b, 0) == e0);
  std::vector<int> sorted = e1;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> all(37);
  std::iota(all.begin(), all.end(), 0);
  CHECK(sorted == all);
  data::DataLoader<std::int32_t> c(ds, {.batch_size = 5, .shuffle = true, .seed = 12});
  CHECK(epoch_order(c, 0) != e0);
  data::DataLoader<std::int32_t> drop(ds, {.batch_size = 5, .shuffle = true, .seed = 11, .drop_last = true});
  CHECK(drop.size() == 7);
  CHECK(epoch_order(drop, 0).size() == 35);
}

TEST_CASE("DataLoader: large shuffled batches gathered on several threads hold the right rows", "[data][loader]") {
  // 151 rows of 131 features, batches of 140: 18,340 values, above the
  // threshold for a gather on all threads; the ragged last batch is below it.
  constexpr std::size_t n = 151, f = 131;
  static_assert(140 * f >= data::DataLoader<std::int32_t>::parallel_gather_min_values);
  std::vector<float> x(n * f);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int32_t>(i);
    for (std::size_t j = 0; j < f; ++j) x[i * f + j] = static_cast<float>(i * 1000 + j);
  }
  const data::Dataset<std::int32_t> ds(n, f, 1, x, y, "wide");
  std::vector<std::vector<float>> seen;
  for (std::size_t threads : {1, 2, 3}) {
    set_num_threads(threads);
    data::DataLoader<std::int32_t> loader(ds, {.batch_size = 140, .shuffle = true, .seed = 5});
    loader.set_epoch(1);
    std::vector<float> all;
    data::DataLoader<std::int32_t>::batch b;
    std::size_t rows = 0;
    while (loader.next(b)) {
      for (std::size_t r = 0; r < b.rows; ++r) {
        const auto src = static_cast<std::size_t>(b.y[r]);
        for (std::size_t j = 0; j < f; ++j) REQUIRE(b.x[r * f + j] == static_cast<float>(src * 1000 + j));
      }
      all.insert(all.end(), b.x, b.x + b.rows * f);
      rows += b.rows;
    }
    CHECK(rows == n);
    seen.push_back(all);
  }
  set_num_threads(available_cores());
  CHECK(seen[0] == seen[1]);
  CHECK(seen[0] == seen[2]);
}

TEST_CASE("random_split: disjoint parts of the given sizes, reproducible from the seed", "[data][split]") {
  const auto ds = numbered(23);
  const auto parts = data::random_split(ds, std::vector<std::size_t>{10, 8, 5}, 3);
  REQUIRE(parts.size() == 3);
  CHECK(parts[0].rows == 10);
  CHECK(parts[1].rows == 8);
  CHECK(parts[2].rows == 5);
  std::set<int> seen;
  for (const auto& p : parts)
    for (std::size_t r = 0; r < p.rows; ++r) {
      CHECK(p.x[2 * r] == static_cast<float>(p.y[r]));  // rows stay whole
      CHECK(p.x[2 * r + 1] == static_cast<float>(p.y[r]) * 10);
      seen.insert(p.y[r]);
    }
  CHECK(seen.size() == 23);
  CHECK(data::random_split(ds, std::vector<std::size_t>{10, 8, 5}, 3)[1].y == parts[1].y);
  CHECK(data::random_split(ds, std::vector<std::size_t>{10, 8, 5}, 4)[1].y != parts[1].y);
  // Fractions: floor, then the remainder one by one from the first part.
  const auto f = data::random_split(ds, std::vector<double>{0.5, 0.3, 0.2}, 1);
  CHECK(f[0].rows == 12);
  CHECK(f[1].rows == 7);
  CHECK(f[2].rows == 4);
  CHECK_THROWS_WITH(data::random_split(ds, std::vector<std::size_t>{10, 10}, 1),
                    Catch::Contains("lengths add up to 20, the data set has 23 rows"));
  CHECK_THROWS_WITH(data::random_split(ds, std::vector<double>{0.5, 0.4}, 1), Catch::Contains("not 1"));
  const auto [train, val] = data::train_validation_split(ds, 3, 9);
  CHECK(train.rows == 20);
  CHECK(val.rows == 3);
  CHECK(val.source == "numbered (validation split)");
  CHECK_THROWS(data::train_validation_split(ds, 23, 9));
}

TEST_CASE("Standardize learns on one split and applies the same statistics to another", "[data][transforms]") {
  data::Dataset<float> train(4, 3, 1, {1, 5, 2, 3, 5, 2, 5, 5, 2, 7, 5, 2}, {0, 0, 0, 0}, "train");
  const auto s = data::Standardize::fit(train);
  CHECK(s.mean == std::vector<float>{4, 5, 2});
  CHECK(s.std[0] == Approx(std::sqrt(5.0)));
  CHECK(s.std[1] == 1.0f);  // constant feature: centred only
  data::Dataset<float> test(1, 3, 1, {4 + 2 * std::sqrt(5.0f), 6, 2}, {0}, "test");
  s.apply(test);
  CHECK(test.x[0] == Approx(2.0f));
  CHECK(test.x[1] == Approx(1.0f));
  CHECK(test.x[2] == 0.0f);
  s.apply(train);
  double sum = 0, sq = 0;
  for (std::size_t r = 0; r < 4; ++r) {
    sum += train.x[3 * r];
    sq += train.x[3 * r] * train.x[3 * r];
  }
  CHECK(sum == Approx(0).margin(1e-6));
  CHECK(sq / 4 == Approx(1));
  data::Dataset<float> narrow(1, 2, 1, {1, 2}, {0}, "narrow");
  CHECK_THROWS_WITH(s.apply(narrow), Catch::Contains("narrow: Standardize was fitted on 3 features"));
  data::Scale{1.0f / 255, -0.5f}.apply(narrow);
  CHECK(narrow.x[1] == Approx(2.0f / 255 - 0.5f));
}
