// Optimizers, parameter groups and gradient clipping against torch.optim
// (tests/fixtures/optimizer_runs.json): ten full-batch steps of a small MLP
// through the Trainer, per option; state by name, double models and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ingot/ingot.hpp>
#include <ingot/simd/divide.hpp>

#include "fixtures.hpp"

using namespace ingot;

namespace {
using Net = nn::Sequential<nn::Dense<5, 3>, nn::Tanh, nn::Dense<3, 2>>;
const char* const names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};

template <class Model>
void load_init(Model& model, const nlohmann::json& init) {
  for (const char* n : names) {
    const auto v = fixtures::values<typename Model::value_type>(init[n]);
    auto p = model.parameter(n);
    REQUIRE(p.size() == v.size());
    std::copy(v.begin(), v.end(), p.begin());
  }
}

// Fits 10 epochs of one full batch and compares losses, gradient norms and
// the final parameters with torch's, within 1e-5 relative.
template <class Opt, class Loss = loss::MSE<>>
void run_case(Opt opt, const nlohmann::json& f, const nlohmann::json& c, Loss objective = {}) {
  INFO(c["name"].get<std::string>());
  Net model;
  load_init(model, f["init"]);
  data::Dataset<float> ds(7, 5, 2, fixtures::values(f["x"]), fixtures::values(f["y"]), "fixture");
  train::Trainer trainer{model, objective, std::move(opt)};
  train::fit_options o{.epochs = 10, .batch_size = 7};
  if (c["clip"].contains("clip_grad_norm")) o.clip_grad_norm = c["clip"]["clip_grad_norm"].get<double>();
  if (c["clip"].contains("clip_grad_value")) o.clip_grad_value = c["clip"]["clip_grad_value"].get<double>();
  std::vector<double> norms;
  struct record {
    std::vector<double>* norms;
    void on_batch_end(const train::batch_result& r) { norms->push_back(r.grad_norm); }
  };
  const auto history = trainer.fit(ds, o, record{&norms});
  const auto losses = fixtures::values<double>(c["losses"]);
  REQUIRE(history.size() == losses.size());
  for (std::size_t e = 0; e < losses.size(); ++e) {
    INFO("epoch " << e + 1);
    CHECK(history[e].loss == Approx(losses[e]).epsilon(1e-5));
  }
  const auto want_norms = fixtures::values<double>(c["grad_norms"]);
  for (std::size_t s = 0; s < want_norms.size(); ++s) CHECK(norms[s] == Approx(want_norms[s]).epsilon(1e-5));
  for (const char* n : names) {
    const auto want = fixtures::values(c["final"][n]);
    const auto got = model.parameter(n);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO(n << "[" << i << "]: ingot " << got[i] << ", torch " << want[i]);
      CHECK(std::abs(got[i] - want[i]) <= 1e-5 * std::abs(want[i]) + 1e-6);
    }
  }
}

double opt_or(const nlohmann::json& o, const char* key, double fallback) {
  return o.contains(key) ? o[key].get<double>() : fallback;
}
}  // namespace

TEST_CASE("SGD, Adam(amsgrad), AdamW, RMSprop, Adagrad, groups, clipping and penalties match torch over 10 steps",
          "[torch][optim]") {
  const auto f = fixtures::load("optimizer_runs.json");
  std::size_t cases = 0;
  for (const auto& c : f["cases"]) {
    const auto& o = c["options"];
    const std::string kind = c["optimizer"], groups = c["groups"].is_null() ? "" : c["groups"].get<std::string>();
    std::vector<optim::param_group> g;
    if (groups == "no_decay_vectors") g.push_back({optim::vectors(), std::nullopt, 0.0});
    if (groups == "layer2_lr") g.push_back({optim::prefixed("2."), 0.02, std::nullopt});
    const bool betas = o.contains("betas");
    const double b1 = betas ? o["betas"][0].get<double>() : 0.9, b2 = betas ? o["betas"][1].get<double>() : 0.999;
    const bool amsgrad = o.contains("amsgrad") && o["amsgrad"].get<bool>();
    if (c["name"] == "sgd_l2_penalty") {
      run_case(optim::SGD({.lr = 0.1, .momentum = 0.9}), f, c, loss::Penalized<loss::MSE<>, loss::L2Penalty<0.01>>{});
    } else if (c["name"] == "adam_l1_l2_penalty_named") {
      run_case(optim::Adam({.lr = 0.05}), f, c,
               loss::Penalized<loss::MSE<>, loss::L1Penalty<0.005, "0.weight">, loss::L2Penalty<0.02, "2.bias">>{});
    } else if (kind == "SGD") {
      run_case(optim::SGD({.lr = opt_or(o, "lr", 0.01),
                           .momentum = opt_or(o, "momentum", 0),
                           .weight_decay = opt_or(o, "weight_decay", 0),
                           .nesterov = o.contains("nesterov") && o["nesterov"].get<bool>()},
                          g),
               f, c);
    } else if (kind == "Adam") {
      run_case(optim::Adam({.lr = opt_or(o, "lr", 1e-3), .beta1 = b1, .beta2 = b2, .eps = opt_or(o, "eps", 1e-8),
                            .weight_decay = opt_or(o, "weight_decay", 0), .amsgrad = amsgrad},
                           g),
               f, c);
    } else if (kind == "AdamW") {
      run_case(optim::AdamW({.lr = opt_or(o, "lr", 1e-3), .beta1 = b1, .beta2 = b2, .eps = opt_or(o, "eps", 1e-8),
                             .weight_decay = opt_or(o, "weight_decay", 1e-2), .amsgrad = amsgrad},
                            g),
               f, c);
    } else if (kind == "RMSprop") {
      run_case(optim::RMSprop({.lr = opt_or(o, "lr", 1e-2), .alpha = opt_or(o, "alpha", 0.99),
                               .eps = opt_or(o, "eps", 1e-8), .weight_decay = opt_or(o, "weight_decay", 0),
                               .momentum = opt_or(o, "momentum", 0),
                               .centered = o.contains("centered") && o["centered"].get<bool>()},
                              g),
               f, c);
    } else if (kind == "Adagrad") {
      run_case(optim::Adagrad({.lr = opt_or(o, "lr", 1e-2), .lr_decay = opt_or(o, "lr_decay", 0),
                               .weight_decay = opt_or(o, "weight_decay", 0),
                               .initial_accumulator_value = opt_or(o, "initial_accumulator_value", 0),
                               .eps = opt_or(o, "eps", 1e-10)},
                              g),
               f, c);
    } else {
      FAIL("unknown optimizer " << kind);
    }
    ++cases;
  }
  CHECK(cases == 16);
}

TEST_CASE("parameter groups: defaults first, first match wins, an empty group is an error", "[optim]") {
  Net model;
  train::Trainer trainer{model, loss::MSE{},
                         optim::AdamW({.lr = 0.01, .weight_decay = 0.1},
                                      {{optim::named({"2.bias"}), 0.5, std::nullopt},
                                       {optim::vectors(), std::nullopt, 0.0}})};
  auto& opt = trainer.optimizer();
  REQUIRE(opt.num_groups() == 3);
  CHECK(opt.group_of("0.weight") == 0);
  CHECK(opt.group_of("2.weight") == 0);
  CHECK(opt.group_of("2.bias") == 1);
  CHECK(opt.group_of("0.bias") == 2);
  CHECK(opt.group(1).lr == 0.5);
  CHECK(opt.group(1).weight_decay == 0.1);
  CHECK(opt.group(2).lr == 0.01);
  CHECK(opt.group(2).weight_decay == 0.0);
  CHECK_THROWS_WITH(opt.group_of("1.weight"), Catch::Contains("no parameter named '1.weight'"));

  Net other;
  CHECK_THROWS_WITH((train::Trainer{other, loss::MSE{}, optim::SGD({.lr = 0.1}, {{optim::prefixed("7."), 0.1, {}}})}),
                    Catch::Contains("parameter group 1 (parameters whose name starts with '7.') takes no parameter"));
  CHECK_THROWS_WITH(optim::Adam({.lr = -1.0}), Catch::Contains("invalid learning rate"));
  CHECK_THROWS_WITH(optim::Adam({.beta1 = 1.0}), Catch::Contains("betas must be in [0, 1)"));
  CHECK_THROWS_WITH(optim::SGD({.lr = 0.1, .nesterov = true}), Catch::Contains("nesterov needs momentum"));
}

TEST_CASE("optimizer state is readable and writable by parameter and torch's key", "[optim]") {
  Net model{init::seed(2)};
  data::Dataset<float> ds(7, 5, 2, std::vector<float>(35, 0.5f), std::vector<float>(14, 1.0f), "constant");
  train::Trainer trainer{model, loss::MSE{}, optim::Adam({.lr = 0.01, .amsgrad = true})};
  auto& opt = trainer.optimizer();
  CHECK(opt.state_keys() == std::vector<std::string>{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  trainer.fit(ds, {.epochs = 2, .batch_size = 7});
  CHECK(opt.steps() == 2);
  // After two steps, exp_avg = 0.1 g1 * 0.9 + 0.1 g2 is non-zero wherever a gradient was.
  const auto m = opt.state<float>("2.weight", "exp_avg");
  REQUIRE(m.size() == 6);
  CHECK(std::any_of(m.begin(), m.end(), [](float v) { return v != 0; }));
  // Writing state changes the next step: a zeroed state and step count
  // make the next step the same as a first step.
  Net fresh{init::seed(2)};
  for (const char* n : names) {
    auto a = model.parameter(n);
    std::copy(a.begin(), a.end(), fresh.parameter(n).begin());
  }
  train::Trainer again{fresh, loss::MSE{}, optim::Adam({.lr = 0.01, .amsgrad = true})};
  for (const char* n : names)
    for (const char* k : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
      auto s = opt.state<float>(n, k);
      std::fill(s.begin(), s.end(), 0.0f);
    }
  opt.set_steps(0);
  trainer.fit(ds, {.epochs = 1, .batch_size = 7});
  again.fit(ds, {.epochs = 1, .batch_size = 7});
  for (const char* n : names) {
    const auto a = model.parameter(n), b = fresh.parameter(n);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);
  }
  CHECK_THROWS_WITH(opt.state<float>("0.weight", "momentum_buffer"),
                    Catch::Contains("no state 'momentum_buffer' (this optimizer keeps: 'exp_avg', 'exp_avg_sq'"));
  CHECK_THROWS_WITH(opt.state<double>("0.weight", "exp_avg"), Catch::Contains("another value type"));
}

TEST_CASE("each optimizer steps double values as it steps float ones", "[optim]") {
  // 37 values: SIMD batches and a tail in both types. Gradients are a
  // fixed function of the parameters, so the trajectories stay comparable.
  auto run = [&]<class Opt>(Opt make) {
    Opt of = make, od = make;
    of.template attach<float>(37);
    od.template attach<double>(37);
    std::vector<float> pf(37), gf(37);
    std::vector<double> pd(37), gd(37);
    for (std::size_t i = 0; i < 37; ++i) pd[i] = pf[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
    for (int s = 0; s < 6; ++s) {
      for (std::size_t i = 0; i < 37; ++i) {
        gf[i] = pf[i] - 0.3f + 0.01f * static_cast<float>(i);
        gd[i] = pd[i] - 0.3 + 0.01 * static_cast<double>(i);
      }
      of.step(std::span<float>(pf), std::span<const float>(gf));
      od.step(std::span<double>(pd), std::span<const double>(gd));
    }
    bool moved = false;
    for (std::size_t i = 0; i < 37; ++i) {
      CHECK(pf[i] == Approx(pd[i]).epsilon(1e-4).margin(1e-5));
      moved = moved || pd[i] != static_cast<double>(static_cast<float>(std::sin(0.7 * static_cast<double>(i))));
    }
    CHECK(moved);
    CHECK_THROWS_WITH(of.step(std::span<double>(pd), std::span<const double>(gd)), Catch::Contains("another value type"));
  };
  run(optim::SGD({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01}));
  run(optim::Adam({.lr = 0.01, .amsgrad = true}));
  run(optim::AdamW({.lr = 0.01}));
  run(optim::RMSprop({.lr = 0.01, .momentum = 0.5, .centered = true}));
  run(optim::Adagrad({.lr = 0.1, .lr_decay = 0.01}));
}

TEST_CASE("clip_grad_norm and clip_grad_value on their own", "[optim]") {
  std::vector<float> g = {3, -4, 0, 0, 0, 0, 0, 0, 0, 12};  // 2-norm 13, 1-norm 19, inf-norm 12
  auto copy = g;
  CHECK(optim::clip_grad_norm(std::span<float>(copy), 100.0) == Approx(13));
  CHECK(copy == g);  // under the limit: unchanged
  CHECK(optim::clip_grad_norm(std::span<float>(copy), 6.5) == Approx(13));
  CHECK(copy[0] == Approx(1.5).epsilon(1e-6));
  CHECK(copy[9] == Approx(6.0).epsilon(1e-6));
  copy = g;
  CHECK(optim::clip_grad_norm(std::span<float>(copy), 1.0, 1.0) == Approx(19));
  copy = g;
  CHECK(optim::clip_grad_norm(std::span<float>(copy), 1.0, optim::inf_norm) == Approx(12));
  CHECK(copy[9] == Approx(1.0).epsilon(1e-6));
  copy = g;
  optim::clip_grad_value(std::span<float>(copy), 3.5);
  CHECK(copy[0] == 3.0f);
  CHECK(copy[1] == -3.5f);
  CHECK(copy[9] == 3.5f);
  std::vector<float> bad = {1, NAN};
  CHECK_THROWS_WITH(optim::clip_grad_norm(std::span<float>(bad), 1.0, 2.0, true),
                    Catch::Contains("total norm of the gradients is nan"));
}

TEST_CASE("a diverging run stops with its epoch and step, or skips the batch", "[train]") {
  Net model{init::seed(5)};
  rng g(3);
  std::vector<float> x(64 * 5), y(64 * 2);
  for (auto& v : x) v = static_cast<float>(g.normal());
  for (auto& v : y) v = static_cast<float>(g.normal());
  data::Dataset<float> ds(64, 5, 2, std::move(x), std::move(y), "noise");
  train::Trainer trainer{model, loss::MSE{}, optim::SGD({.lr = 1e6})};
  CHECK_THROWS_WITH(trainer.fit(ds, {.epochs = 5, .batch_size = 16}),
                    Catch::Matches(".*training loss is (inf|nan|-nan) at epoch [0-9]+, step [0-9]+ of 4.*"));

  Net other{init::seed(5)};
  train::Trainer skipping{other, loss::MSE{}, optim::SGD({.lr = 1e6})};
  std::size_t skipped = 0;
  struct count {
    std::size_t* n;
    void on_batch_end(const train::batch_result& r) { *n += r.skipped; }
  };
  CHECK_NOTHROW(skipping.fit(ds, {.epochs = 3, .batch_size = 16, .skip_nonfinite = true}, count{&skipped}));
  CHECK(skipped > 0);
}

namespace {
std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
// What a / c gives, one division at a time (volatile: not turned into anything else).
float divided(float a, float c) {
  volatile float q = a / c;
  return q;
}
}  // namespace

TEST_CASE("a fixed divisor divides bit for bit as a / c, without a division", "[optim][simd]") {
  // Square roots of floats across the whole range (Adam divides sqrt(v)):
  // random bit patterns of non-negative floats, subnormals included, and the
  // ends: 0, the smallest subnormal, the largest float, infinity, NaN.
  random_stream g(11, 0, 0);
  std::vector<float> a;
  const float ends[] = {0.0f, std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                        std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::quiet_NaN(), 1.0f, 2.0f, 0.5f};
  for (float v : ends) a.push_back(std::sqrt(v));  // in SIMD batches
  for (int i = 0; i < 20000; ++i) {
    const std::uint32_t b = static_cast<std::uint32_t>(g.next() >> 33) % 0x7f800000u;
    float v;
    std::memcpy(&v, &b, sizeof v);
    a.push_back(std::sqrt(v));
  }
  for (float v : ends) a.push_back(std::sqrt(v));  // in the scalar tail
  a.push_back(3.0f);  // 20019 values
  // Adam's sqrt(1 - beta2^t) for several betas and steps, and other divisors,
  // including ones outside [2^-60, 1] (these divide).
  std::vector<float> divisors;
  for (double beta2 : {0.999, 0.99, 0.9, 0.5, 0.9999})
    for (int t = 1; t <= 5000; t = t < 20 ? t + 1 : t * 3 / 2)
      divisors.push_back(static_cast<float>(std::sqrt(1.0 - std::pow(beta2, t))));
  for (float c : {1.0f, 0.7f, 1e-10f, 1e-19f, 1e-30f, 3.0f, 1e20f}) divisors.push_back(c);
  std::vector<float> q(a.size());
  std::size_t compared = 0, differ = 0;
  for (float c : divisors) {
    const simd::exact_divisor<float> d(c);
    simd::for_each_batch<float>(a.size(), [&]<class U>(std::size_t i) {
      simd::store(q.data() + i, d.divide(simd::load<U>(a.data() + i)));
    });
    for (std::size_t i = 0; i < a.size(); ++i) {
      const float want = divided(a[i], c);
      const bool same = std::isnan(want) ? std::isnan(q[i]) : bits_of(q[i]) == bits_of(want);
      if (!same && differ++ < 3) UNSCOPED_INFO("c = " << c << ", a = " << a[i] << ": " << q[i] << " instead of " << want);
      ++compared;
    }
  }
  CHECK(compared == divisors.size() * a.size());
  CHECK(differ == 0);
}
