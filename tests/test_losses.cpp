// Every loss, option and reduction against torch.nn.functional
// (tests/fixtures/loss_options.json): the value and the gradient with
// respect to the prediction, on 7 x 11 and 7 x 3 inputs; finite differences
// for the new element-wise ops; the loss/target mismatch is a compile error
// (tests/compile_fail).
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <ingot/ingot.hpp>
#include <map>

#include "fixtures.hpp"
#include "gradcheck.hpp"

using namespace ingot;

namespace {
template <class Loss, std::size_t C>
void check_case(const Loss& loss, const nlohmann::json& c) {
  using Y = expr::data_leaf<"y", C>;
  using Target = typename Loss::template target_leaf<Y>;
  using L = decltype(Loss::apply(Y{}, Target{}));
  const std::size_t rows = c["rows"].get<std::size_t>();
  REQUIRE(c["cols"].get<std::size_t>() == C);
  expr::plan<float, L, expr::grad_t<L, Y>> plan(rows);
  const auto y = fixtures::values(c["y"]);
  std::vector<float> grad(rows * C);
  plan.template bind<Y>(y.data());
  std::vector<float> t_float;
  std::vector<std::int32_t> t_int;
  if constexpr (std::is_same_v<typename Loss::target_value, float>) {
    t_float = fixtures::values(c["t"]);
    plan.template bind<Target>(t_float.data());
  } else {
    t_int = fixtures::values<std::int32_t>(c["t"]);
    plan.template bind<Target>(t_int.data());
  }
  if constexpr (requires { loss.template bind<Y>(plan); }) loss.template bind<Y>(plan);
  plan.template bind_output<1>(grad.data());
  plan.run(rows);
  INFO(c["name"].get<std::string>());
  CHECK(plan.template output<0>()[0] == Approx(c["value"].get<double>()).epsilon(1e-5));
  const auto want = fixtures::values(c["grad"]);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("gradient " << i << ": ingot " << grad[i] << ", torch " << want[i]);
    CHECK(std::abs(grad[i] - want[i]) <= 1e-5 * std::abs(want[i]) + 1e-7);
  }
}

std::vector<float> tensor(const nlohmann::json& c, const char* key) { return fixtures::values(c[key]); }
}  // namespace

TEST_CASE("every loss, option and reduction matches torch, value and gradient", "[torch][loss]") {
  const auto f = fixtures::load("loss_options.json");
  using namespace loss;
  static constexpr ce_options smooth_mean{.label_smoothing = 0.1}, smooth_sum{.label_smoothing = 0.1, .reduce = sum};
  static constexpr ce_options weighted_mean{.weighted = true}, weighted_sum{.weighted = true, .reduce = sum};
  static constexpr ce_options ws_mean{.label_smoothing = 0.2, .weighted = true},
      ws_sum{.label_smoothing = 0.2, .weighted = true, .reduce = sum};
  static constexpr ce_options prob_mean{.probabilities = true}, prob_sum{.probabilities = true, .reduce = sum};
  static constexpr ce_options psw_mean{.label_smoothing = 0.15, .probabilities = true, .weighted = true},
      psw_sum{.label_smoothing = 0.15, .probabilities = true, .weighted = true, .reduce = sum};
  const std::map<std::string, std::function<void(const nlohmann::json&)>> runs = {
      {"mse_mean", [](auto& c) { check_case<MSE<>, 11>({}, c); }},
      {"mse_sum", [](auto& c) { check_case<MSE<sum>, 11>({}, c); }},
      {"l1_mean", [](auto& c) { check_case<L1<>, 11>({}, c); }},
      {"l1_sum", [](auto& c) { check_case<L1<sum>, 11>({}, c); }},
      {"smooth_l1_beta1_mean", [](auto& c) { check_case<SmoothL1<>, 11>({}, c); }},
      {"smooth_l1_beta0.5_sum", [](auto& c) { check_case<SmoothL1<0.5, sum>, 11>({}, c); }},
      {"smooth_l1_beta0_mean", [](auto& c) { check_case<SmoothL1<0.0>, 11>({}, c); }},
      {"huber_delta1_mean", [](auto& c) { check_case<Huber<>, 11>({}, c); }},
      {"huber_delta0.3_sum", [](auto& c) { check_case<Huber<0.3, sum>, 11>({}, c); }},
      {"bce_mean", [](auto& c) { check_case<BCE<>, 3>({}, c); }},
      {"bce_sum", [](auto& c) { check_case<BCE<sum>, 3>({}, c); }},
      {"bce_logits_mean", [](auto& c) { check_case<BCEWithLogits<>, 3>({}, c); }},
      {"bce_logits_sum", [](auto& c) { check_case<BCEWithLogits<sum>, 3>({}, c); }},
      {"bce_logits_pos_weight_mean",
       [](auto& c) { check_case<BCEWithLogits<mean, true>, 3>({tensor(c, "pos_weight")}, c); }},
      {"bce_logits_pos_weight_sum",
       [](auto& c) { check_case<BCEWithLogits<sum, true>, 3>({tensor(c, "pos_weight")}, c); }},
      {"nll_mean", [](auto& c) { check_case<NLL<>, 11>({}, c); }},
      {"nll_sum", [](auto& c) { check_case<NLL<sum>, 11>({}, c); }},
      {"nll_weighted_mean", [](auto& c) { check_case<NLL<mean, true>, 11>({tensor(c, "weight")}, c); }},
      {"nll_weighted_sum", [](auto& c) { check_case<NLL<sum, true>, 11>({tensor(c, "weight")}, c); }},
      {"ce_mean", [](auto& c) { check_case<CrossEntropy<>, 11>({}, c); }},
      {"ce_sum", [](auto& c) { check_case<CrossEntropy<{.reduce = sum}>, 11>({}, c); }},
      {"ce_smoothing_mean", [](auto& c) { check_case<CrossEntropy<smooth_mean>, 11>({}, c); }},
      {"ce_smoothing_sum", [](auto& c) { check_case<CrossEntropy<smooth_sum>, 11>({}, c); }},
      {"ce_weighted_mean", [](auto& c) { check_case<CrossEntropy<weighted_mean>, 11>({tensor(c, "weight")}, c); }},
      {"ce_weighted_sum", [](auto& c) { check_case<CrossEntropy<weighted_sum>, 11>({tensor(c, "weight")}, c); }},
      {"ce_weighted_smoothing_mean", [](auto& c) { check_case<CrossEntropy<ws_mean>, 11>({tensor(c, "weight")}, c); }},
      {"ce_weighted_smoothing_sum", [](auto& c) { check_case<CrossEntropy<ws_sum>, 11>({tensor(c, "weight")}, c); }},
      {"ce_probabilities_mean", [](auto& c) { check_case<CrossEntropy<prob_mean>, 11>({}, c); }},
      {"ce_probabilities_sum", [](auto& c) { check_case<CrossEntropy<prob_sum>, 11>({}, c); }},
      {"ce_probabilities_smoothing_weighted_mean",
       [](auto& c) { check_case<CrossEntropy<psw_mean>, 11>({tensor(c, "weight")}, c); }},
      {"ce_probabilities_smoothing_weighted_sum",
       [](auto& c) { check_case<CrossEntropy<psw_sum>, 11>({tensor(c, "weight")}, c); }},
  };
  std::size_t cases = 0;
  for (const auto& c : f["cases"]) {
    const auto it = runs.find(c["name"].get<std::string>());
    if (it == runs.end()) FAIL("no ingot loss for fixture case " << c["name"]);
    it->second(c);
    ++cases;
  }
  CHECK(cases == runs.size());
}

TEST_CASE("abs, softplus, smooth_l1 and huber pass finite differences", "[loss][grad]") {
  // 5 x 13 values uniform in [-2, 2]: a kink (0, +-beta, +-delta) within the
  // step h of one is a probability-zero event, and the seed is fixed.
  using X = expr::data_leaf<"x", 13>;
  constexpr X x{};
  const gradcheck::options o{};
  CHECK(gradcheck::check(expr::abs(x), o, x) == 65);
  CHECK(gradcheck::check(expr::softplus(x), o, x) == 65);
  CHECK(gradcheck::check(expr::smooth_l1<0.5>(x), o, x) == 65);
  CHECK(gradcheck::check(expr::huber<1.0>(x), o, x) == 65);
  CHECK(gradcheck::check(expr::softplus(x * expr::lit<30.0>), o, x) == 65);  // far from zero on both sides
}

TEST_CASE("a loss's run-time weights must fit the model's outputs", "[loss]") {
  using Net = nn::Sequential<nn::Dense<4, 3>>;
  Net model;
  train::Trainer trainer{model, loss::CrossEntropy<{.weighted = true}>{{1.0f, 2.0f}}, optim::SGD{}};
  std::vector<float> x(8, 0.5f);
  std::vector<std::int32_t> y = {0, 2};
  CHECK_THROWS_WITH(trainer.step(x.data(), y.data(), 2),
                    Catch::Contains("loss::CrossEntropy weight has 2 values; the model has 3 outputs"));
}
