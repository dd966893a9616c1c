// Convolution, pooling, BatchNorm2d and the layout changes: derivatives in
// double against central finite differences, at sizes that are not
// multiples of the SIMD width (3 channels, 7 x 9 images, batch 3).
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
