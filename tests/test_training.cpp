// The runtime driver: batching (partial last batch, shuffling), epoch
// means, callbacks, evaluate / predict, and the errors it gives for bad data.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>

#include "blobs.hpp"

using namespace ingot;

namespace {
using Net = nn::Sequential<nn::Dense<5, 9>, nn::Tanh, nn::Dense<9, 3>>;

using testdata::blobs;
}  // namespace

TEST_CASE("with lr 0 an epoch's mean loss is the dataset loss, whatever the batching", "[train]") {
  Net model{init::seed(3)};
  const auto ds = blobs(103, 1);  // 10 batches of 10 and a last one of 3
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD{{.lr = 0.0f}}};
  const double reference = trainer.evaluate(ds, 1000).loss;
  const auto plain = trainer.fit(ds, {.epochs = 1, .batch_size = 10});
  const auto shuffled = trainer.fit(ds, {.epochs = 2, .batch_size = 10, .shuffle = true, .seed = 9});
  CHECK(plain[0].loss == Approx(reference).epsilon(1e-5));
  CHECK(shuffled[0].loss == Approx(reference).epsilon(1e-5));
  CHECK(shuffled[1].loss == Approx(reference).epsilon(1e-5));
  CHECK(trainer.evaluate(ds, 7).loss == Approx(reference).epsilon(1e-5));
}

TEST_CASE("training separates the blobs and accuracy follows", "[train]") {
  Net model{init::seed(4)};
  const auto ds = blobs(300, 2);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{{.lr = 0.05f}}};
  const auto before = trainer.evaluate(ds);
  const auto history = trainer.fit(ds, {.epochs = 15, .batch_size = 32, .shuffle = true, .seed = 1});
  const auto after = trainer.evaluate(ds);
  CHECK(history.back().loss < 0.5 * history.front().loss);
  CHECK(after.loss < before.loss);
  CHECK(after.accuracy > 0.95);
  CHECK(after.rows == 300);
}

TEST_CASE("a callback that returns false stops training", "[train]") {
  Net model;
  const auto ds = blobs(40, 3);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD{{.lr = 0.1f}}};
  std::size_t calls = 0;
  const auto history = trainer.fit(ds, {.epochs = 10, .batch_size = 8},
                                   [&](const train::epoch_result& r) { ++calls; return r.epoch < 3; },
                                   [&](const train::epoch_result&) { ++calls; });
  CHECK(history.size() == 3);
  CHECK(calls == 6);
  CHECK(history[2].epoch == 3);
  CHECK(history[2].epochs == 10);
}

TEST_CASE("predict gives n rows of outputs, equal to one big batch", "[train]") {
  Net model{init::seed(8)};
  const auto ds = blobs(50, 4);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD{}};
  const auto small = trainer.predict(ds.x.data(), 50, 6);
  const auto whole = trainer.predict(ds.x.data(), 50, 50);
  REQUIRE(small.size() == 50 * 3);
  for (std::size_t i = 0; i < small.size(); ++i) CHECK(small[i] == Approx(whole[i]).margin(1e-6));
}

TEST_CASE("bad data is refused with the place named", "[train][errors]") {
  CHECK_THROWS_WITH((data::Dataset<float>(2, 3, 1, {1, 2, 3, 4, 5}, {0, 1}, "a.csv")),
                    Catch::Contains("a.csv") && Catch::Contains("5 feature values for 2 rows of 3"));
  CHECK_THROWS_WITH((data::Dataset<float>(2, 2, 1, {1, 2, NAN, 4}, {0, 1}, "b.csv")),
                    Catch::Contains("b.csv: feature 0 of row 1 is not finite"));
  CHECK_THROWS_WITH((data::Dataset<float>(2, 2, 1, {1, 2, 3, 4}, {0, INFINITY}, "c.csv")),
                    Catch::Contains("c.csv: target 0 of row 1 is not finite"));

  Net model;
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD{}};
  data::Dataset<std::int32_t> bad_label(3, 5, 1, std::vector<float>(15, 0.f), {0, 2, 3}, "labels.idx");
  CHECK_THROWS_WITH(trainer.fit(bad_label, {}), Catch::Contains("labels.idx: label 3 of row 2 is outside [0, 3)"));
  data::Dataset<std::int32_t> narrow(2, 4, 1, std::vector<float>(8, 0.f), {0, 1}, "narrow");
  CHECK_THROWS_WITH(trainer.fit(narrow, {}), Catch::Contains("narrow: rows have 4 features; the model takes 5"));
  const auto ok = blobs(4, 5);
  CHECK_THROWS_WITH(trainer.fit(ok, {.epochs = 1, .batch_size = 0}), Catch::Contains("batch_size"));
}

TEST_CASE("parameters are named and initialised as in PyTorch's nn.Linear", "[nn]") {
  Net model{init::seed(11)};
  CHECK(Net::parameter_names() == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(Net::num_scalars() == 5 * 9 + 9 + 9 * 3 + 3);
  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias alike.
  auto within = [](std::span<const float> v, double bound) {
    double lo = 1, hi = -1;
    for (float f : v) lo = std::min<double>(lo, f), hi = std::max<double>(hi, f);
    return lo >= -bound && hi <= bound && hi - lo > bound;  // spread over the range, not constant
  };
  CHECK(within(model.parameter("0.weight"), 1 / std::sqrt(5.0)));
  CHECK(within(model.parameter("0.bias"), 1 / std::sqrt(5.0)));
  CHECK(within(model.parameter("2.weight"), 1 / std::sqrt(9.0)));
  CHECK(within(model.parameter("2.bias"), 1 / std::sqrt(9.0)));
  Net same{init::seed(11)}, other{init::seed(12)};
  CHECK(std::equal(model.arena().flat().begin(), model.arena().flat().end(), same.arena().flat().begin()));
  CHECK_FALSE(std::equal(model.arena().flat().begin(), model.arena().flat().end(), other.arena().flat().begin()));
  CHECK_THROWS_WITH(model.parameter("1.weight"), Catch::Contains("no parameter named '1.weight'"));
}

TEST_CASE("DataLoader: sizes, drop_last, and no copy of unshuffled data", "[data][batches]") {
  const auto ds = blobs(23, 6);
  data::DataLoader<std::int32_t> plain(ds, {.batch_size = 5});
  CHECK(plain.size() == 5);
  plain.set_epoch(0);
  data::DataLoader<std::int32_t>::batch b;
  std::vector<std::size_t> sizes;
  while (plain.next(b)) {
    CHECK(b.x == ds.x.data() + sizes.size() * 5 * 5);  // points into the data set
    sizes.push_back(b.rows);
  }
  CHECK(sizes == std::vector<std::size_t>{5, 5, 5, 5, 3});
  data::DataLoader<std::int32_t> dropping(ds, {.batch_size = 5, .drop_last = true});
  CHECK(dropping.size() == 4);
  dropping.set_epoch(0);
  std::size_t n = 0;
  while (dropping.next(b)) n += b.rows;
  CHECK(n == 20);
  CHECK_THROWS_WITH((data::DataLoader<std::int32_t>(ds, {.batch_size = 0})), Catch::Contains("blobs"));
}

TEST_CASE("DataLoader shuffles: every row once per epoch, reproducible from the seed", "[data][batches]") {
  const std::size_t n = 41;
  std::vector<float> x(n * 2);
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[2 * i] = static_cast<float>(i);
    x[2 * i + 1] = -static_cast<float>(i);
    y[i] = static_cast<std::int32_t>(i % 3);
  }
  const data::Dataset<std::int32_t> ds(n, 2, 1, x, y, "rows");
  auto epochs = [&](std::uint64_t seed) {
    data::DataLoader<std::int32_t> loader(ds, {.batch_size = 8, .shuffle = true, .seed = seed});
    std::vector<std::vector<int>> orders;
    for (int e = 0; e < 3; ++e) {
      loader.set_epoch(static_cast<std::uint64_t>(e));
      std::vector<int> order;
      data::DataLoader<std::int32_t>::batch b;
      while (loader.next(b))
        for (std::size_t r = 0; r < b.rows; ++r) {
          const int row = static_cast<int>(b.x[2 * r]);
          REQUIRE(b.x[2 * r + 1] == -b.x[2 * r]);  // features stay together
          REQUIRE(b.y[r] == row % 3);              // and with their label
          order.push_back(row);
        }
      orders.push_back(order);
    }
    return orders;
  };
  const auto a = epochs(3), same = epochs(3), other = epochs(4);
  for (const auto& order : a) {
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(sorted[i] == static_cast<int>(i));
  }
  CHECK(a == same);
  CHECK(a != other);
  CHECK(a[0] != a[1]);
}

TEST_CASE("fit with drop_last skips the partial batch", "[train][batches]") {
  Net model{init::seed(3)};
  const auto ds = blobs(103, 1);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD{{.lr = 0.0f}}};
  const auto history = trainer.fit(ds, {.epochs = 1, .batch_size = 10, .drop_last = true});
  // The mean is over the 100 rows seen: the first 100, unshuffled.
  data::Dataset<std::int32_t> first100(100, 5, 1, std::vector<float>(ds.x.begin(), ds.x.begin() + 500),
                                       std::vector<std::int32_t>(ds.y.begin(), ds.y.begin() + 100), "first 100");
  CHECK(history[0].loss == Approx(trainer.evaluate(first100).loss).epsilon(1e-5));
}

namespace {
// A denormal float times one: zero when denormals are flushed.
float denormal_times_one() {
  volatile float tiny = 1e-39f, one = 1.0f;
  return tiny * one;
}
struct denormal_probe {
  std::vector<float>* seen;
  void on_batch_end(const train::batch_result&) { seen->push_back(denormal_times_one()); }
};
}  // namespace

TEST_CASE("fit flushes denormals while it runs and restores the thread's mode after", "[train][denormals]") {
  Net model{init::seed(3)};
  const auto ds = blobs(40, 2);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{}};
  REQUIRE(denormal_times_one() > 0);  // the default: denormals kept
  std::vector<float> on, off;
  trainer.fit(ds, {.epochs = 1, .batch_size = 20}, denormal_probe{&on});
  CHECK(denormal_times_one() > 0);
  trainer.fit(ds, {.epochs = 1, .batch_size = 20, .flush_denormals = false}, denormal_probe{&off});
  CHECK(on == std::vector<float>{0.0f, 0.0f});
  CHECK(off.size() == 2);
  CHECK(off[0] > 0);
  CHECK_FALSE(simd::flush_denormals_scope::active());
}
