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

namespace {
// The plan of one root alone, run on the given inputs: what a sum computes
// in a loop of its own.
template <class Root>
std::vector<float> run_alone(std::size_t rows, const std::vector<float>& as, const std::vector<float>& cs,
                             std::size_t cols) {
  expr::plan<float, Root> plan(rows);
  plan.bind(expr::input<"a", 21>, as.data());
  plan.bind(expr::input<"c", 21>, cs.data());
  plan.run(rows);
  return {plan.template output<0>(), plan.template output<0>() + cols};
}
}  // namespace

TEST_CASE("sums over the rows of operands of one shape run in one loop", "[plan][fusion]") {
  constexpr auto a = expr::input<"a", 21>;
  constexpr auto c = expr::input<"c", 21>;
  constexpr auto s1 = expr::sum<0>(a * c);
  constexpr auto s2 = expr::sum<0>(a - c);
  constexpr auto s3 = expr::sum<0>(-(a * c) * expr::lit<0.5>);
  using S1 = std::remove_cvref_t<decltype(s1)>;
  using S2 = std::remove_cvref_t<decltype(s2)>;
  using S3 = std::remove_cvref_t<decltype(s3)>;
  // A sum whose operand reads another sum cannot share its loop, nor can
  // one whose value is read before the other sum's step. A later sum moves
  // to an earlier one's step when all it reads is ready there; else an
  // earlier one moves to the later one's step when nothing reads it before.
  // (A graph numbers the nodes of its last root first.)
  constexpr auto t1 = expr::sum<0>(a);
  constexpr auto after = expr::sum<0>(a * t1);
  constexpr auto p = c * t1;
  constexpr auto moved = expr::sum<0>(c * c);
  using T1 = std::remove_cvref_t<decltype(t1)>;
  using After = std::remove_cvref_t<decltype(after)>;
  using Moved = std::remove_cvref_t<decltype(moved)>;
  constexpr auto ready_late = expr::tanh(c);
  constexpr auto late = expr::sum<0>(ready_late * a);
  constexpr auto early = expr::sum<0>(a);
  using Late = std::remove_cvref_t<decltype(late)>;
  using Early = std::remove_cvref_t<decltype(early)>;
  // Operands of another shape are not joined.
  constexpr auto narrow = expr::sum<0>(expr::input<"n", 5>);
  using Narrow = std::remove_cvref_t<decltype(narrow)>;

  using P = expr::plan<float, S1, S2, S3>;
  STATIC_REQUIRE(P::is_joined<S1>());
  STATIC_REQUIRE(P::is_joined<S2>());
  STATIC_REQUIRE_FALSE(P::is_joined<S3>());  // the host, first in the plan's order
  STATIC_REQUIRE(P::num_steps == 1);
  using Q = expr::plan<float, Moved, std::remove_cvref_t<decltype(p)>, After, Narrow>;
  STATIC_REQUIRE_FALSE(Q::is_joined<T1>());
  STATIC_REQUIRE_FALSE(Q::is_joined<After>());
  STATIC_REQUIRE(Q::is_joined<Moved>());
  STATIC_REQUIRE_FALSE(Q::is_joined<Narrow>());
  using R = expr::plan<float, Late, std::remove_cvref_t<decltype(ready_late)>, Early>;
  STATIC_REQUIRE(R::is_joined<Early>());
  STATIC_REQUIRE_FALSE(R::is_joined<Late>());

  // Sizes around the chunking of column sums (256 rows) and its threading
  // (2^15 values), and 21 columns: a vector and a tail.
  for (const std::size_t rows : {std::size_t{3}, std::size_t{257}, std::size_t{1601}}) {
    CAPTURE(rows);
    const std::size_t cols = 21;
    std::vector<float> as(rows * cols), cs(rows * cols), ns(rows * 5);
    rng g(rows);
    g.fill_uniform(std::span<float>(as), -2, 2);
    g.fill_uniform(std::span<float>(cs), -2, 2);
    g.fill_uniform(std::span<float>(ns), -2, 2);
    P plan(rows);
    plan.bind(a, as.data());
    plan.bind(c, cs.data());
    plan.run(rows);
    // Each joined sum is the float its own loop gives.
    const auto alone1 = run_alone<S1>(rows, as, cs, cols), alone2 = run_alone<S2>(rows, as, cs, cols),
               alone3 = run_alone<S3>(rows, as, cs, cols);
    for (std::size_t j = 0; j < cols; ++j) {
      CAPTURE(j);
      CHECK(plan.output<0>()[j] == alone1[j]);
      CHECK(plan.output<1>()[j] == alone2[j]);
      CHECK(plan.output<2>()[j] == alone3[j]);
      double r1 = 0, r2 = 0;
      for (std::size_t i = 0; i < rows; ++i) {
        r1 += static_cast<double>(as[i * cols + j]) * cs[i * cols + j];
        r2 += static_cast<double>(as[i * cols + j]) - cs[i * cols + j];
      }
      CHECK(plan.output<0>()[j] == Approx(r1).epsilon(1e-4).margin(1e-3));
      CHECK(plan.output<1>()[j] == Approx(r2).epsilon(1e-4).margin(1e-3));
      CHECK(plan.output<2>()[j] == Approx(-0.5 * r1).epsilon(1e-4).margin(1e-3));
    }

    Q q(rows);
    q.bind(a, as.data());
    q.bind(c, cs.data());
    q.bind(expr::input<"n", 5>, ns.data());
    q.run(rows);
    std::vector<double> t(cols, 0.0);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < cols; ++j) t[j] += as[i * cols + j];
    for (std::size_t j = 0; j < cols; ++j) {
      CAPTURE(j);
      double sa = 0, sm = 0;
      for (std::size_t i = 0; i < rows; ++i) {
        sa += static_cast<double>(as[i * cols + j]) * t[j];
        sm += static_cast<double>(cs[i * cols + j]) * cs[i * cols + j];
        CHECK(q.output<1>()[i * cols + j] == Approx(cs[i * cols + j] * t[j]).epsilon(1e-4).margin(1e-2));
      }
      CHECK(q.output<2>()[j] == Approx(sa).epsilon(1e-4).margin(1e-2));
      CHECK(q.output<0>()[j] == Approx(sm).epsilon(1e-4).margin(1e-3));
    }
    for (std::size_t j = 0; j < 5; ++j) {
      double sn = 0;
      for (std::size_t i = 0; i < rows; ++i) sn += ns[i * 5 + j];
      CHECK(q.output<3>()[j] == Approx(sn).epsilon(1e-4).margin(1e-3));
    }

    R r(rows);
    r.bind(a, as.data());
    r.bind(c, cs.data());
    r.run(rows);
    for (std::size_t j = 0; j < cols; ++j) {
      CAPTURE(j);
      double sl = 0;
      for (std::size_t i = 0; i < rows; ++i) {
        sl += std::tanh(static_cast<double>(cs[i * cols + j])) * as[i * cols + j];
        CHECK(r.output<1>()[i * cols + j] == Approx(std::tanh(cs[i * cols + j])).epsilon(1e-5).margin(1e-6));
      }
      CHECK(r.output<0>()[j] == Approx(sl).epsilon(1e-4).margin(1e-3));
      CHECK(r.output<2>()[j] == Approx(t[j]).epsilon(1e-4).margin(1e-3));
    }
  }
}

TEST_CASE("a sum moved to an earlier step gets memory no value still read there holds", "[plan][fusion][workspace]") {
  // Walked last root first: u, e = exp(u), a, the host sum<0>(a e), then the
  // wide sum, then sum<0>(c c), which moves to the host's step. e's last
  // read is the host's loop: its memory is free only after that step, even
  // though the wide sum, created before the moved one, starts later.
  constexpr auto a = expr::input<"a", 21>;
  constexpr auto c = expr::input<"c", 21>;
  constexpr auto w = expr::input<"w", 64>;
  constexpr auto u = expr::param<"u", 21>;
  constexpr auto host = expr::sum<0>(a * expr::exp(u));
  constexpr auto wide = expr::sum<0>(w);
  constexpr auto moved = expr::sum<0>(c * c);
  using P = expr::plan<float, decltype(moved), decltype(wide), decltype(host)>;
  STATIC_REQUIRE(P::is_joined<std::remove_cvref_t<decltype(moved)>>());
  const std::size_t rows = 7, cols = 21;
  std::vector<float> as(rows * cols), cs(rows * cols), ws(rows * 64), us(cols);
  rng g(11);
  g.fill_uniform(std::span<float>(as), -2, 2);
  g.fill_uniform(std::span<float>(cs), -2, 2);
  g.fill_uniform(std::span<float>(ws), -2, 2);
  g.fill_uniform(std::span<float>(us), -1, 1);
  P plan(rows);
  plan.bind(a, as.data());
  plan.bind(c, cs.data());
  plan.bind(w, ws.data());
  plan.bind(u, us.data());
  plan.run(rows);
  for (std::size_t j = 0; j < cols; ++j) {
    CAPTURE(j);
    double sh = 0, sm = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      sh += static_cast<double>(as[i * cols + j]) * std::exp(static_cast<double>(us[j]));
      sm += static_cast<double>(cs[i * cols + j]) * cs[i * cols + j];
    }
    CHECK(plan.output<2>()[j] == Approx(sh).epsilon(1e-5).margin(1e-4));
    CHECK(plan.output<0>()[j] == Approx(sm).epsilon(1e-5).margin(1e-4));
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

TEST_CASE("row kernels match double precision at widths around the SIMD width", "[plan][rows]") {
  // A row's last values (fewer than a vector) are one padded vector; its
  // padding must add nothing to the sum nor win the maximum, and nothing
  // may be written after the row. Masked logits (-inf) and one row that is
  // all -inf but one value are included, and a row far below zero, whose
  // exponentials underflow unless they are shifted by its own maximum.
  rng g(7);
  for (std::size_t cols : {1, 2, 3, 7, 10, 15, 16, 17, 31, 33, 40}) {
    const std::size_t rows = 5;
    std::vector<float> x(rows * cols);
    g.fill_uniform(std::span<float>(x), -20, 20);
    if (cols > 1) x[1 * cols + cols / 2] = -INFINITY;
    for (std::size_t c = 0; c < cols; ++c) x[4 * cols + c] = -100.0f - std::fabs(x[4 * cols + c]);
    for (std::size_t c = 0; c < cols; ++c) x[3 * cols + c] = c == cols - 1 ? 4.0f : -INFINITY;
    std::vector<std::int32_t> labels(rows);
    for (std::size_t r = 0; r < rows; ++r) labels[r] = static_cast<std::int32_t>((r * 7 + 3) % cols);
    labels[3] = static_cast<std::int32_t>(cols - 1);
    if (cols > 1 && labels[1] == static_cast<std::int32_t>(cols / 2)) labels[1] = 0;
    const float guard = 12345.0f;
    std::vector<float> sm(rows * cols + 1, guard), lsm(rows * cols + 1, guard), probs(rows * cols + 1, guard),
        loss(rows + 1, guard);
    simd::softmax_rows(x.data(), sm.data(), rows, cols);
    simd::log_softmax_rows(x.data(), lsm.data(), rows, cols);
    simd::softmax_xent_rows(x.data(), labels.data(), loss.data(), rows, cols, probs.data());
    CHECK(sm.back() == guard);
    CHECK(lsm.back() == guard);
    CHECK(probs.back() == guard);
    CHECK(loss.back() == guard);
    for (std::size_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * cols;
      double m = -INFINITY;
      for (std::size_t c = 0; c < cols; ++c) m = std::max(m, double(xr[c]));
      double s = 0;
      for (std::size_t c = 0; c < cols; ++c) s += std::exp(double(xr[c]) - m);
      const double lse = m + std::log(s);
      CHECK(loss[r] == Approx(lse - xr[labels[r]]).epsilon(1e-5).margin(1e-5));
      for (std::size_t c = 0; c < cols; ++c) {
        const double p = std::exp(double(xr[c]) - lse);
        INFO("cols " << cols << " row " << r << " col " << c);
        CHECK(sm[r * cols + c] == Approx(p).epsilon(1e-5).margin(1e-12));
        CHECK(probs[r * cols + c] == Approx(p).epsilon(1e-5).margin(1e-12));
        if (std::isinf(xr[c])) CHECK(lsm[r * cols + c] == -INFINITY);
        else CHECK(lsm[r * cols + c] == Approx(double(xr[c]) - lse).epsilon(1e-5).margin(1e-5));
      }
    }
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

TEST_CASE("a one-column pass with a 1 x 1 bias is read flat and summed in vectors", "[plan][fusion]") {
  // A regression head: pred = W x + b with one output, loss = sum((pred - y)^2).
  // The 1 x 1 bias is read as one value, so the pass over the batch's single
  // column reads one contiguous run; each size below leaves a tail shorter
  // than a vector.
  constexpr auto xin = expr::input<"x", 10>;
  constexpr auto yin = expr::input<"y", 1>;
  constexpr auto w1 = expr::param<"w", 1, 10>;
  constexpr auto b1 = expr::param<"b", 1>;
  constexpr auto err = w1 * xin + b1 - yin;
  constexpr auto loss = expr::sum(expr::square(err));
  using Err = std::remove_cvref_t<decltype(err)>;
  using Loss = std::remove_cvref_t<decltype(loss)>;
  using P = expr::plan<float, Loss>;
  STATIC_REQUIRE(P::reads_flat<Err>());
  // A bias with several columns is broadcast over rows: not flat.
  constexpr auto wide = expr::param<"W", 3, 10> * xin + expr::param<"c", 3>;
  STATIC_REQUIRE_FALSE(expr::plan<float, std::remove_cvref_t<decltype(wide)>>::reads_flat<
                       std::remove_cvref_t<decltype(wide)>>());

  for (const std::size_t batch : {std::size_t{1}, std::size_t{15}, std::size_t{37}, std::size_t{100}}) {
    CAPTURE(batch);
    rng g(batch);
    std::vector<float> xs(batch * 10), ys(batch), ws(10), bs(1);
    g.fill_uniform(std::span<float>(xs), -1, 1);
    g.fill_uniform(std::span<float>(ys), -1, 1);
    g.fill_uniform(std::span<float>(ws), -1, 1);
    bs[0] = 0.25f;
    P plan(batch);
    plan.bind(xin, xs.data());
    plan.bind(yin, ys.data());
    plan.bind(w1, ws.data());
    plan.bind(b1, bs.data());
    plan.run(batch);
    double ref = 0;
    for (std::size_t i = 0; i < batch; ++i) {
      double p = bs[0];
      for (std::size_t k = 0; k < 10; ++k) p += static_cast<double>(ws[k]) * xs[i * 10 + k];
      ref += (p - ys[i]) * (p - ys[i]);
    }
    REQUIRE(plan.output<0>()[0] == Approx(ref).epsilon(1e-5));
  }
}
