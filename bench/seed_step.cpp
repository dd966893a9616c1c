// Time per training step of the seed loop (Linear 10 -> 1, MSE, SGD lr 0.01,
// full batch of 100): forward, loss, backward and update. Reports the median
// over several runs of many steps each, in microseconds per step.
//
//   bench_seed_step [runs] [steps_per_run]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : 15;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20000;
  using Net = nn::Sequential<nn::Dense<10, 1>>;
  Net model{init::seed(42)};
  rng g(7);
  std::vector<float> x(100 * 10), y(100);
  g.fill_normal(std::span<float>(x));
  g.fill_normal(std::span<float>(y));
  train::Trainer trainer{model, loss::MSE{}, optim::SGD{{.lr = 0.01f}}};
  trainer.reserve(100);

  std::vector<double> us_per_step;
  float sink = 0;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) sink += trainer.step(x.data(), y.data(), 100);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    us_per_step.push_back(us / steps);
  }
  std::sort(us_per_step.begin(), us_per_step.end());
  std::printf("ingot seed_step median_us %.4f min_us %.4f max_us %.4f runs %d steps %d (checksum %g)\n",
              us_per_step[us_per_step.size() / 2], us_per_step.front(), us_per_step.back(), runs, steps,
              static_cast<double>(sink));
}
