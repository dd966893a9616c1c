#pragma once
// Central finite differences against the compiler-derived gradient, in
// double. For an expression E and leaves L1..Ln, the checked scalar is
// sum(E * R) with R a fixed random projection, so every output element of E
// matters. Gradient buffers are poisoned with NaN before the run, so an
// entry the plan fails to write cannot pass.
#include <catch2/catch.hpp>
#include <cmath>
#include <ingot/ingot.hpp>
#include <limits>
#include <tuple>
#include <vector>

namespace gradcheck {

using namespace ingot;

struct options {
  std::size_t batch = 5;
  double lo = -2.0, hi = 2.0;  // range of the random leaf values
  std::uint64_t seed = 11;
  double h = 1e-6;
  double rtol = 1e-5, atol = 1e-7;
};

template <class E>
using projection_t = std::conditional_t<E::shape::batched,
                                        expr::data_leaf<"__projection", E::shape::cols, E::shape::rows_ct, E::shape::width>,
                                        expr::param_leaf<"__projection", E::shape::rows_ct, E::shape::cols, false>>;

template <class Leaf>
std::size_t leaf_size(std::size_t batch) { return Leaf::shape::size(batch); }

// Checks d sum(E * R) / d leaf for every leaf; returns the number of
// gradient entries compared.
template <expr::node E, expr::node... Leaves>
std::size_t check(E, options opt, Leaves...) {
  using R = projection_t<E>;
  using L = expr::sum_node<-1, expr::mul_t<E, R>>;
  using P = expr::plan<double, L, expr::grad_t<L, Leaves>...>;
  P plan(opt.batch);
  rng g(opt.seed);

  std::vector<double> proj(R::shape::size(opt.batch));
  g.fill_normal(std::span<double>(proj));
  plan.template bind<R>(proj.data());
  std::vector<std::vector<double>> values{std::vector<double>(leaf_size<Leaves>(opt.batch))...};
  for (auto& v : values) g.fill_uniform(std::span<double>(v), opt.lo, opt.hi);
  std::size_t k = 0;
  ((plan.template bind<Leaves>(values[k++].data())), ...);

  std::vector<std::vector<double>> grads{
      std::vector<double>(leaf_size<Leaves>(opt.batch), std::numeric_limits<double>::quiet_NaN())...};
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (plan.template bind_output<I + 1>(grads[I].data()), ...);
  }(std::index_sequence_for<Leaves...>{});
  plan.run(opt.batch);
  // Every later run (the finite differences) overwrites the bound outputs.
  const std::vector<std::vector<double>> analytic_grads = grads;

  std::size_t compared = 0;
  for (std::size_t leaf = 0; leaf < values.size(); ++leaf) {
    for (std::size_t i = 0; i < values[leaf].size(); ++i) {
      double& v = values[leaf][i];
      const double saved = v;
      v = saved + opt.h;
      plan.run(opt.batch);
      const double up = plan.template output<0>()[0];
      v = saved - opt.h;
      plan.run(opt.batch);
      const double down = plan.template output<0>()[0];
      v = saved;
      const double numeric = (up - down) / (2 * opt.h);
      const double analytic = analytic_grads[leaf][i];
      INFO("leaf " << leaf << " element " << i << ": analytic " << analytic << ", finite difference " << numeric);
      REQUIRE(std::isfinite(analytic));
      REQUIRE(std::abs(analytic - numeric) <= opt.atol + opt.rtol * std::max(std::abs(analytic), std::abs(numeric)));
      ++compared;
    }
  }
  return compared;
}

}  // namespace gradcheck
