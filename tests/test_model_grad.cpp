// Gradients of whole models (Dense, Sequential, a model written as an
// expression) against finite differences, in double. None of these has a
// backward of its own: every gradient comes from expr::grad.
#include "gradcheck.hpp"

using namespace ingot;

namespace {
template <class Model, class... P>
std::size_t check_model(type_list<P...>, gradcheck::options o) {
  return gradcheck::check(typename Model::output{}, o, typename Model::input{}, P{}...);
}
}  // namespace

TEST_CASE("Dense<7, 13> against finite differences", "[grad][nn]") {
  using Net = nn::Sequential<nn::Dense<7, 13>>;
  CHECK(check_model<Net>(Net::params{}, {}) == 35 + 91 + 13);
}

TEST_CASE("Sequential MLP with every activation layer", "[grad][nn]") {
  using Net = nn::Sequential<nn::Dense<7, 13>, nn::Tanh, nn::Dense<13, 9>, nn::GELU, nn::Dense<9, 11>, nn::ReLU,
                             nn::Dense<11, 5>, nn::Sigmoid, nn::Dense<5, 3>, nn::LeakyReLU<0.1>, nn::Dense<3, 3>,
                             nn::LogSoftmax>;
  STATIC_REQUIRE(Net::params::size == 12);
  const std::size_t n = check_model<Net>(Net::params{}, {});
  CHECK(n == 35 + (91 + 13) + (117 + 9) + (99 + 11) + (55 + 5) + (15 + 3) + (9 + 3));
}

TEST_CASE("Sequential under the MSE loss, as the trainer builds it", "[grad][nn]") {
  using Net = nn::Sequential<nn::Dense<7, 13>, nn::ReLU, nn::Dense<13, 3>>;
  using Target = expr::data_leaf<"target", 3>;
  using L = decltype(loss::MSE<>::apply(Net::output{}, Target{}));
  CHECK(gradcheck::check(L{}, {}, Net::input{}, Target{}, nn::Dense<7, 13>::weight<"0.">{},
                         nn::Dense<7, 13>::bias<"0.">{}, nn::Dense<13, 3>::weight<"2.">{},
                         nn::Dense<13, 3>::bias<"2.">{}) == 35 + 15 + 91 + 13 + 39 + 3);
}

TEST_CASE("a model written as an expression", "[grad][expr-model]") {
  constexpr auto x = expr::input<"x", 10>;
  constexpr auto W1 = expr::param<"W1", 32, 10>;
  constexpr auto b1 = expr::param<"b1", 32>;
  constexpr auto w2 = expr::param<"w2", 1, 32>;
  constexpr auto b2 = expr::param<"b2", 1>;
  constexpr auto y = expr::sigmoid(w2 * expr::tanh(W1 * x + b1) + b2);
  using Y = std::remove_cvref_t<decltype(y)>;
  STATIC_REQUIRE(Y::shape::batched);
  STATIC_REQUIRE(Y::shape::cols == 1);
  gradcheck::options o;
  o.lo = -1;
  o.hi = 1;
  CHECK(gradcheck::check(y, o, x, W1, b1, w2, b2) == 50 + 320 + 32 + 32 + 1);
  // Under BCE, with the targets' gradient too (BCE is linear in the target,
  // so targets need not lie in [0, 1] here; weights stay in [-1, 1] so that
  // the sigmoid does not saturate and finite differences stay meaningful).
  CHECK(gradcheck::check(loss::BCE<>::apply(y, expr::target<"t", 1>), o, x, expr::target<"t", 1>, W1, b1, w2, b2) ==
        50 + 5 + 320 + 32 + 32 + 1);
}

TEST_CASE("LayerNorm and BatchNorm1d (training form) against finite differences", "[grad][nn][norm]") {
  gradcheck::options o;
  o.batch = 6;
  {
    using Net = nn::Sequential<nn::Dense<5, 9>, nn::LayerNorm<9>, nn::Tanh, nn::Dense<9, 3>>;
    CHECK(check_model<Net>(Net::params{}, o) == 30 + (45 + 9) + (9 + 9) + (27 + 3));
  }
  {
    using Net = nn::Sequential<nn::Dense<5, 9>, nn::BatchNorm1d<9>, nn::Tanh, nn::Dense<9, 3>>;
    CHECK(check_model<Net>(Net::params{}, o) == 30 + (45 + 9) + (9 + 9) + (27 + 3));
  }
  {
    // Without the affine part, and with a small eps.
    using Net = nn::Sequential<nn::LayerNorm<7, 1e-3, false>>;
    STATIC_REQUIRE(Net::num_parameters() == 0);
    CHECK(check_model<Net>(Net::params{}, o) == 42);
  }
}
