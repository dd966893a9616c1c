// The driver around the step: validation metrics, history, early stopping
// (scripted metrics, bit-exact restore), CSV / JSON-lines logs read back,
// the progress bar on a pipe and on a terminal.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ingot/ingot.hpp>

#include "blobs.hpp"
#include <nlohmann/json.hpp>
#include <sstream>

using namespace ingot;

namespace {
using Net = nn::Sequential<nn::Dense<5, 9>, nn::Tanh, nn::Dense<9, 3>>;

data::Dataset<std::int32_t> blobs(std::size_t n, std::uint64_t seed) { return testdata::blobs(n, seed, 0.8, 1.5); }

std::string temp_path(const char* name) { return std::string("/tmp/ingot_test_") + std::to_string(::getpid()) + name; }

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("classification metrics from a known confusion", "[metrics]") {
  train::eval_result r;
  r.classes = 3;
  r.k = 2;
  r.rows = 5;
  r.confusion.assign(9, 0);
  // rows: predicted (arg-max) 0, 1, 1, 2, 0; labels 0, 1, 2, 2, 1
  const float out[] = {0.9f, 0.1f, 0.0f,  0.1f, 0.8f, 0.1f,  0.2f, 0.5f, 0.3f,
                       0.0f, 0.1f, 0.9f,  0.5f, 0.1f, 0.4f};
  const std::int32_t labels[] = {0, 1, 2, 2, 1};
  train::detail::add_classification(r, out, labels, 5);
  train::detail::finish_classification(r);
  CHECK(r.accuracy == Approx(3.0 / 5));
  CHECK(r.top_k_accuracy == Approx(4.0 / 5));  // row 5: label 1 is third of three
  CHECK(r.confusion_at(0, 0) == 1);
  CHECK(r.confusion_at(1, 1) == 1);
  CHECK(r.confusion_at(2, 1) == 1);
  CHECK(r.confusion_at(2, 2) == 1);
  CHECK(r.confusion_at(1, 0) == 1);
  CHECK(r.precision[0] == Approx(0.5));  // predicted 0 twice, right once
  CHECK(r.recall[0] == Approx(1.0));
  CHECK(r.precision[1] == Approx(0.5));
  CHECK(r.recall[1] == Approx(0.5));
  CHECK(r.precision[2] == Approx(1.0));
  CHECK(r.recall[2] == Approx(0.5));
  CHECK(r.f1[0] == Approx(2.0 / 3));
  CHECK(r.f1[2] == Approx(2.0 / 3));
  CHECK(r.macro_f1 == Approx((2.0 / 3 + 0.5 + 2.0 / 3) / 3));
}

TEST_CASE("regression metrics and a sum-reduced loss per sample", "[metrics]") {
  using Lin = nn::Sequential<nn::Dense<2, 1>>;
  Lin model;
  auto w = model.parameter("0.weight");
  auto b = model.parameter("0.bias");
  w[0] = 1.0f;
  w[1] = -2.0f;
  b[0] = 0.5f;
  // predictions 0.5 + x0 - 2 x1: rows (1, 0) -> 1.5, (0, 1) -> -1.5, (2, 2) -> -1.5
  data::Dataset<float> ds(3, 2, 1, {1, 0, 0, 1, 2, 2}, {1.0f, -1.0f, 0.5f}, "three rows");
  train::Trainer mean_t{model, loss::MSE{}, optim::SGD{}};
  const auto r = mean_t.evaluate(ds, 2);
  CHECK(r.mae == Approx((0.5 + 0.5 + 2.0) / 3));
  CHECK(r.rmse == Approx(std::sqrt((0.25 + 0.25 + 4.0) / 3)));
  CHECK(r.loss == Approx((0.25 + 0.25 + 4.0) / 3));
  train::Trainer sum_t{model, loss::MSE<loss::sum>{}, optim::SGD{}};
  CHECK(sum_t.evaluate(ds, 2).loss == Approx((0.25 + 0.25 + 4.0) / 3));  // per sample, whatever the batching
  CHECK(sum_t.evaluate(ds, 3).loss == Approx((0.25 + 0.25 + 4.0) / 3));
}

TEST_CASE("validation each epoch, a readable history and metric names", "[train]") {
  Net model{init::seed(1)};
  const auto train_set = blobs(120, 1), val_set = blobs(50, 2);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam({.lr = 0.02})};
  trainer.validate_on(val_set, {.batch_size = 16, .top_k = 2});
  const auto h = trainer.fit(train_set, {.epochs = 3, .batch_size = 32, .shuffle = true});
  REQUIRE(h.size() == 3);
  REQUIRE(trainer.history().size() == 3);
  for (const auto& e : h) REQUIRE(e.validation.has_value());
  const auto now = trainer.evaluate(val_set, {.batch_size = 50, .top_k = 2});
  CHECK(h[2].validation->loss == Approx(now.loss).epsilon(1e-5));
  CHECK(h[2].validation->accuracy == now.accuracy);
  CHECK(h[2].validation->k == 2);
  std::size_t total = 0;
  for (std::size_t v : h[2].validation->confusion) total += v;
  CHECK(total == 50);
  CHECK(train::metric(h[2], "val_accuracy") == h[2].validation->accuracy);
  CHECK(train::metric(h[2], "loss") == h[2].loss);
  CHECK_THROWS_WITH(train::metric(h[2], "val_f2"), Catch::Contains("unknown metric 'val_f2'"));
  train::epoch_result bare;
  CHECK_THROWS_WITH(train::metric(bare, "val_loss"), Catch::Contains("needs a validation set"));
}

TEST_CASE("early stopping stops at the right epoch and restores the best weights bit for bit", "[train]") {
  Net model{init::seed(2)};
  const auto ds = blobs(64, 3);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::SGD({.lr = 0.1, .momentum = 0.9})};
  // Improvement needs more than 0.005 below the best: epochs 1, 2 and 4
  // improve; 5 and 6 do not, and patience 2 stops at 6.
  const std::vector<double> scripted = {1.0, 0.8, 0.85, 0.79, 0.792, 0.81, 0.5, 0.4};
  train::EarlyStopping stop(model, [&](const train::epoch_result& r) { return scripted[r.epoch - 1]; },
                            {.patience = 2, .min_delta = 0.005, .restore_best_weights = true});
  std::vector<std::vector<float>> after;  // the parameters after each epoch
  auto record = [&](const train::epoch_result&) {
    const auto p = model.arena().flat();
    after.emplace_back(p.begin(), p.end());
  };
  const auto h = trainer.fit(ds, {.epochs = 8, .batch_size = 16}, record, stop);
  CHECK(h.size() == 6);
  CHECK(stop.stopped_epoch() == 6);
  CHECK(stop.best_epoch() == 4);
  CHECK(stop.best() == 0.79);
  REQUIRE(after.size() == 6);
  CHECK(after[3] != after[5]);
  const auto p = model.arena().flat();
  CHECK(std::vector<float>(p.begin(), p.end()) == after[3]);

  // A monitor by name, mode max, patience 0: the first epoch without
  // improvement stops.
  Net other{init::seed(2)};
  train::Trainer t2{other, loss::CrossEntropy{}, optim::SGD({.lr = 0.0})};  // nothing changes: no improvement
  t2.validate_on(ds);
  train::EarlyStopping s2(other, {.monitor = "val_accuracy", .maximize = true});
  CHECK(t2.fit(ds, {.epochs = 5, .batch_size = 16}, s2).size() == 2);
  CHECK(s2.stopped_epoch() == 2);
}

TEST_CASE("CSV and JSON-lines logs hold what the history holds", "[train]") {
  Net model{init::seed(3)};
  const auto train_set = blobs(60, 4), val_set = blobs(30, 5);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam({.lr = 0.01})};
  trainer.validate_on(val_set);
  const std::string csv = temp_path("log.csv"), jsonl = temp_path("log.jsonl");
  std::vector<train::epoch_result> h;
  {
    train::CSVLogger c(csv);
    train::JSONLinesLogger j(jsonl);
    h = trainer.fit(train_set, {.epochs = 3, .batch_size = 20}, c, j);
  }
  std::istringstream lines(read_file(csv));
  std::string line;
  std::getline(lines, line);
  CHECK(line == "epoch,loss,seconds,val_loss,val_accuracy,val_top_k_accuracy,val_macro_f1,val_mae,val_rmse");
  for (std::size_t e = 0; e < 3; ++e) {
    REQUIRE(std::getline(lines, line));
    std::vector<double> cells;
    std::istringstream row(line);
    std::string cell;
    while (std::getline(row, cell, ',')) cells.push_back(std::stod(cell));
    REQUIRE(cells.size() == 9);
    CHECK(cells[0] == static_cast<double>(e + 1));
    CHECK(cells[1] == Approx(h[e].loss).epsilon(1e-8));
    CHECK(cells[3] == Approx(h[e].validation->loss).epsilon(1e-8));
    CHECK(cells[4] == Approx(h[e].validation->accuracy).epsilon(1e-8));
  }
  CHECK_FALSE(std::getline(lines, line));
  std::istringstream jl(read_file(jsonl));
  for (std::size_t e = 0; e < 3; ++e) {
    REQUIRE(std::getline(jl, line));
    const auto j = nlohmann::json::parse(line);
    CHECK(j["epoch"] == e + 1);
    CHECK(j["loss"].get<double>() == Approx(h[e].loss).epsilon(1e-8));
    CHECK(j["val_macro_f1"].get<double>() == Approx(h[e].validation->macro_f1).epsilon(1e-8));
    CHECK(j["val_mae"].is_null());  // not applicable to classification: NaN, written as null
  }
  std::remove(csv.c_str());
  std::remove(jsonl.c_str());
  CHECK_THROWS_WITH(train::CSVLogger("/nonexistent-dir/x.csv"), Catch::Contains("cannot write the log /nonexistent-dir/x.csv: its folder /nonexistent-dir does not exist"));
}

TEST_CASE("the progress bar prints plain lines on a pipe and redraws on a terminal", "[train]") {
  Net model{init::seed(4)};
  const auto ds = blobs(200, 6);
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam({.lr = 0.01})};
  auto run = [&](bool terminal) {
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    train::ProgressBar bar(f, terminal);
    trainer.fit(ds, {.epochs = 2, .batch_size = 10}, bar);  // 20 steps per epoch
    std::fflush(f);
    std::rewind(f);
    std::string out;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    std::fclose(f);
    return out;
  };
  const std::string plain = run(false);
  CHECK(plain.find('\r') == std::string::npos);
  CHECK(plain.find("epoch 1/2 [") != std::string::npos);
  CHECK(plain.find("2/20") != std::string::npos);   // a line at each tenth of the epoch
  CHECK(plain.find("18/20") != std::string::npos);
  CHECK(plain.find("samples/s  ETA") != std::string::npos);
  CHECK(plain.find("epoch 2/2  loss ") != std::string::npos);  // the summary line
  std::size_t lines = 0;
  for (char c : plain) lines += c == '\n';
  CHECK(lines == 2 * (9 + 1));
  const std::string tty = run(true);
  CHECK(tty.find('\r') != std::string::npos);
  CHECK(tty.find("20/20") != std::string::npos);
}

TEST_CASE("the model summary comes from the types and pins the Fashion-MNIST MLP", "[summary]") {
  using Mlp = nn::Sequential<nn::Dense<784, 256>, nn::ReLU, nn::Dense<256, 128>, nn::ReLU, nn::Dense<128, 10>>;
  static_assert(Mlp::parameter_count == 235146);
  static_assert(nn::flops_per_sample<Mlp> == 2 * (784 * 256 + 256 * 128 + 128 * 10) + 256 + 128);
  constexpr auto layers = nn::layer_summaries<Mlp>();
  static_assert(layers.size() == 5);
  static_assert(layers[0].parameters == 200960 && layers[0].out_features == 256 && layers[0].flops == 401408);
  static_assert(layers[1].parameters == 0 && layers[1].in_features == 256);
  static_assert(layers[4].parameters == 1290 && layers[4].out_features == 10);
  const std::string s = nn::summary<Mlp>();
  CHECK(s.find("0 Dense<784, 256>  (batch, 256)             200,960       401,408") != std::string::npos);
  CHECK(s.find("parameters: 235,146") != std::string::npos);

  using WithState = nn::Sequential<nn::Dense<7, 5>, nn::BatchNorm1d<5>, nn::ReLU, nn::Dropout<0.25>, nn::Dense<5, 3>,
                                   nn::LayerNorm<3>>;
  static_assert(WithState::parameter_count == 7 * 5 + 5 + 2 * 5 + 5 * 3 + 3 + 2 * 3);
  constexpr auto ws = nn::layer_summaries<WithState>();
  static_assert(ws[1].parameters == 10 && ws[5].parameters == 6 && ws[3].parameters == 0);
  const std::string t = nn::summary<WithState>();
  CHECK(t.find("1 BatchNorm1d(5)") != std::string::npos);
  CHECK(t.find("3 Dropout(p=0.25)") != std::string::npos);
  CHECK(t.find("5 LayerNorm(3)") != std::string::npos);
}

TEST_CASE("the summary of a CNN shows image shapes and convolution FLOPs", "[summary][conv]") {
  using Cnn = nn::Sequential<nn::Unflatten<1, 28, 28>, nn::Conv2d<1, 32, 3, 1, 1>, nn::BatchNorm2d<32>, nn::ReLU,
                             nn::MaxPool2d<2>, nn::Conv2d<32, 64, 3, 2, 1>, nn::Flatten, nn::Dense<3136, 10>>;
  constexpr auto layers = nn::layer_summaries<Cnn>();
  static_assert(layers[1].parameters == 32 * 9 + 32 && layers[1].out_height == 28 && layers[1].out_width == 28);
  static_assert(layers[1].flops == 2 * 28 * 28 * 32 * 9);
  static_assert(layers[5].out_features == 64 && layers[5].out_height == 7 && layers[5].flops == 2 * 49 * 64 * 288);
  static_assert(layers[6].out_features == 3136 && layers[6].out_width == 0);
  const std::string s = nn::summary<Cnn>();
  CHECK(s.find("1 Conv2d(1, 32, 3, padding=1)") != std::string::npos);
  CHECK(s.find("(batch, 32, 28, 28)") != std::string::npos);
  CHECK(s.find("4 MaxPool2d(2, 2)") != std::string::npos);
  CHECK(s.find("5 Conv2d(32, 64, 3, stride=2, padding=1)  (batch, 64, 7, 7)") != std::string::npos);
  CHECK(s.find("(batch, 3136)") != std::string::npos);
}
