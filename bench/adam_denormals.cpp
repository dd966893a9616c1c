// The cost of denormal floats in the Adam pass, and what flushing them saves:
// 235,146 parameters (the Fashion-MNIST MLP) whose gradients are non-zero for
// ten steps and then zero for 90% of them (pixels that are never lit), as
// inactive inputs give. Their first moments decay through the denormal range
// around step 800; the best step time over steps 800-900 is reported with
// denormals kept and flushed.
//   bench_adam_denormals
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

int main() {
  const std::size_t n = 235146;
  for (int flush = 0; flush < 2; ++flush) {
    optim::Adam adam{{.lr = 1e-3f}};
    adam.attach<float>(n);
    std::vector<float> p(n, 0.1f), g0(n, 1e-3f), g(n, 0.0f);
    for (std::size_t i = 0; i < n; i += 10) g[i] = 1e-3f;
    simd::flush_denormals_scope scope(flush == 1);
    double best = 1e9;
    for (int s = 0; s < 900; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      adam.step<float>(p, s < 10 ? g0 : g);
      const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      if (s > 800) best = std::min(best, us);
    }
    auto v = adam.state<float>("", "exp_avg");
    std::size_t denormal = 0;
    for (float x : v) denormal += (x != 0 && std::abs(x) < 1.17549435e-38f);
    std::printf("flush_denormals %d: Adam step over %zu values, best of steps 800-900 %.1f us; denormal exp_avg "
                "values %zu\n",
                flush, n, best, denormal);
  }
}
