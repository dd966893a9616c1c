// The opened planner: nodes with several outputs, buffer reuse by liveness,
// and the kernel protocol's row ranges.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>
#include <vector>

#include "gradcheck.hpp"

using namespace ingot;

namespace {
constexpr auto x = expr::input<"x", 9>;
constexpr auto W = expr::param<"W", 11, 9>;
constexpr auto b = expr::param<"b", 11>;
constexpr auto first_labels = expr::labels<"y1">;
constexpr auto second_labels = expr::labels<"y2">;
using Bt = expr::param_leaf<"b", 1, 11, false>;
using Wt = expr::param_leaf<"W", 11, 9, true>;
}  // namespace

TEST_CASE("two cross-entropies of the same logits: loss-only and gradient plans agree", "[schedule][outputs]") {
  // Mixup-style: each cross-entropy is its own two-output kernel, so both
  // plans compute the same loss whatever else they hold.
  using L = decltype(expr::cross_entropy(W * x + b, first_labels) + expr::cross_entropy(W * x + b, second_labels));
  const std::size_t rows = 6;
  rng g(9);
  std::vector<double> xs(rows * 9), ws(11 * 9), bs(11), gb(11), gw(11 * 9);
  g.fill_uniform(std::span<double>(xs), -2, 2);
  g.fill_uniform(std::span<double>(ws), -1, 1);
  g.fill_uniform(std::span<double>(bs), -1, 1);
  const std::vector<std::int32_t> l1 = {0, 3, 10, 5, 5, 1}, l2 = {7, 3, 2, 0, 9, 10};

  expr::plan<double, L> loss_only(rows);
  expr::plan<double, L, expr::grad_t<L, Bt>, expr::grad_t<L, Wt>> with_grads(rows);
  auto bind = [&](auto& p) {
    p.bind(x, xs.data());
    p.bind(W, ws.data());
    p.bind(b, bs.data());
    p.bind(first_labels, l1.data());
    p.bind(second_labels, l2.data());
  };
  bind(loss_only);
  bind(with_grads);
  with_grads.bind_output<1>(gb.data());
  with_grads.bind_output<2>(gw.data());
  loss_only.run(rows);
  with_grads.run(rows);

  // The loss by hand: mean over rows of both cross-entropies.
  double expected = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    std::vector<double> z(11);
    double m = -1e300, s = 0;
    for (std::size_t o = 0; o < 11; ++o) {
      z[o] = bs[o];
      for (std::size_t k = 0; k < 9; ++k) z[o] += ws[o * 9 + k] * xs[i * 9 + k];
      m = std::max(m, z[o]);
    }
    for (double v : z) s += std::exp(v - m);
    expected += 2 * (m + std::log(s)) - z[static_cast<std::size_t>(l1[i])] - z[static_cast<std::size_t>(l2[i])];
  }
  expected /= rows;
  CHECK(loss_only.output<0>()[0] == Approx(expected).epsilon(1e-12));
  CHECK(with_grads.output<0>()[0] == Approx(expected).epsilon(1e-12));

  // The gradient of the bias against central differences of the loss-only plan.
  const std::vector<double> analytic = gb;
  for (std::size_t o = 0; o < 11; ++o) {
    const double keep = bs[o];
    bs[o] = keep + 1e-6;
    loss_only.run(rows);
    const double up = loss_only.output<0>()[0];
    bs[o] = keep - 1e-6;
    loss_only.run(rows);
    const double down = loss_only.output<0>()[0];
    bs[o] = keep;
    CHECK(analytic[o] == Approx((up - down) / 2e-6).margin(1e-8).epsilon(1e-6));
  }
}

TEST_CASE("moments: one node, two outputs, derivatives of both", "[schedule][outputs][grad]") {
  constexpr auto v = expr::input<"v", 7>;
  const gradcheck::options o;
  {
    const auto [mean, var] = expr::moments<0>(v);
    CHECK(gradcheck::check((v - mean) * var, o, v) == 35);
    CHECK(gradcheck::check(var, o, v) == 35);
    CHECK(gradcheck::check(mean + var * var, o, v) == 35);
  }
  {
    const auto [mean, var] = expr::moments<1>(v);
    CHECK(gradcheck::check((v - mean) / expr::sqrt(var + expr::lit<0.1>), o, v) == 35);
    CHECK(gradcheck::check(mean, o, v) == 35);
  }
  // Values: mean and biased variance per column.
  using K = expr::moments_node<0, expr::data_leaf<"v", 7>>;
  expr::plan<double, K, typename K::variance> plan(4);
  std::vector<double> vs(4 * 7);
  for (std::size_t i = 0; i < vs.size(); ++i) vs[i] = static_cast<double>((i * 37) % 11) - 3.0;
  plan.bind(v, vs.data());
  plan.run(4);
  for (std::size_t c = 0; c < 7; ++c) {
    double m = 0, q = 0;
    for (std::size_t r = 0; r < 4; ++r) m += vs[r * 7 + c] / 4;
    for (std::size_t r = 0; r < 4; ++r) q += (vs[r * 7 + c] - m) * (vs[r * 7 + c] - m) / 4;
    CHECK(plan.output<0>()[c] == Approx(m).epsilon(1e-12));
    CHECK(plan.output<1>()[c] == Approx(q).epsilon(1e-12));
  }
}

TEST_CASE("buffers whose lifetimes do not overlap share memory", "[schedule][workspace]") {
  using Net = nn::Sequential<nn::Dense<20, 24>, nn::Tanh, nn::Dense<24, 24>, nn::Tanh, nn::Dense<24, 24>, nn::Tanh,
                             nn::Dense<24, 24>, nn::Tanh, nn::Dense<24, 24>, nn::Tanh, nn::Dense<24, 24>, nn::Tanh,
                             nn::Dense<24, 5>>;
  using Plan = decltype(train::Trainer{std::declval<Net&>(), loss::CrossEntropy{}, optim::SGD{}})::train_plan_type;
  STATIC_REQUIRE(Plan::packed_row_units < Plan::unpacked_row_units);
  // The packed workspace still trains correctly: the loss falls.
  Net net{init::seed(2)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 0.01f}}};
  rng g(4);
  std::vector<float> xs(32 * 20);
  std::vector<std::int32_t> ys(32);
  g.fill_normal(std::span<float>(xs));
  for (std::size_t i = 0; i < 32; ++i) ys[i] = static_cast<std::int32_t>(xs[i * 20] > 0) + 2 * (xs[i * 20 + 1] > 0);
  const float first = trainer.step(xs.data(), ys.data(), 32);
  float last = first;
  for (int s = 0; s < 100; ++s) last = trainer.step(xs.data(), ys.data(), 32);
  CHECK(last < 0.5f * first);
}

TEST_CASE("a plan's outputs survive the reuse of buffers", "[schedule][workspace]") {
  // The hidden layer's activation is a root: it must keep its values after
  // the run even though later steps reuse dead buffers.
  constexpr auto h = expr::tanh(W * x + b);
  constexpr auto W2 = expr::param<"W2", 3, 11>;
  constexpr auto out = expr::sigmoid(W2 * h);
  using H = std::remove_cvref_t<decltype(h)>;
  using O = std::remove_cvref_t<decltype(out)>;
  expr::plan<float, H, O> plan(5);
  std::vector<float> xs(5 * 9, 0.3f), ws(11 * 9, 0.1f), bs(11, -0.2f), w2(3 * 11, 0.5f);
  plan.bind(x, xs.data());
  plan.bind(W, ws.data());
  plan.bind(b, bs.data());
  plan.bind(W2, w2.data());
  plan.run(5);
  const float hv = std::tanh(9 * 0.03f - 0.2f);
  for (std::size_t i = 0; i < 5 * 11; ++i) CHECK(plan.output<0>()[i] == Approx(hv).epsilon(1e-6));
  for (std::size_t i = 0; i < 5 * 3; ++i) CHECK(plan.output<1>()[i] == Approx(1 / (1 + std::exp(-11 * 0.5f * hv))).epsilon(1e-6));
}

namespace {
// A kernel run over [0, rows) at once and over two row ranges must agree:
// the protocol's promise for kernels whose traits say row_split.
template <class Kernel>
std::vector<float> run_rows(const std::vector<float>& in, const std::vector<std::int32_t>& labels, std::size_t rows,
                            std::size_t cols, std::size_t split, std::size_t out_cols, bool two_outputs) {
  std::vector<float> out(rows * out_cols, -1.0f), second(rows * cols, -1.0f);
  auto part = [&](std::size_t r0, std::size_t r1) {
    plan::kernel_context<float> ctx;
    ctx.batch_rows = rows;
    ctx.first_row = r0;
    ctx.last_row = r1;
    ctx.operands[0] = in.data();
    ctx.operand_rows[0] = rows;
    ctx.operand_cols[0] = cols;
    ctx.operands[1] = labels.data();
    ctx.outputs[0] = out.data();
    ctx.output_cols[0] = out_cols;
    if (two_outputs) {
      ctx.outputs[1] = second.data();
      ctx.output_cols[1] = cols;
    }
    Kernel::run(ctx);
  };
  if (split == 0) {
    part(0, rows);
  } else {
    part(0, split);
    part(split, rows);
  }
  out.insert(out.end(), second.begin(), second.end());
  return out;
}
}  // namespace

TEST_CASE("row-split kernels give the same rows whichever range computes them", "[schedule][protocol]") {
  const std::size_t rows = 7, cols = 19;
  std::vector<float> in(rows * cols);
  rng g(12);
  g.fill_uniform(std::span<float>(in), -5, 5);
  const std::vector<std::int32_t> labels = {0, 18, 3, 3, 9, 1, 17};
  STATIC_REQUIRE(expr::softmax_kernel::traits.row_split);
  STATIC_REQUIRE(expr::softmax_xent_kernel::traits.row_split);
  STATIC_REQUIRE(expr::moments_kernel<1>::traits.row_split);
  STATIC_REQUIRE_FALSE(expr::moments_kernel<0>::traits.row_split);
  CHECK(run_rows<expr::softmax_kernel>(in, labels, rows, cols, 3, cols, false) ==
        run_rows<expr::softmax_kernel>(in, labels, rows, cols, 0, cols, false));
  CHECK(run_rows<expr::log_softmax_kernel>(in, labels, rows, cols, 4, cols, false) ==
        run_rows<expr::log_softmax_kernel>(in, labels, rows, cols, 0, cols, false));
  CHECK(run_rows<expr::softmax_xent_kernel>(in, labels, rows, cols, 2, 1, true) ==
        run_rows<expr::softmax_xent_kernel>(in, labels, rows, cols, 0, 1, true));
}

TEST_CASE("a split matmul writes the same product and calls its epilogue on every tile once", "[schedule][protocol]") {
  const std::size_t rows = 23, k = 9, n = 37;
  std::vector<float> a(rows * k), w(n * k), c_whole(rows * n), c_split(rows * n);
  rng g(13);
  g.fill_uniform(std::span<float>(a), -1, 1);
  g.fill_uniform(std::span<float>(w), -1, 1);
  aligned_buffer<float> scratch(expr::matmul_kernel<false, true>::scratch_size<float>(rows));
  struct visits {
    std::vector<int> count;
    std::size_t n;
  };
  auto run = [&](std::vector<float>& c, std::size_t r0, std::size_t r1, visits& v) {
    plan::kernel_context<float> ctx;
    ctx.batch_rows = rows;
    ctx.first_row = r0;
    ctx.last_row = r1;
    ctx.operands = {a.data(), w.data()};
    ctx.operand_rows = {rows, n};
    ctx.operand_cols = {k, k};
    ctx.outputs[0] = c.data();
    ctx.output_cols[0] = n;
    ctx.scratch_memory = scratch.data();
    ctx.tile = {[](const void* p, std::size_t i0, std::size_t j0, std::size_t mr, std::size_t nr) {
                  auto& vv = *static_cast<visits*>(const_cast<void*>(p));
                  for (std::size_t i = i0; i < i0 + mr; ++i)
                    for (std::size_t j = j0; j < j0 + nr; ++j) ++vv.count[i * vv.n + j];
                },
                &v};
    expr::matmul_kernel<false, true>::run(ctx);
  };
  visits whole{std::vector<int>(rows * n), n}, split{std::vector<int>(rows * n), n};
  run(c_whole, 0, rows, whole);
  run(c_split, 0, 10, split);
  run(c_split, 10, rows, split);
  CHECK(c_whole == c_split);
  for (int v : split.count) REQUIRE(v == 1);
  for (std::size_t i = 0; i < rows; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double ref = 0;
      for (std::size_t q = 0; q < k; ++q) ref += static_cast<double>(a[i * k + q]) * w[j * k + q];
      REQUIRE(c_whole[i * n + j] == Approx(ref).margin(1e-5));
    }
}
