// Losses, optimizers and whole training runs against PyTorch's own numbers
// (tests/fixtures, made by tools/make_fixtures.py with torch 2.13 on CPU).
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

// Loss value and gradient with respect to the prediction, from a float plan.
template <class Loss, std::size_t C, class TargetValue>
std::pair<float, std::vector<float>> loss_and_grad(const std::vector<float>& y, const std::vector<TargetValue>& t,
                                                   std::size_t rows) {
  using Y = expr::data_leaf<"y", C>;
  using Target = typename Loss::template target_leaf<Y>;
  using L = decltype(Loss::apply(Y{}, Target{}));
  expr::plan<float, L, expr::grad_t<L, Y>> plan(rows);
  std::vector<float> grad(rows * C);
  plan.template bind<Y>(y.data());
  plan.template bind<Target>(t.data());
  plan.template bind_output<1>(grad.data());
  plan.run(rows);
  return {plan.template output<0>()[0], grad};
}
}  // namespace

TEST_CASE("MSE, cross-entropy and BCE match torch, value and gradient", "[torch][loss]") {
  const auto f = fixtures::load("losses.json");
  {
    const auto& c = f["mse"];
    auto [loss, grad] = loss_and_grad<loss::MSE<>, 11>(fixtures::values(c["y"]), fixtures::values(c["t"]), 6);
    CHECK(loss == Approx(c["loss"].get<double>()).epsilon(1e-6));
    require_close(grad, fixtures::values(c["grad"]), 1e-5, 1e-8);
  }
  {
    const auto& c = f["cross_entropy"];
    auto [loss, grad] = loss_and_grad<loss::CrossEntropy<>, 11>(fixtures::values(c["logits"]),
                                                              fixtures::values<std::int32_t>(c["labels"]), 6);
    CHECK(loss == Approx(c["loss"].get<double>()).epsilon(1e-6));
    require_close(grad, fixtures::values(c["grad"]), 1e-5, 1e-8);
  }
  {
    const auto& c = f["bce"];
    auto [loss, grad] = loss_and_grad<loss::BCE<>, 3>(fixtures::values(c["p"]), fixtures::values(c["t"]), 6);
    CHECK(loss == Approx(c["loss"].get<double>()).epsilon(1e-6));
    require_close(grad, fixtures::values(c["grad"]), 1e-5, 1e-8);
  }
}

namespace {
template <class Opt>
void run_optimizer(Opt opt, const nlohmann::json& f, const nlohmann::json& c) {
  const std::size_t n = f["n"].get<std::size_t>();  // 37: four SIMD batches and a tail
  std::vector<float> p = fixtures::values(f["p0"]);
  opt.attach(n);
  for (std::size_t s = 0; s < f["grads"].size(); ++s) {
    const std::vector<float> g = fixtures::values(f["grads"][s]);
    opt.step(std::span<float>(p), std::span<const float>(g));
    INFO(c["name"].get<std::string>() << " after step " << s + 1);
    require_close(p, fixtures::values(c["after"][s]), 2e-6, 2e-7);
  }
}
}  // namespace

TEST_CASE("SGD and Adam steps match torch.optim", "[torch][optim]") {
  const auto f = fixtures::load("optimizers.json");
  std::size_t cases = 0;
  for (const auto& c : f["cases"]) {
    const auto& o = c["options"];
    auto get = [&](const char* key, float fallback) { return o.contains(key) ? o[key].get<float>() : fallback; };
    if (c["optimizer"] == "SGD") {
      run_optimizer(optim::SGD{{.lr = get("lr", 0.01f),
                                .momentum = get("momentum", 0),
                                .dampening = get("dampening", 0),
                                .weight_decay = get("weight_decay", 0),
                                .nesterov = o.contains("nesterov") && o["nesterov"].get<bool>()}},
                    f, c);
    } else {
      const bool betas = o.contains("betas");
      run_optimizer(optim::Adam{{.lr = get("lr", 1e-3f),
                                 .beta1 = betas ? o["betas"][0].get<float>() : 0.9f,
                                 .beta2 = betas ? o["betas"][1].get<float>() : 0.999f,
                                 .eps = get("eps", 1e-8f),
                                 .weight_decay = get("weight_decay", 0)}},
                    f, c);
    }
    ++cases;
  }
  CHECK(cases == 6);
}

TEST_CASE("the seed loop reproduces torch's 20 losses from the same start", "[torch][seed]") {
  const auto f = fixtures::load("seed_linear_regression.json");
  using Net = nn::Sequential<nn::Dense<10, 1>>;
  Net model;
  auto w = model.parameter("0.weight");
  auto b = model.parameter("0.bias");
  const auto w0 = fixtures::values(f["weight"]), b0 = fixtures::values(f["bias"]);
  std::copy(w0.begin(), w0.end(), w.begin());
  std::copy(b0.begin(), b0.end(), b.begin());
  data::Dataset<float> ds(100, 10, 1, fixtures::values(f["x"]), fixtures::values(f["y"]), "seed fixture");
  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f}}};
  const auto history = trainer.fit(ds, {.epochs = 20, .batch_size = 100});
  const auto losses = fixtures::values<double>(f["losses"]);
  REQUIRE(history.size() == 20);
  for (std::size_t e = 0; e < 20; ++e) {
    INFO("epoch " << e + 1 << ": ingot " << history[e].loss << ", torch " << losses[e]);
    CHECK(std::abs(history[e].loss - losses[e]) <= 1e-5 * std::abs(losses[e]));
  }
  require_close(model.parameter("0.weight"), fixtures::values(f["final_weight"]), 1e-5, 1e-7);
  require_close(model.parameter("0.bias"), fixtures::values(f["final_bias"]), 1e-5, 1e-7);
}

TEST_CASE("an MLP under cross-entropy and Adam follows torch for 10 steps", "[torch][mlp]") {
  const auto f = fixtures::load("mlp_adam.json");
  using Net = nn::Sequential<nn::Dense<7, 13>, nn::ReLU, nn::Dense<13, 3>>;
  Net model;
  REQUIRE(Net::parameter_names() == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  for (const auto& [name, values] : f["init"].items()) {
    auto dst = model.parameter(name);
    const auto src = fixtures::values(values);
    REQUIRE(src.size() == dst.size());
    std::copy(src.begin(), src.end(), dst.begin());
  }
  data::Dataset<std::int32_t> ds(20, 7, 1, fixtures::values(f["x"]), fixtures::values<std::int32_t>(f["labels"]),
                                 "mlp fixture");
  train::Trainer trainer{model, loss::CrossEntropy{}, optim::Adam{{.lr = 0.01f}}};
  const auto history = trainer.fit(ds, {.epochs = 10, .batch_size = 20});
  const auto losses = fixtures::values<double>(f["losses"]);
  for (std::size_t e = 0; e < 10; ++e) {
    INFO("step " << e + 1 << ": ingot " << history[e].loss << ", torch " << losses[e]);
    CHECK(std::abs(history[e].loss - losses[e]) <= 1e-5 * std::abs(losses[e]));
  }
  for (const auto& [name, values] : f["final"].items()) {
    INFO(name);
    require_close(model.parameter(name), fixtures::values(values), 1e-4, 1e-6);
  }
}
