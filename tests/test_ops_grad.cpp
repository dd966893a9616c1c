// Every primitive op's derivative against central finite differences, with
// shapes that are not multiples of the SIMD width (13 x 7, batch 5).
#include "gradcheck.hpp"

using namespace ingot;
using expr::lit;

namespace {
constexpr auto x = expr::input<"x", 7>;
constexpr auto z = expr::input<"z", 7>;
constexpr auto b = expr::param<"b", 7>;
constexpr auto W = expr::param<"W", 13, 7>;
constexpr auto V = expr::param<"V", 13, 7>;
constexpr auto U = expr::param<"U", 7, 11>;
gradcheck::options positive() {
  gradcheck::options o;
  o.lo = 0.3;
  o.hi = 2.5;
  return o;
}
}  // namespace

TEST_CASE("unary ops: derivative matches finite differences", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(-x, o, x) == 35);
  CHECK(gradcheck::check(expr::exp(x), o, x) == 35);
  CHECK(gradcheck::check(expr::log(x), positive(), x) == 35);
  CHECK(gradcheck::check(expr::sqrt(x), positive(), x) == 35);
  CHECK(gradcheck::check(expr::square(x), o, x) == 35);
  CHECK(gradcheck::check(expr::tanh(x), o, x) == 35);
  CHECK(gradcheck::check(expr::sigmoid(x), o, x) == 35);
  CHECK(gradcheck::check(expr::relu(x), o, x) == 35);
  CHECK(gradcheck::check(expr::leaky_relu(x), o, x) == 35);
  CHECK(gradcheck::check(expr::leaky_relu<-0.3>(x), o, x) == 35);
  CHECK(gradcheck::check(expr::gelu(x), o, x) == 35);
}

TEST_CASE("unary ops on a parameter matrix", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(expr::tanh(W), o, W) == 91);
  CHECK(gradcheck::check(expr::gelu(expr::square(W)), o, W) == 91);
}

TEST_CASE("binary ops with broadcasting of a bias row and a scalar", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(x + z, o, x, z) == 70);
  CHECK(gradcheck::check(x - z, o, x, z) == 70);
  CHECK(gradcheck::check(x * z, o, x, z) == 70);
  CHECK(gradcheck::check(x / expr::exp(z), o, x, z) == 70);
  CHECK(gradcheck::check(x + b, o, x, b) == 42);
  CHECK(gradcheck::check(b - x, o, x, b) == 42);
  CHECK(gradcheck::check(x * b, o, x, b) == 42);
  CHECK(gradcheck::check(x / b, positive(), x, b) == 42);
  CHECK(gradcheck::check(b / x, positive(), x, b) == 42);
  CHECK(gradcheck::check(lit<2.5> * x - lit<1.0>, o, x) == 35);
  CHECK(gradcheck::check(expr::hadamard(W, V) - V / expr::exp(W), o, W, V) == 182);
}

TEST_CASE("matrix products", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(W * x, o, W, x) == 91 + 35);      // per-sample W x, batch 5
  CHECK(gradcheck::check(W * U, o, W, U) == 91 + 77);      // 13x7 times 7x11
  CHECK(gradcheck::check(expr::matmul(x, U), o, x, U) == 35 + 77);
  CHECK(gradcheck::check(W * expr::tanh(x * b), o, W, x, b) == 91 + 35 + 7);
}

TEST_CASE("reductions over everything and over each axis", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(expr::sum(x * z), o, x, z) == 70);
  CHECK(gradcheck::check(expr::mean(expr::square(x)), o, x) == 35);
  CHECK(gradcheck::check(expr::sum<0>(x), o, x) == 35);
  CHECK(gradcheck::check(expr::sum<1>(expr::exp(x)), o, x) == 35);
  CHECK(gradcheck::check(expr::mean<0>(x * x), o, x) == 35);
  CHECK(gradcheck::check(expr::mean<1>(x), o, x) == 35);
  CHECK(gradcheck::check(expr::sum<0>(W), o, W) == 91);
  CHECK(gradcheck::check(expr::mean<1>(expr::tanh(W)), o, W) == 91);
  // A row broadcast back over the batch: x - mean over the batch.
  CHECK(gradcheck::check(x - expr::mean<0>(x), o, x) == 35);
  // A column broadcast back over the features: x / sum_j x_j.
  CHECK(gradcheck::check(x / expr::sum<1>(x), positive(), x) == 35);
}

TEST_CASE("softmax, log-softmax and cross-entropy", "[grad][ops]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(expr::softmax(x), o, x) == 35);
  CHECK(gradcheck::check(expr::log_softmax(x * b), o, x, b) == 42);
  CHECK(gradcheck::check(expr::softmax(W), o, W) == 91);

  // Cross-entropy against labels: the labels are bound, not differentiated.
  using L = decltype(expr::cross_entropy(x * b, expr::labels<"y">));
  using G = expr::plan<double, L, expr::grad_t<L, expr::data_leaf<"x", 7>>,
                       expr::grad_t<L, expr::param_leaf<"b", 1, 7, false>>>;
  G plan(5);
  rng g(3);
  std::vector<double> xs(35), bs(7), gx(35), gb(7);
  g.fill_uniform(std::span<double>(xs), -2, 2);
  g.fill_uniform(std::span<double>(bs), -2, 2);
  const std::vector<std::int32_t> labels = {0, 6, 3, 3, 1};
  plan.bind(x, xs.data());
  plan.bind(b, bs.data());
  plan.bind(expr::labels<"y">, labels.data());
  plan.bind_output<1>(gx.data());
  plan.bind_output<2>(gb.data());
  plan.run(5);
  const std::vector<double> analytic = gx;
  const double h = 1e-6;
  for (std::size_t i = 0; i < 35; ++i) {
    const double keep = xs[i];
    xs[i] = keep + h;
    plan.run(5);
    const double up = plan.output<0>()[0];
    xs[i] = keep - h;
    plan.run(5);
    const double down = plan.output<0>()[0];
    xs[i] = keep;
    CHECK(analytic[i] == Approx((up - down) / (2 * h)).epsilon(1e-6).margin(1e-9));
  }
  // The loss itself: mean of logsumexp - picked logit.
  plan.run(5);
  double expected = 0;
  for (std::size_t r = 0; r < 5; ++r) {
    double m = -1e300, s = 0;
    for (std::size_t c = 0; c < 7; ++c) m = std::max(m, xs[r * 7 + c] * bs[c]);
    for (std::size_t c = 0; c < 7; ++c) s += std::exp(xs[r * 7 + c] * bs[c] - m);
    expected += m + std::log(s) - xs[r * 7 + labels[r]] * bs[labels[r]];
  }
  CHECK(plan.output<0>()[0] == Approx(expected / 5).epsilon(1e-12));
}

TEST_CASE("a shared sub-expression is one node, evaluated once", "[grad][plan]") {
  constexpr auto c = expr::param<"c", 13>;
  constexpr auto h = expr::tanh(W * x + c);
  using H = std::remove_cvref_t<decltype(h)>;
  using L = decltype(expr::sum(h * h + h));
  using G = expr::graph_of<L>;
  // h appears three times in the expression but once in the graph, with a buffer.
  STATIC_REQUIRE(G::contains<H>);
  STATIC_REQUIRE(G::use_count(G::id_of<H>) == 3);
  STATIC_REQUIRE(std::is_same_v<expr::node_t<G, G::id_of<H>>, H>);
  STATIC_REQUIRE(expr::plan<double, L>::is_materialized<H>());
  const gradcheck::options o;
  CHECK(gradcheck::check(h * h + h, o, W, x, c) == 91 + 35 + 13);
}

TEST_CASE("a leaf the loss does not read gets a zero gradient", "[grad]") {
  const gradcheck::options o;
  CHECK(gradcheck::check(expr::exp(x), o, x, b) == 35 + 7);
}
