// Layers with modes and state: BatchNorm1d, LayerNorm and Dropout against
// PyTorch's own numbers (tests/fixtures/norms.json and
// mlp_batchnorm_dropout.json), and Dropout's statistics. None of these
// layers has a backward of its own: every gradient here is derived.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>

#include "fixtures.hpp"

using namespace ingot;

namespace {
void require_close(std::span<const float> got, const std::vector<float>& want, double rel, double abs) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": ingot " << got[i] << ", torch " << want[i]);
    REQUIRE(std::abs(static_cast<double>(got[i]) - want[i]) <= abs + rel * std::abs(static_cast<double>(want[i])));
  }
}

void set(std::span<float> dst, const std::vector<float>& src) {
  REQUIRE(dst.size() == src.size());
  std::copy(src.begin(), src.end(), dst.begin());
}

// Output, and gradients of sum(y * R) with respect to the input, the
// weight and the bias, of a one-layer model in its training form.
template <class Net, std::size_t N>
struct layer_probe {
  using X = typename Net::input;
  using Y = typename Net::train_output;
  using R = expr::data_leaf<"R", N>;
  using L = expr::sum_node<-1, expr::mul_t<Y, R>>;
  using W = type_at_t<0, typename Net::params>;
  using B = type_at_t<1, typename Net::params>;
  using P = expr::plan<float, L, Y, expr::grad_t<L, X>, expr::grad_t<L, W>, expr::grad_t<L, B>>;

  std::vector<float> y, gx, gw, gb;
  layer_probe(Net& net, const std::vector<float>& x, const std::vector<float>& proj, std::size_t rows)
      : y(rows * N), gx(rows * N), gw(N), gb(N) {
    P plan(rows);
    plan.template bind<X>(x.data());
    plan.template bind<R>(proj.data());
    plan.template bind<W>(net.arena().template get<W>().data());
    plan.template bind<B>(net.arena().template get<B>().data());
    plan.template bind_output<1>(y.data());
    plan.template bind_output<2>(gx.data());
    plan.template bind_output<3>(gw.data());
    plan.template bind_output<4>(gb.data());
    plan.run(rows);
  }
};
}  // namespace

TEST_CASE("BatchNorm1d in training mode matches torch: output and gradients", "[layers][torch][batchnorm]") {
  const auto f = fixtures::load("norms.json")["batchnorm1d"];
  using Net = nn::Sequential<nn::BatchNorm1d<11>>;
  Net net;
  CHECK(Net::parameter_names() == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(Net::state_names() ==
        std::vector<std::string>{"0.running_mean", "0.running_var", "0.num_batches_tracked"});
  set(net.parameter("0.weight"), fixtures::values(f["weight"]));
  set(net.parameter("0.bias"), fixtures::values(f["bias"]));
  const auto& s = f["first_step"];
  layer_probe<Net, 11> probe(net, fixtures::values(s["x"]), fixtures::values(f["projection"]), 7);
  require_close(probe.y, fixtures::values(s["y"]), 1e-5, 1e-5);
  require_close(probe.gx, fixtures::values(s["grad_x"]), 1e-4, 1e-5);
  require_close(probe.gw, fixtures::values(s["grad_weight"]), 1e-4, 1e-5);
  require_close(probe.gb, fixtures::values(s["grad_bias"]), 1e-5, 1e-5);
}

TEST_CASE("BatchNorm1d's running statistics follow torch for 3 steps; evaluation uses them",
          "[layers][torch][batchnorm]") {
  const auto f = fixtures::load("norms.json")["batchnorm1d"];
  using Net = nn::Sequential<nn::BatchNorm1d<11>>;
  Net net;
  // A new model starts like torch's: running mean 0, variance 1, no batches.
  for (float v : net.state().find("0.running_mean")) CHECK(v == 0.0f);
  for (float v : net.state().find("0.running_var")) CHECK(v == 1.0f);
  CHECK(net.state().find_counter("0.num_batches_tracked") == 0);
  set(net.parameter("0.weight"), fixtures::values(f["weight"]));
  set(net.parameter("0.bias"), fixtures::values(f["bias"]));
  // lr 0: the parameters stay put and only the state moves.
  train::Trainer trainer{net, loss::MSE{}, optim::SGD{{.lr = 0.0f}}};
  const std::vector<float> zeros(7 * 11, 0.0f);
  for (const auto& x : f["x_steps"]) trainer.compute_gradients(fixtures::values(x).data(), zeros.data(), 7);
  require_close(net.state().find("0.running_mean"), fixtures::values(f["running_mean"]), 1e-5, 1e-6);
  require_close(net.state().find("0.running_var"), fixtures::values(f["running_var"]), 1e-5, 1e-6);
  CHECK(net.state().find_counter("0.num_batches_tracked") == f["num_batches_tracked"].get<std::int64_t>());
  const auto x_eval = fixtures::values(f["x_eval"]);
  require_close(trainer.predict(x_eval.data(), 7), fixtures::values(f["y_eval"]), 1e-5, 1e-5);
  // Evaluation does not move the state.
  const std::vector<float> before(net.state().find("0.running_mean").begin(), net.state().find("0.running_mean").end());
  trainer.predict(x_eval.data(), 7, 3);
  require_close(net.state().find("0.running_mean"), before, 0, 0);
}

TEST_CASE("BatchNorm1d refuses a training batch of one row, naming the layer", "[layers][batchnorm][errors]") {
  using Net = nn::Sequential<nn::Dense<3, 4>, nn::BatchNorm1d<4>>;
  Net net{init::seed(1)};
  train::Trainer trainer{net, loss::MSE{}, optim::SGD{}};
  const std::vector<float> x(3, 0.5f), y(4, 0.0f);
  CHECK_THROWS_WITH(trainer.step(x.data(), y.data(), 1),
                    Catch::Contains("1.BatchNorm1d") && Catch::Contains("more than 1 value per channel"));
  // Evaluation uses the running statistics: one row is fine.
  CHECK(trainer.predict(x.data(), 1).size() == 4);
}

TEST_CASE("LayerNorm matches torch: output and gradients", "[layers][torch][layernorm]") {
  const auto f = fixtures::load("norms.json")["layernorm"];
  using Net = nn::Sequential<nn::LayerNorm<13>>;
  Net net;
  // Initialised like torch: weight ones, bias zeros.
  for (float v : net.parameter("0.weight")) CHECK(v == 1.0f);
  for (float v : net.parameter("0.bias")) CHECK(v == 0.0f);
  STATIC_REQUIRE(std::is_same_v<Net::train_output, Net::eval_output>);
  set(net.parameter("0.weight"), fixtures::values(f["weight"]));
  set(net.parameter("0.bias"), fixtures::values(f["bias"]));
  layer_probe<Net, 13> probe(net, fixtures::values(f["x"]), fixtures::values(f["projection"]), 5);
  require_close(probe.y, fixtures::values(f["y"]), 1e-5, 1e-5);
  require_close(probe.gx, fixtures::values(f["grad_x"]), 1e-4, 1e-5);
  require_close(probe.gw, fixtures::values(f["grad_weight"]), 1e-5, 1e-5);
  require_close(probe.gb, fixtures::values(f["grad_bias"]), 1e-5, 1e-5);
}

TEST_CASE("an MLP with BatchNorm and Dropout(0) follows torch for 5 SGD steps", "[layers][torch][mlp]") {
  const auto f = fixtures::load("mlp_batchnorm_dropout.json");
  using Net = nn::Sequential<nn::Dense<7, 16>, nn::BatchNorm1d<16>, nn::ReLU, nn::Dropout<0.0>, nn::Dense<16, 3>>;
  Net net;
  for (const auto& [name, values] : f["init"].items()) {
    if (name.find("running") != std::string::npos) set(net.state().find(name), fixtures::values(values));
    else set(net.parameter(name), fixtures::values(values));
  }
  data::Dataset<std::int32_t> ds(20, 7, 1, fixtures::values(f["x"]), fixtures::values<std::int32_t>(f["labels"]),
                                 "mlp fixture");
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.1f, .momentum = 0.9f}}};
  const auto history = trainer.fit(ds, {.epochs = 5, .batch_size = 20});
  const auto losses = fixtures::values<double>(f["losses"]);
  for (std::size_t e = 0; e < 5; ++e) {
    INFO("step " << e + 1 << ": ingot " << history[e].loss << ", torch " << losses[e]);
    CHECK(std::abs(history[e].loss - losses[e]) <= 1e-5 * std::abs(losses[e]));
  }
  for (const auto& [name, values] : f["final"].items()) {
    INFO(name);
    if (name.find("running") != std::string::npos) require_close(net.state().find(name), fixtures::values(values), 1e-4, 1e-6);
    else require_close(net.parameter(name), fixtures::values(values), 1e-4, 1e-6);
  }
  // BatchNorm subtracts the batch mean: the bias before it gets no gradient.
  for (float g : trainer.gradient<nn::Dense<7, 16>::bias<"0.">>()) CHECK(std::abs(g) < 1e-6f);
  CHECK(net.state().find_counter("1.num_batches_tracked") == f["num_batches_tracked"].get<std::int64_t>());
  require_close(trainer.predict(ds.x.data(), 20), fixtures::values(f["eval_logits"]), 1e-4, 1e-5);
}

TEST_CASE("dropout masks: the dropped fraction, the scaling, and p = 0 and 1", "[layers][dropout]") {
  std::vector<float> mask(100003);
  random_stream stream(42, 0, 0);
  expr::dropout_mask<0.3>::fill(std::span<float>(mask), stream);
  std::size_t dropped = 0;
  for (float m : mask) {
    if (m == 0.0f) ++dropped;
    else REQUIRE(m == static_cast<float>(1.0 / 0.7));
  }
  // 100003 draws: the fraction is within 0.006 of 0.3 (over 4 standard deviations).
  CHECK(std::abs(static_cast<double>(dropped) / mask.size() - 0.3) < 0.006);
  random_stream s0(1, 0, 0), s1(1, 0, 0);
  expr::dropout_mask<0.0>::fill(std::span<float>(mask), s0);
  for (float m : mask) REQUIRE(m == 1.0f);
  expr::dropout_mask<1.0>::fill(std::span<float>(mask), s1);
  for (float m : mask) REQUIRE(m == 0.0f);
}

TEST_CASE("Dropout trains with fresh masks from the seed and is the identity in evaluation", "[layers][dropout]") {
  using Net = nn::Sequential<nn::Dense<6, 40>, nn::Dropout<0.5>, nn::Dense<40, 2>>;
  using Plain = nn::Sequential<nn::Dense<6, 40>, nn::Dense<40, 2>>;
  STATIC_REQUIRE_FALSE(std::is_same_v<Net::train_output, Net::eval_output>);
  STATIC_REQUIRE(Net::num_parameters() == 4);
  rng g(3);
  std::vector<float> x(9 * 6), y(9 * 2);
  g.fill_normal(std::span<float>(x));
  g.fill_normal(std::span<float>(y));

  // Evaluation: exactly the network without the Dropout layer.
  Net net{init::seed(5)};
  Plain plain;
  std::copy(net.arena().flat().begin(), net.arena().flat().end(), plain.arena().flat().begin());
  train::Trainer t_net{net, loss::MSE{}, optim::SGD{}};
  train::Trainer t_plain{plain, loss::MSE{}, optim::SGD{}};
  require_close(t_net.predict(x.data(), 9), t_plain.predict(x.data(), 9), 0, 0);

  // Training: same seed, same masks, same parameters; another seed differs,
  // and so does the next step's mask.
  auto train3 = [&](std::uint64_t seed) {
    Net m{init::seed(5)};
    train::Trainer t{m, loss::MSE{}, optim::SGD{{.lr = 0.1f}}};
    t.manual_seed(seed);
    std::vector<float> losses;
    for (int s = 0; s < 3; ++s) losses.push_back(t.step(x.data(), y.data(), 9));
    return std::pair{losses, std::vector<float>(m.arena().flat().begin(), m.arena().flat().end())};
  };
  const auto a = train3(7), b = train3(7), c = train3(8);
  CHECK(a.second == b.second);
  CHECK(a.first == b.first);
  CHECK(a.second != c.second);

  // The masked half of the hidden units gets no gradient on its incoming
  // weights: with one row, about half the rows of 0.weight's gradient are 0.
  Net m{init::seed(5)};
  train::Trainer t{m, loss::MSE{}, optim::SGD{}};
  t.compute_gradients(x.data(), y.data(), 1);
  const auto gw = t.gradient<nn::Dense<6, 40>::weight<"0.">>();
  std::size_t zero_rows = 0;
  for (std::size_t r = 0; r < 40; ++r) {
    bool zero = true;
    for (std::size_t c = 0; c < 6; ++c) zero = zero && gw[r * 6 + c] == 0.0f;
    zero_rows += zero;
  }
  CHECK(zero_rows > 8);
  CHECK(zero_rows < 32);
}
