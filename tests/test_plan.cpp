// What the planner decides (fusion, buffers) and what it refuses (bad
// batches, unbound inputs, labels out of range), with exact values checked
// against plain loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

namespace {
constexpr auto x = expr::input<"x", 19>;
constexpr auto W = expr::param<"W", 37, 19>;
constexpr auto b = expr::param<"b", 37>;
using X = expr::data_leaf<"x", 19>;
using Wt = expr::param_leaf<"W", 37, 19, true>;
using Bt = expr::param_leaf<"b", 1, 37, false>;
using Z = expr::matmul_node<false, true, X, Wt, false>;
using Pre = expr::ew<expr::add_op, Z, Bt>;
}  // namespace

TEST_CASE("bias and activation run as the GEMM's epilogue, in one buffer", "[plan][fusion]") {
  constexpr auto y = expr::relu(W * x + b);
  using Y = std::remove_cvref_t<decltype(y)>;
  using P = expr::plan<float, Y>;
  STATIC_REQUIRE(std::is_same_v<typename Y::op, expr::relu_op>);
  STATIC_REQUIRE(P::is_epilogue_fused<Z>());
  STATIC_REQUIRE_FALSE(P::is_materialized<Pre>());  // the bias add is fused, never stored
  STATIC_REQUIRE(P::is_materialized<Y>());

  const std::size_t batch = 13;
  rng g(5);
  std::vector<float> xs(batch * 19), ws(37 * 19), bs(37);
  g.fill_uniform(std::span<float>(xs), -1, 1);
  g.fill_uniform(std::span<float>(ws), -1, 1);
  g.fill_uniform(std::span<float>(bs), -1, 1);
  P plan(16);
  plan.bind(x, xs.data());
  plan.bind(W, ws.data());
  plan.bind(b, bs.data());
  plan.run(batch);
  const float* out = plan.output<0>();
  for (std::size_t i = 0; i < batch; ++i)
    for (std::size_t o = 0; o < 37; ++o) {
      double z = bs[o];
      for (std::size_t k = 0; k < 19; ++k) z += static_cast<double>(ws[o * 19 + k]) * xs[i * 19 + k];
      REQUIRE(out[i * 37 + o] == Approx(std::max(z, 0.0)).margin(1e-5));
    }
}

TEST_CASE("an activation's derivative runs as the input-gradient GEMM's epilogue", "[plan][fusion]") {
  // Two layers. The gradient of W2 alone needs no input gradient: the two
  // forward products host bias + tanh (the second tanh is stored, as its
  // derivative reads it). The gradient of W adds dH = dY W2, which hosts
  // dH * (1 - h^2): the gradient at the first pre-activation is written
  // while each tile of dH is in L1, never as a pass of its own.
  constexpr auto W2 = expr::param<"W2", 5, 37>;
  constexpr auto b2 = expr::param<"b2", 5>;
  using W2t = expr::param_leaf<"W2", 5, 37, true>;
  using L = decltype(expr::sum(expr::tanh(W2 * expr::tanh(W * x + b) + b2)));
  STATIC_REQUIRE(expr::plan<float, L>::num_epilogues() == 1);  // the second tanh is summed in the sum's loop
  STATIC_REQUIRE(expr::plan<float, L, expr::grad_t<L, W2t>>::num_epilogues() == 2);
  STATIC_REQUIRE(expr::plan<float, L, expr::grad_t<L, Wt>>::num_epilogues() == 3);
}

TEST_CASE("the pre-activation is stored only when a derivative needs it and cannot recompute it", "[plan][fusion]") {
  // tanh's derivative is written on its output: the pre-activation is fused away.
  using Lt = decltype(expr::sum(expr::tanh(W * x + b)));
  using Gt = expr::plan<float, Lt, expr::grad_t<Lt, Wt>>;
  STATIC_REQUIRE_FALSE(Gt::is_materialized<Pre>());
  STATIC_REQUIRE(Gt::is_epilogue_fused<Z>());
  // gelu's derivative needs its input: the pre-activation (an add of a row)
  // is computed again from the product, which is stored, in both users.
  using Lg = decltype(expr::sum(expr::gelu(W * x + b)));
  using Gg = expr::plan<float, Lg, expr::grad_t<Lg, Wt>>;
  STATIC_REQUIRE_FALSE(Gg::is_materialized<Pre>());
  STATIC_REQUIRE(Gg::is_materialized<Z>());
  STATIC_REQUIRE_FALSE(Gg::is_epilogue_fused<Z>());
}

TEST_CASE("a cheap value read by several loops is computed in each, not stored", "[plan][fusion]") {
  // d = (a - mean) * c is read by two column sums and a pass: each of the
  // three loops computes it again from a, the row of means and c.
  constexpr auto a = expr::input<"a", 21>;
  constexpr auto c = expr::input<"c", 21>;
  constexpr auto m = expr::param<"m", 21>;
  constexpr auto d = (a - m) * c;
  constexpr auto s1 = expr::sum<0>(d);
  constexpr auto s2 = expr::sum<0>(d * a);
  constexpr auto y = d * expr::lit<2.0> + a;
  using D = std::remove_cvref_t<decltype(d)>;
  using P = expr::plan<float, std::remove_cvref_t<decltype(s1)>, std::remove_cvref_t<decltype(s2)>,
                       std::remove_cvref_t<decltype(y)>>;
  STATIC_REQUIRE_FALSE(P::is_materialized<D>());
  // Four users of a value that reads two full inputs: storing it is cheaper.
  constexpr auto e = a * c;
  using E = std::remove_cvref_t<decltype(e)>;
  using Q = expr::plan<float, decltype(expr::sum<0>(e)), decltype(expr::sum<0>(e * a)), decltype(expr::sum<0>(e * c)),
                       decltype(expr::sum<0>(e * e * e))>;
  STATIC_REQUIRE(Q::graph_type::use_count(Q::graph_type::id_of<E>) == 6);
  STATIC_REQUIRE(Q::is_materialized<E>());
  // tanh is not cheap: computed once, stored.
  constexpr auto t = expr::tanh(a);
  using Tn = std::remove_cvref_t<decltype(t)>;
  STATIC_REQUIRE(expr::plan<float, decltype(expr::sum<0>(t)), decltype(expr::sum<0>(t * a))>::is_materialized<Tn>());

  const std::size_t rows = 5, cols = 21;
  std::vector<float> as(rows * cols), cs(rows * cols), ms(cols);
  rng g(3);
  g.fill_uniform(std::span<float>(as), -2, 2);
  g.fill_uniform(std::span<float>(cs), -2, 2);
  g.fill_uniform(std::span<float>(ms), -1, 1);
  P plan(rows);
  plan.bind(a, as.data());
  plan.bind(c, cs.data());
  plan.bind(m, ms.data());
  plan.run(rows);
  for (std::size_t j = 0; j < cols; ++j) {
    double t1 = 0, t2 = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      const double dv = (static_cast<double>(as[i * cols + j]) - ms[j]) * cs[i * cols + j];
      t1 += dv;
      t2 += dv * as[i * cols + j];
      CHECK(plan.output<2>()[i * cols + j] == Approx(dv * 2 + as[i * cols + j]).epsilon(1e-5).margin(1e-6));
    }
    CHECK(plan.output<0>()[j] == Approx(t1).epsilon(1e-5).margin(1e-5));
    CHECK(plan.output<1>()[j] == Approx(t2).epsilon(1e-5).margin(1e-5));
  }
}

TEST_CASE("a plan refuses a batch it was not sized for and unbound inputs", "[plan][errors]") {
  constexpr auto y = expr::tanh(W * x + b);
  expr::plan<float, std::remove_cvref_t<decltype(y)>> plan(4);
  std::vector<float> xs(5 * 19), ws(37 * 19), bs(37);
  plan.bind(W, ws.data());
  plan.bind(b, bs.data());
  CHECK_THROWS_WITH(plan.run(1), Catch::Contains("leaf 'x' is not bound"));
  plan.bind(x, xs.data());
  CHECK_THROWS_WITH(plan.run(5), Catch::Contains("this plan takes 1 to 4"));
  CHECK_THROWS_AS(plan.run(0), std::invalid_argument);
  CHECK_NOTHROW(plan.run(4));
  using Y = std::remove_cvref_t<decltype(y)>;
  CHECK_THROWS_AS(([] { expr::plan<float, Y> p(0); }()), std::invalid_argument);
}

TEST_CASE("cross-entropy names the row of a label out of range", "[plan][errors]") {
  constexpr auto logits = expr::input<"logits", 3>;
  constexpr auto labels = expr::labels<"y">;
  using L = decltype(expr::cross_entropy(logits, labels));
  expr::plan<float, L> plan(4);
  std::vector<float> xs(12, 0.5f);
  std::vector<std::int32_t> ys = {0, 2, 3, 1};
  plan.bind(logits, xs.data());
  plan.bind(labels, ys.data());
  CHECK_THROWS_WITH(plan.run(4), Catch::Contains("label 3 at row 2") && Catch::Contains("[0, 3)"));
  ys[2] = 1;
  plan.run(4);
  CHECK(plan.output<0>()[0] == Approx(std::log(3.0)));
}

TEST_CASE("softmax rows sum to one for widths around the SIMD width", "[plan]") {
  constexpr auto a = expr::input<"a", 17>;
  constexpr auto s = expr::softmax(a);
  expr::plan<float, std::remove_cvref_t<decltype(s)>> plan(3);
  std::vector<float> xs(3 * 17);
  rng g(1);
  g.fill_uniform(std::span<float>(xs), -30, 30);
  plan.bind(a, xs.data());
  plan.run(3);
  for (std::size_t r = 0; r < 3; ++r) {
    double sum = 0;
    for (std::size_t c = 0; c < 17; ++c) sum += plan.output<0>()[r * 17 + c];
    CHECK(sum == Approx(1.0).epsilon(1e-6));
  }
}

TEST_CASE("cross-entropy and its gradient's softmax are one kernel with two outputs", "[plan][fusion]") {
  constexpr auto labels = expr::labels<"y">;
  using L = decltype(expr::cross_entropy(W * x + b, labels));
  using G = expr::grad_t<L, Bt>;
  using P = expr::plan<float, L, G>;
  using Logits = std::remove_cvref_t<decltype(W * x + b)>;
  using Labels = std::remove_cvref_t<decltype(labels)>;
  using Xent = expr::softmax_xent_node<Logits, Labels>;
  // The gradient reads the probabilities: the kernel writes them in the same pass.
  STATIC_REQUIRE(P::has_output<Xent>(0));
  STATIC_REQUIRE(P::has_output<Xent>(1));
  STATIC_REQUIRE_FALSE(P::graph_type::contains<expr::softmax_node<Logits>>);
  // Without the gradient the probabilities are not computed at all.
  STATIC_REQUIRE(expr::plan<float, L>::has_output<Xent>(0));
  STATIC_REQUIRE_FALSE(expr::plan<float, L>::has_output<Xent>(1));

  // Gradient of the bias: mean over rows of softmax - onehot.
  const std::size_t batch = 5;
  rng g(2);
  std::vector<float> xs(batch * 19), ws(37 * 19), bs(37), gb(37);
  g.fill_uniform(std::span<float>(xs), -1, 1);
  g.fill_uniform(std::span<float>(ws), -1, 1);
  g.fill_uniform(std::span<float>(bs), -1, 1);
  const std::vector<std::int32_t> ys = {3, 0, 36, 17, 3};
  P plan(batch);
  plan.bind(x, xs.data());
  plan.bind(W, ws.data());
  plan.bind(b, bs.data());
  plan.bind(labels, ys.data());
  plan.bind_output<1>(gb.data());
  plan.run(batch);
  std::vector<double> expected(37, 0.0);
  double loss = 0;
  for (std::size_t i = 0; i < batch; ++i) {
    std::vector<double> z(37);
    double m = -1e300, s = 0;
    for (std::size_t o = 0; o < 37; ++o) {
      z[o] = bs[o];
      for (std::size_t k = 0; k < 19; ++k) z[o] += static_cast<double>(ws[o * 19 + k]) * xs[i * 19 + k];
      m = std::max(m, z[o]);
    }
    for (std::size_t o = 0; o < 37; ++o) s += std::exp(z[o] - m);
    loss += m + std::log(s) - z[static_cast<std::size_t>(ys[i])];
    for (std::size_t o = 0; o < 37; ++o)
      expected[o] += (std::exp(z[o] - m) / s - (o == static_cast<std::size_t>(ys[i]) ? 1.0 : 0.0)) / batch;
  }
  CHECK(plan.output<0>()[0] == Approx(loss / batch).epsilon(1e-5));
  for (std::size_t o = 0; o < 37; ++o) CHECK(gb[o] == Approx(expected[o]).margin(1e-6));
}
