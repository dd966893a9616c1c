// Convolution, pooling, BatchNorm2d and the layout changes: derivatives in
// double against central finite differences, at sizes that are not
// multiples of the SIMD width (3 channels, 7 x 9 images, batch 3).
#include <cstring>

#include "gradcheck.hpp"

using namespace ingot;

namespace {
template <std::size_t C, std::size_t H, std::size_t W>
using images = expr::data_leaf<"x", C, batch_rows(H * W), W>;

gradcheck::options batch3() {
  gradcheck::options o;
  o.batch = 3;
  return o;
}
}  // namespace

TEST_CASE("image shapes: pixel rows per sample, channels as columns", "[conv][shape]") {
  using S = image_shape<3, 7, 9>;
  STATIC_REQUIRE(S::batched);
  STATIC_REQUIRE(S::is_image);
  STATIC_REQUIRE(S::channels == 3);
  STATIC_REQUIRE(S::height == 7);
  STATIC_REQUIRE(S::width == 9);
  CHECK(S::rows(4) == 4 * 63);
  CHECK(S::size(4) == 4 * 63 * 3);
  using Y = decltype(nn::Conv2d<3, 5, 3, 2, 1>::forward<"c.">(images<3, 7, 9>{}))::shape;
  STATIC_REQUIRE(std::is_same_v<Y, image_shape<5, 4, 5>>);
  using P = decltype(nn::MaxPool2d<2>::forward<"p.">(images<3, 7, 9>{}))::shape;
  STATIC_REQUIRE(std::is_same_v<P, image_shape<3, 3, 4>>);
  using F = decltype(nn::Flatten::forward<"f.">(images<3, 7, 9>{}))::shape;
  STATIC_REQUIRE(std::is_same_v<F, shape<batch, 189>>);
}

TEST_CASE("Conv2d: input, weight and bias gradients match finite differences", "[conv][grad]") {
  const images<3, 7, 9> x;
  using L = nn::Conv2d<3, 5, 3, 2, 1>;
  const L::weight<"c."> w;
  const L::bias<"c."> b;
  // 3 x 5 x 4 x 5 outputs; the gradients: 189 per image, 135 weights, 5 biases.
  CHECK(gradcheck::check(L::forward<"c.">(x), batch3(), x, w, b) == 3 * 189 + 135 + 5);
}

TEST_CASE("Conv2d without padding, stride 1, 1 input channel, and with dilation", "[conv][grad]") {
  const images<1, 6, 5> x;
  using A = nn::Conv2d<1, 4, 3>;
  CHECK(gradcheck::check(A::forward<"a.">(x), batch3(), x, A::weight<"a.">{}, A::bias<"a.">{}) == 90 + 36 + 4);
  const images<2, 7, 9> y;
  using D = nn::Conv2d<2, 3, 3, 1, 2, 2>;
  CHECK(gradcheck::check(D::forward<"d.">(y), batch3(), y, D::weight<"d.">{}, D::bias<"d.">{}) ==
        3 * 126 + 54 + 3);
}

TEST_CASE("Conv2d's second derivatives: the gradient kernels are differentiable", "[conv][grad]") {
  // d/dx of sum(grad_w(sum(conv(x, w) * R)) * S): conv_weight's own vjp.
  const images<2, 5, 6> x;
  using L = nn::Conv2d<2, 3, 3, 1, 1>;
  using Y = decltype(L::forward<"c.">(x));
  using R = expr::data_leaf<"r", 3, batch_rows(30), 6>;
  using Loss = expr::sum_node<-1, expr::mul_t<Y, R>>;
  using GW = expr::grad_t<Loss, L::weight<"c.">>;
  CHECK(gradcheck::check(GW{}, batch3(), x, R{}) == 3 * 60 + 3 * 90);
}

TEST_CASE("MaxPool2d and AvgPool2d: gradients match finite differences", "[conv][grad][pool]") {
  const images<3, 7, 9> x;
  CHECK(gradcheck::check(nn::MaxPool2d<2>::forward<"p.">(x), batch3(), x) == 3 * 189);
  CHECK(gradcheck::check(nn::MaxPool2d<3, 2>::forward<"p.">(x), batch3(), x) == 3 * 189);
  CHECK(gradcheck::check(nn::AvgPool2d<2>::forward<"p.">(x), batch3(), x) == 3 * 189);
  CHECK(gradcheck::check(nn::AvgPool2d<3, 2>::forward<"p.">(x), batch3(), x) == 3 * 189);
  CHECK(gradcheck::check(nn::GlobalAvgPool2d::forward<"p.">(x), batch3(), x) == 3 * 189);
  // 20 channels: full SIMD vectors at rows that are not 64-byte aligned, and a tail.
  const images<20, 4, 6> wide;
  CHECK(gradcheck::check(nn::MaxPool2d<2>::forward<"p.">(wide), batch3(), wide) == 3 * 480);
}

TEST_CASE("MaxPool2d's gradient is differentiable: the argmax gather and its own derivative", "[conv][grad][pool]") {
  // grad_x(sum(maxpool(x) * R)) routes R to each window's argmax; the
  // derivative of that in R gathers the upstream gradient there, and the
  // gradient of sum(that * S) in R, differentiated again, routes once more. Overlapping 3 x 3 windows at stride 2, so some
  // pixels sum two windows' gradients; 20 channels: a full vector and a tail.
  using P = nn::MaxPool2d<3, 2>;
  const images<20, 7, 9> x;
  using Y = decltype(P::forward<"p.">(x));
  using R = expr::data_leaf<"r", 20, batch_rows(12), 4>;
  using Loss = expr::sum_node<-1, expr::mul_t<Y, R>>;
  using GX = expr::grad_t<Loss, images<20, 7, 9>>;
  // (The derivative in x is zero away from ties, and checked as such.)
  CHECK(gradcheck::check(GX{}, batch3(), x, R{}) == 3 * 1260 + 3 * 240);
  using S = expr::data_leaf<"s", 20, batch_rows(63), 9>;
  using GR = expr::grad_t<expr::sum_node<-1, expr::mul_t<GX, S>>, R>;
  CHECK(gradcheck::check(GR{}, batch3(), x, R{}, S{}) == 3 * 1260 + 3 * 240 + 3 * 1260);
}

TEST_CASE("Flatten and Unflatten reorder values and their gradients", "[conv][grad]") {
  const images<3, 7, 9> x;
  CHECK(gradcheck::check(nn::Flatten::forward<"f.">(x), batch3(), x) == 3 * 189);
  const expr::data_leaf<"v", 189> v;
  CHECK(gradcheck::check(nn::Unflatten<3, 7, 9>::forward<"u.">(v), batch3(), v) == 3 * 189);
}

TEST_CASE("BatchNorm2d in training form: gradients through the batch statistics", "[conv][grad][batchnorm]") {
  const images<3, 7, 9> x;
  using BN = nn::BatchNorm2d<3>;
  CHECK(gradcheck::check(BN::forward<"n.", nn::mode::train>(x), batch3(), x, BN::weight<"n.">{}, BN::bias<"n.">{}) ==
        3 * 189 + 3 + 3);
}

// Max pooling over windows that tile the image reads each value once, so it
// computes its operand (BatchNorm's normalised values through ReLU) in its
// own loop; ReLU's derivative computes it again in the backward loops. With
// overlapping windows the operand is stored and read.
TEST_CASE("max pooling over tiling windows computes the activation before it on the spot", "[conv][plan]") {
  using BN = nn::BatchNorm2d<3>;
  using A = decltype(expr::relu(BN::forward<"n.", nn::mode::train>(images<3, 8, 6>{})));
  using Tiling = decltype(expr::sum(nn::MaxPool2d<2>::forward<"p.">(A{})));
  using Overlapping = decltype(expr::sum(nn::MaxPool2d<3, 2>::forward<"p.">(A{})));
  using GT = expr::plan<float, Tiling, expr::grad_t<Tiling, BN::weight<"n.">>, expr::grad_t<Tiling, images<3, 8, 6>>>;
  using GO = expr::plan<float, Overlapping, expr::grad_t<Overlapping, BN::weight<"n.">>,
                        expr::grad_t<Overlapping, images<3, 8, 6>>>;
  STATIC_REQUIRE_FALSE(GT::is_materialized<A>());
  STATIC_REQUIRE(GO::is_materialized<A>());
  STATIC_REQUIRE_FALSE(expr::plan<float, Tiling>::is_materialized<A>());
  // The same gradients either way: finite differences through the pooled
  // activation, input and BatchNorm weight alike.
  const images<3, 8, 6> x;
  CHECK(gradcheck::check(nn::MaxPool2d<2>::forward<"p.">(A{}), batch3(), x, BN::weight<"n.">{}, BN::bias<"n.">{}) ==
        3 * 144 + 3 + 3);
  CHECK(gradcheck::check(nn::MaxPool2d<3, 2>::forward<"p.">(A{}), batch3(), x, BN::weight<"n.">{},
                         BN::bias<"n.">{}) == 3 * 144 + 3 + 3);
}

TEST_CASE("a small CNN: conv, BatchNorm2d, ReLU, pooling, flatten and a dense layer", "[conv][grad]") {
  const images<2, 7, 9> x;
  using C1 = nn::Conv2d<2, 4, 3, 1, 1>;
  using BN = nn::BatchNorm2d<4>;
  using D = nn::Dense<4 * 3 * 4, 3>;
  const auto h = nn::Flatten::forward<"f.">(
      nn::MaxPool2d<2>::forward<"p.">(expr::tanh(BN::forward<"n.", nn::mode::train>(C1::forward<"c.">(x)))));
  const auto y = D::forward<"d.">(h);
  CHECK(gradcheck::check(y, batch3(), x, C1::weight<"c.">{}, C1::bias<"c.">{}, BN::weight<"n.">{}, BN::bias<"n.">{},
                         D::weight<"d.">{}, D::bias<"d.">{}) == 3 * 126 + 72 + 4 + 4 + 4 + 144 + 3);
}

// ---- PyTorch fixtures (tools/make_fixtures.py, conv.json) ----------------
#include "fixtures.hpp"

namespace {
void require_close(std::span<const float> got, const std::vector<float>& want, double rel, double abs) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i << ": ingot " << got[i] << ", torch " << want[i]);
    REQUIRE(std::abs(static_cast<double>(got[i]) - want[i]) <= abs + rel * std::abs(static_cast<double>(want[i])));
  }
}

// A layer between Unflatten and Flatten, so that inputs, outputs and their
// gradients are in PyTorch's NCHW order: checks y and the gradients of
// sum(y * r) with respect to x and each parameter against the fixture.
template <std::size_t C, std::size_t H, std::size_t W, class Layer, nn::mode M = nn::mode::train, class... Params>
void check_layer(const nlohmann::json& f, std::size_t batch, Params...) {
  using X = expr::data_leaf<"x", C * H * W>;
  using Y = decltype(nn::Flatten::forward<"f.">(
      nn::layer_forward<Layer, "l.", M>(nn::Unflatten<C, H, W>::template forward<"u.">(X{}))));
  using R = expr::data_leaf<"r", Y::shape::cols>;
  using L = expr::sum_node<-1, expr::mul_t<Y, R>>;
  using P = expr::plan<float, Y, expr::grad_t<L, X>, expr::grad_t<L, Params>...>;
  P plan(batch);
  const auto x = fixtures::values(f["x"]), r = fixtures::values(f["r"]);
  plan.template bind<X>(x.data());
  plan.template bind<R>(r.data());
  std::vector<std::vector<float>> params;
  ((params.push_back(fixtures::values(f[std::string(Params::name.view()).substr(2)])),
    plan.template bind<Params>(params.back().data())),
   ...);
  std::vector<float> mean, var;
  if constexpr (requires { Layer::template running_mean<"l.">::name; }) {
    mean = fixtures::values(f["running_mean"]);
    var = fixtures::values(f["running_var"]);
    plan.template bind<typename Layer::template running_mean<"l.">>(mean.data());
    plan.template bind<typename Layer::template running_var<"l.">>(var.data());
  }
  plan.run(batch);
  const auto y = fixtures::values(f["y"]);
  REQUIRE(y.size() == Y::shape::size(batch));
  require_close({plan.template output<0>(), y.size()}, y, 1e-4, 1e-5);
  require_close({plan.template output<1>(), x.size()}, fixtures::values(f["grad_x"]), 1e-4, 1e-5);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          using Param = type_at_t<I, type_list<Params...>>;
          const auto want = fixtures::values(f["grad_" + std::string(Param::name.view()).substr(2)]);
          INFO(Param::name.view());
          require_close({plan.template output<2 + I>(), want.size()}, want, 1e-4, 1e-5);
        }(),
        ...);
  }(std::index_sequence_for<Params...>{});
}
}  // namespace

TEST_CASE("Conv2d matches torch: output and gradients, several strides and paddings", "[conv][torch]") {
  const auto f = fixtures::load("conv.json");
  {
    using L = nn::Conv2d<3, 4, 3>;
    check_layer<3, 7, 9, L>(f["conv_3_4_3_s1_p0"], 3, L::weight<"l.">{}, L::bias<"l.">{});
  }
  {
    using L = nn::Conv2d<3, 4, 3, 2, 1>;
    check_layer<3, 7, 9, L>(f["conv_3_4_3_s2_p1"], 3, L::weight<"l.">{}, L::bias<"l.">{});
  }
  {
    using L = nn::Conv2d<2, 5, 3, 1, 1>;
    check_layer<2, 7, 9, L>(f["conv_2_5_3_s1_p1"], 3, L::weight<"l.">{}, L::bias<"l.">{});
  }
  {
    using L = nn::Conv2d<3, 2, 5, 2, 2>;
    check_layer<3, 7, 9, L>(f["conv_3_2_5_s2_p2"], 3, L::weight<"l.">{}, L::bias<"l.">{});
  }
}

TEST_CASE("pooling matches torch: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1)", "[conv][torch][pool]") {
  const auto f = fixtures::load("conv.json");
  check_layer<3, 7, 9, nn::MaxPool2d<2, 2>>(f["maxpool_2_2"], 3);
  check_layer<3, 7, 9, nn::MaxPool2d<3, 2>>(f["maxpool_3_2"], 3);
  check_layer<3, 7, 9, nn::AvgPool2d<2, 2>>(f["avgpool_2_2"], 3);
  check_layer<3, 7, 9, nn::AvgPool2d<3, 2>>(f["avgpool_3_2"], 3);
  check_layer<3, 7, 9, nn::GlobalAvgPool2d>(f["global_avgpool"], 3);
}

TEST_CASE("BatchNorm2d matches torch in training and evaluation form", "[conv][torch][batchnorm]") {
  const auto f = fixtures::load("conv.json");
  using BN = nn::BatchNorm2d<3>;
  check_layer<3, 7, 9, BN, nn::mode::train>(f["batchnorm_train"], 3, BN::weight<"l.">{}, BN::bias<"l.">{});
  check_layer<3, 7, 9, BN, nn::mode::eval>(f["batchnorm_eval"], 3, BN::weight<"l.">{}, BN::bias<"l.">{});
}

TEST_CASE("a small CNN trained 5 steps matches torch: losses, weights, running statistics", "[conv][torch]") {
  const auto f = fixtures::load("conv.json")["cnn"];
  using Net = nn::Sequential<nn::Unflatten<2, 8, 8>, nn::Conv2d<2, 4, 3, 1, 1>, nn::BatchNorm2d<4>, nn::ReLU,
                             nn::MaxPool2d<2>, nn::Conv2d<4, 6, 3, 2, 1>, nn::ReLU, nn::Flatten, nn::Dense<24, 3>>;
  Net net;
  for (const auto& [name, values] : f["init"].items()) {
    const auto v = fixtures::values(values);
    auto dst = name.find("running") != std::string::npos ? net.state().find(name) : net.parameter(name);
    REQUIRE(dst.size() == v.size());
    std::copy(v.begin(), v.end(), dst.begin());
  }
  const auto x = fixtures::values(f["x"]);
  const auto labels = fixtures::values<std::int32_t>(f["labels"]);
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.05f, .momentum = 0.9f}}};
  // torch's steps take rows 0-7, 8-15, 0-7, ...
  const auto losses = fixtures::values<double>(f["losses"]);
  for (std::size_t s = 0; s < 5; ++s) {
    const std::size_t r0 = 8 * (s % 2);
    const double loss = trainer.step(x.data() + r0 * 128, labels.data() + r0, 8);
    INFO("step " << s + 1 << ": ingot " << loss << ", torch " << losses[s]);
    CHECK(std::abs(loss - losses[s]) <= 1e-5 * std::abs(losses[s]));
  }
  for (const auto& [name, values] : f["final"].items()) {
    INFO(name);
    if (name.find("running") != std::string::npos) require_close(net.state().find(name), fixtures::values(values), 1e-4, 1e-6);
    else require_close(net.parameter(name), fixtures::values(values), 1e-4, 1e-6);
  }
  CHECK(net.state().find_counter("2.num_batches_tracked") == 5);
  const auto logits = trainer.predict(x.data(), 16);
  require_close(logits, fixtures::values(f["eval_logits"]), 1e-4, 1e-5);
}

// ---- Sizes that take several pixel blocks and both threads ---------------
namespace {
// Direct loops over NCHW-free indices (channels-last), accumulated in double.
struct naive_conv {
  std::size_t C, H, W, OC, K, S, P;
  std::size_t OH() const { return (H + 2 * P - K) / S + 1; }
  std::size_t OW() const { return (W + 2 * P - K) / S + 1; }
  // w in PyTorch's [OC, C, K, K] order.
  template <class F>
  void taps(std::size_t oh, std::size_t ow, F&& f) const {
    for (std::size_t kh = 0; kh < K; ++kh)
      for (std::size_t kw = 0; kw < K; ++kw) {
        const long ih = static_cast<long>(oh * S + kh) - static_cast<long>(P);
        const long iw = static_cast<long>(ow * S + kw) - static_cast<long>(P);
        if (ih < 0 || iw < 0 || ih >= static_cast<long>(H) || iw >= static_cast<long>(W)) continue;
        f(kh, kw, static_cast<std::size_t>(ih) * W + static_cast<std::size_t>(iw));
      }
  }
};
}  // namespace

TEST_CASE("Conv2d at a CNN's size, on all threads, agrees with direct loops", "[conv][threads]") {
  constexpr std::size_t B = 9, C = 32, H = 14, W = 14, OC = 64, K = 3;
  const naive_conv g{C, H, W, OC, K, 1, 1};
  using L = nn::Conv2d<C, OC, K, 1, 1>;
  using X = images<C, H, W>;
  using Y = decltype(L::forward<"c.">(X{}));
  using R = expr::data_leaf<"r", OC, batch_rows(H * W), W>;
  using Loss = expr::sum_node<-1, expr::mul_t<Y, R>>;
  using P = expr::plan<float, Y, expr::grad_t<Loss, X>, expr::grad_t<Loss, L::weight<"c.">>>;
  rng gen(3);
  std::vector<float> x(B * H * W * C), w(OC * C * K * K), b(OC), r(B * H * W * OC);
  gen.fill_normal(std::span<float>(x));
  gen.fill_normal(std::span<float>(w));
  gen.fill_normal(std::span<float>(b));
  gen.fill_normal(std::span<float>(r));
  P plan(B);
  plan.bind<X>(x.data());
  plan.bind<R>(r.data());
  plan.bind<L::weight<"c.">>(w.data());
  plan.bind<L::bias<"c.">>(b.data());
  plan.run(B);
  const float* y = plan.output<0>();
  const float* gx = plan.output<1>();
  const float* gw = plan.output<2>();
  std::vector<double> want_gx(x.size()), want_gw(w.size());
  double worst = 0;
  for (std::size_t s = 0; s < B; ++s)
    for (std::size_t oh = 0; oh < g.OH(); ++oh)
      for (std::size_t ow = 0; ow < g.OW(); ++ow) {
        const std::size_t q = (s * g.OH() + oh) * g.OW() + ow;
        for (std::size_t o = 0; o < OC; ++o) {
          double sum = b[o];
          const double ro = r[q * OC + o];
          g.taps(oh, ow, [&](std::size_t kh, std::size_t kw, std::size_t pix) {
            for (std::size_t c = 0; c < C; ++c) {
              const std::size_t wi = ((o * C + c) * K + kh) * K + kw, xi = (s * H * W + pix) * C + c;
              sum += double(w[wi]) * x[xi];
              want_gx[xi] += ro * w[wi];
              want_gw[wi] += ro * x[xi];
            }
          });
          worst = std::max(worst, std::abs(sum - y[q * OC + o]) / (1 + std::abs(sum)));
        }
      }
  CHECK(worst < 1e-4);
  double worst_gx = 0, worst_gw = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst_gx = std::max(worst_gx, std::abs(want_gx[i] - gx[i]) / (1 + std::abs(want_gx[i])));
  for (std::size_t i = 0; i < w.size(); ++i)
    worst_gw = std::max(worst_gw, std::abs(want_gw[i] - gw[i]) / (1 + std::abs(want_gw[i])));
  CHECK(worst_gx < 1e-4);
  CHECK(worst_gw < 1e-4);
}

// ---- Patch matrices ------------------------------------------------------
// im2col against a patch row built tap by tap with bounds tests, over
// strides, paddings, dilations, kernels wider than the padded image allows
// some windows, channel counts around the SIMD width and pixel ranges that
// start and end inside output rows and cross samples.
TEST_CASE("im2col agrees with a tap-by-tap patch reference on every geometry", "[conv][im2col]") {
  rng gen(11);
  std::size_t checked = 0;
  for (std::size_t C : {std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{13}, std::size_t{19}})
    for (std::size_t K : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}})
      for (std::size_t S : {std::size_t{1}, std::size_t{2}, std::size_t{3}})
        for (std::size_t P : {std::size_t{0}, std::size_t{1}, std::size_t{2}})
          for (std::size_t D : {std::size_t{1}, std::size_t{2}}) {
            const std::size_t H = 7, W = 6, B = 2;
            if (H + 2 * P < D * (K - 1) + 1 || W + 2 * P < D * (K - 1) + 1) continue;
            const simd::conv_geometry g{C, H, W, 4, K, K, S, S, P, P, D, D};
            std::vector<float> x(B * H * W * C);
            gen.fill_normal(std::span<float>(x));
            const std::size_t total = B * g.out_pixels(), KK = g.K();
            for (std::size_t p0 : {std::size_t{0}, std::size_t{1}, g.OW() + 1, total - 1})
              for (std::size_t len : {std::size_t{1}, g.OW(), total}) {
                if (p0 >= total) continue;
                const std::size_t p1 = std::min(total, p0 + len);
                std::vector<float> col((p1 - p0) * KK, -7.0f);
                simd::detail::im2col(g, x.data(), p0, p1, col.data());
                for (std::size_t p = p0; p < p1; ++p) {
                  const std::size_t s = p / g.out_pixels(), oh = p % g.out_pixels() / g.OW(), ow = p % g.OW();
                  for (std::size_t kh = 0; kh < K; ++kh)
                    for (std::size_t kw = 0; kw < K; ++kw)
                      for (std::size_t c = 0; c < C; ++c) {
                        const long ih = static_cast<long>(oh * S + kh * D) - static_cast<long>(P);
                        const long iw = static_cast<long>(ow * S + kw * D) - static_cast<long>(P);
                        const bool in = ih >= 0 && iw >= 0 && ih < static_cast<long>(H) && iw < static_cast<long>(W);
                        const float want =
                            in ? x[((s * H + static_cast<std::size_t>(ih)) * W + static_cast<std::size_t>(iw)) * C + c] : 0.0f;
                        const float got = col[(p - p0) * KK + (kh * K + kw) * C + c];
                        if (got != want) {
                          INFO("C " << C << " K " << K << " S " << S << " P " << P << " D " << D << " pixel " << p
                                    << " tap " << kh << "," << kw << " channel " << c);
                          REQUIRE(got == want);
                        }
                        ++checked;
                      }
                }
              }
          }
  CHECK(checked > 100000);
}

// col2im against the plain scatter, output pixel by output pixel and tap by
// tap, bit for bit: each input pixel must receive its terms in the same
// order (the kernel goes tap by tap over runs of pixels). The image starts
// from random values, so a term added twice, dropped or reordered shows.
TEST_CASE("col2im adds patches back in the order of a pixel-by-pixel scatter", "[conv][im2col]") {
  rng gen(12);
  std::size_t checked = 0;
  for (std::size_t C : {std::size_t{1}, std::size_t{3}, std::size_t{13}, std::size_t{19}, std::size_t{32}})
    for (std::size_t K : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5}})
      for (std::size_t S : {std::size_t{1}, std::size_t{2}, std::size_t{3}})
        for (std::size_t P : {std::size_t{0}, std::size_t{1}, std::size_t{2}})
          for (std::size_t D : {std::size_t{1}, std::size_t{2}}) {
            const std::size_t H = 7, W = 6;
            if (H + 2 * P < D * (K - 1) + 1 || W + 2 * P < D * (K - 1) + 1) continue;
            const simd::conv_geometry g{C, H, W, 4, K, K, S, S, P, P, D, D};
            const std::size_t Q = g.out_pixels(), KK = g.K();
            for (std::size_t q0 : {std::size_t{0}, std::size_t{1}, g.OW() + 1})
              for (std::size_t len : {std::size_t{1}, g.OW() + 2, Q}) {
                if (q0 >= Q) continue;
                const std::size_t q1 = std::min(Q, q0 + len);
                std::vector<float> col((q1 - q0) * KK), dx(H * W * C);
                gen.fill_normal(std::span<float>(col));
                gen.fill_normal(std::span<float>(dx));
                std::vector<float> want = dx;
                for (std::size_t q = q0; q < q1; ++q)
                  for (std::size_t kh = 0; kh < K; ++kh)
                    for (std::size_t kw = 0; kw < K; ++kw) {
                      const long ih = static_cast<long>(q / g.OW() * S + kh * D) - static_cast<long>(P);
                      const long iw = static_cast<long>(q % g.OW() * S + kw * D) - static_cast<long>(P);
                      if (ih < 0 || iw < 0 || ih >= static_cast<long>(H) || iw >= static_cast<long>(W)) continue;
                      for (std::size_t c = 0; c < C; ++c)
                        want[(static_cast<std::size_t>(ih) * W + static_cast<std::size_t>(iw)) * C + c] +=
                            col[(q - q0) * KK + (kh * K + kw) * C + c];
                    }
                simd::detail::col2im_add(g, col.data(), q0, q1, dx.data());
                for (std::size_t i = 0; i < dx.size(); ++i) {
                  if (std::memcmp(&dx[i], &want[i], sizeof(float)) != 0) {
                    INFO("C " << C << " K " << K << " S " << S << " P " << P << " D " << D << " pixels [" << q0
                              << ", " << q1 << ") value " << i);
                    REQUIRE(dx[i] == want[i]);
                  }
                  ++checked;
                }
              }
          }
  CHECK(checked > 100000);
}

// ---- Layers with few taps ---------------------------------------------------
// A first layer (K = KH KW C <= 12) runs without patch rows: each sample is
// padded once and the multiply-adds read it in place. Its forward must give
// the im2col GEMM's floats bit for bit (the same chain per output) wherever
// that GEMM takes its blocked path (OC >= one panel of 2W), and both passes
// must agree with double-precision loops on every geometry, on one thread
// and on two.
TEST_CASE("a layer with few taps computes im2col's products without patch rows", "[conv][im2col][threads]") {
  using blk = simd::gemm_blocking<float>;
  const std::size_t threads_before = get_num_threads();
  rng gen(13);
  std::size_t checked = 0, bitwise = 0;
  for (std::size_t threads : {std::size_t{1}, std::size_t{2}}) {
    set_num_threads(threads);
    for (std::size_t C : {std::size_t{1}, std::size_t{3}})
      for (std::size_t K : {std::size_t{1}, std::size_t{2}, std::size_t{3}})
        for (std::size_t S : {std::size_t{1}, std::size_t{2}})
          for (std::size_t P : {std::size_t{0}, std::size_t{1}, std::size_t{2}})
            for (std::size_t D : {std::size_t{1}, std::size_t{2}})
              for (std::size_t OC : {std::size_t{1}, std::size_t{5}, std::size_t{19}, std::size_t{32},
                                     std::size_t{37}, std::size_t{64}}) {
                const std::size_t H = 9, W = 7, B = 3;
                if (C * K * K > simd::detail::few_taps_max) continue;
                if (H + 2 * P < D * (K - 1) + 1 || W + 2 * P < D * (K - 1) + 1) continue;
                const simd::conv_geometry g{C, H, W, OC, K, K, S, S, P, P, D, D};
                REQUIRE(simd::detail::use_few_taps<float>(g));
                const std::size_t Q = g.out_pixels(), KK = g.K(), total = B * Q;
                std::vector<float> x(B * H * W * C), w(OC * KK), dy(total * OC), y(total * OC, -7.0f),
                    dw(OC * KK, -7.0f), y_gemm(total * OC), col(total * KK);
                gen.fill_normal(std::span<float>(x));
                gen.fill_normal(std::span<float>(w));
                gen.fill_normal(std::span<float>(dy));
                aligned_buffer<float> scratch(simd::conv_scratch_size<float>(g)), pa(blk::pack_a_size),
                    pb(blk::pack_b_size);
                simd::conv_forward(g, B, x.data(), w.data(), y.data(), scratch.data(), {});
                simd::conv_weight_grad(g, B, x.data(), dy.data(), dw.data(), scratch.data());
                simd::detail::im2col(g, x.data(), 0, total, col.data());
                simd::gemm<false, true>(total, OC, KK, col.data(), KK, w.data(), KK, y_gemm.data(), OC, pa.data(),
                                        pb.data());
                std::vector<double> want_dw(OC * KK, 0.0);
                for (std::size_t p = 0; p < total; ++p)
                  for (std::size_t o = 0; o < OC; ++o) {
                    double sum = 0;
                    for (std::size_t k = 0; k < KK; ++k) {
                      sum += double(col[p * KK + k]) * w[o * KK + k];
                      want_dw[o * KK + k] += double(dy[p * OC + o]) * col[p * KK + k];
                    }
                    const float got = y[p * OC + o];
                    INFO("threads " << threads << " C " << C << " K " << K << " S " << S << " P " << P << " D " << D
                                    << " OC " << OC << " pixel " << p << " channel " << o);
                    REQUIRE(std::abs(got - sum) <= 1e-5 * (1 + std::abs(sum)));
                    if (OC >= blk::NR) {
                      REQUIRE(std::memcmp(&got, &y_gemm[p * OC + o], sizeof(float)) == 0);
                      ++bitwise;
                    }
                    ++checked;
                  }
                for (std::size_t i = 0; i < dw.size(); ++i) {
                  INFO("threads " << threads << " C " << C << " K " << K << " S " << S << " P " << P << " D " << D
                                  << " OC " << OC << " weight " << i);
                  REQUIRE(std::abs(dw[i] - want_dw[i]) <= 1e-5 * (1 + std::abs(want_dw[i])));
                  ++checked;
                }
              }
  }
  set_num_threads(threads_before);
  CHECK(checked > 100000);
  CHECK(bitwise > 10000);
}

// A weight gradient whose patch rows go straight into the GEMM's packed B
// (input channels dividing a panel) and whose later blocks of pixels are
// added by the GEMM's stores: on one thread, bit for bit the blocks formed
// as separate products and added in order; on one and two threads, within
// a bound of double loops. 8 and 16 channels end K inside a panel.
TEST_CASE("a weight gradient packs its patch rows once and adds its blocks in the GEMM", "[conv][im2col][threads]") {
  using blk = simd::gemm_blocking<float>;
  const std::size_t threads_before = get_num_threads();
  rng gen(14);
  std::size_t checked = 0, bitwise = 0, several_blocks = 0;
  for (std::size_t threads : {std::size_t{1}, std::size_t{2}})
    for (std::size_t C : {std::size_t{3}, std::size_t{8}, std::size_t{16}, std::size_t{32}})
      for (std::size_t K : {std::size_t{3}, std::size_t{5}})
        for (std::size_t S : {std::size_t{1}, std::size_t{2}})
          for (std::size_t OC : {std::size_t{5}, std::size_t{37}}) {
            set_num_threads(threads);
            const std::size_t H = 15, W = 13, B = 4, P = K / 2;
            const simd::conv_geometry g{C, H, W, OC, K, K, S, S, P, P, 1, 1};
            const std::size_t Q = g.out_pixels(), KK = g.K(), total = B * Q;
            const std::size_t mb = simd::detail::conv_block_rows<float>(g);
            if (total > 2 * mb) ++several_blocks;
            std::vector<float> x(B * H * W * C), dy(total * OC), dw(OC * KK, -7.0f), col(total * KK);
            gen.fill_normal(std::span<float>(x));
            gen.fill_normal(std::span<float>(dy));
            aligned_buffer<float> scratch(simd::conv_scratch_size<float>(g)), pa(blk::pack_a_size),
                pb(blk::pack_b_size);
            simd::conv_weight_grad(g, B, x.data(), dy.data(), dw.data(), scratch.data());
            simd::detail::im2col(g, x.data(), 0, total, col.data());
            // The float sums' error is measured against the sum of the terms' sizes.
            std::vector<double> want(OC * KK, 0.0), size(OC * KK, 0.0);
            for (std::size_t p = 0; p < total; ++p)
              for (std::size_t o = 0; o < OC; ++o)
                for (std::size_t k = 0; k < KK; ++k) {
                  const double term = double(dy[p * OC + o]) * col[p * KK + k];
                  want[o * KK + k] += term;
                  size[o * KK + k] += std::abs(term);
                }
            for (std::size_t i = 0; i < dw.size(); ++i) {
              INFO("threads " << threads << " C " << C << " K " << K << " S " << S << " OC " << OC << " weight " << i);
              REQUIRE(std::abs(dw[i] - want[i]) <= 2e-6 * (1 + size[i]));
              ++checked;
            }
            if (threads != 1 || KK < blk::NR) continue;
            // Blocks of mb pixels as separate products added in order.
            std::vector<float> sum(OC * KK), part(OC * KK);
            for (std::size_t p0 = 0; p0 < total; p0 += mb) {
              const std::size_t p1 = std::min(total, p0 + mb);
              float* out = p0 == 0 ? sum.data() : part.data();
              simd::gemm<true, false>(OC, KK, p1 - p0, dy.data() + p0 * OC, OC, col.data() + p0 * KK, KK, out, KK,
                                      pa.data(), pb.data());
              if (p0 != 0)
                for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
            }
            for (std::size_t i = 0; i < dw.size(); ++i) {
              INFO("C " << C << " K " << K << " S " << S << " OC " << OC << " weight " << i);
              REQUIRE(std::memcmp(&dw[i], &sum[i], sizeof(float)) == 0);
              ++bitwise;
            }
          }
  set_num_threads(threads_before);
  CHECK(checked > 10000);
  CHECK(bitwise > 5000);
  CHECK(several_blocks > 20);
}
