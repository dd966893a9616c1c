// ingot's side of the CNN benchmark (bench/cnn.py runs it beside PyTorch and
// JAX): the Fashion-MNIST CNN of examples/fashion_mnist_cnn.cpp without its
// Dropout (random masks differ between frameworks, and the losses are
// compared), Adam 1e-3, training steps on contiguous batches of the
// training images.
//   bench_cnn time BATCH STEPS RUNS THREADS   seconds per step, one JSON line
//   bench_cnn check BATCH STEPS DIR [THREADS] writes DIR/cnn.safetensors (the initial
//                                             weights) and the losses of STEPS steps
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <string>
#include <vector>

#include "core_link.hpp"

using namespace ingot;

using Cnn = nn::Sequential<nn::Unflatten<1, 28, 28>,
                           nn::Conv2d<1, 32, 3, 1, 1>, nn::BatchNorm2d<32>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Conv2d<32, 64, 3, 1, 1>, nn::BatchNorm2d<64>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Flatten, nn::Dense<3136, 128>, nn::ReLU, nn::Dense<128, 10>>;

namespace {
using clock_type = std::chrono::steady_clock;

void print_list(const char* key, const std::vector<double>& v) {
  std::printf("\"%s\": [", key);
  for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.9g", i ? ", " : "", v[i]);
  std::printf("]");
}

int time_steps(std::size_t batch, std::size_t steps, int runs, std::size_t threads) {
  set_num_threads(threads);
  const auto train_set = data::fashion_mnist("train");
  Cnn net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  trainer.reserve(batch);
  const std::size_t batches = train_set.rows / batch;
  std::size_t b = 0;
  float loss = 0;
  auto one = [&] {
    loss = trainer.step(train_set.x.data() + b * batch * 784, train_set.y.data() + b * batch, batch);
    b = (b + 1) % batches;
  };
  for (int s = 0; s < 5; ++s) one();  // warm-up: plans made, buffers touched
  std::vector<double> per_step;
  for (int r = 0; r < runs; ++r) {
    const auto start = clock_type::now();
    for (std::size_t s = 0; s < steps; ++s) one();
    per_step.push_back(std::chrono::duration<double>(clock_type::now() - start).count() / static_cast<double>(steps));
  }
  std::printf("{\"impl\": \"ingot\", \"threads\": %zu, \"loss\": %.9g, ", get_num_threads(), static_cast<double>(loss));
  print_list("times", per_step);
  if (get_num_threads() > 1) ingot_bench::print_core_link(ingot_bench::measure_core_link());
  std::printf("}\n");
  return 0;
}

int check(std::size_t batch, std::size_t steps, const std::string& dir, std::size_t threads) {
  set_num_threads(threads);
  const auto train_set = data::fashion_mnist("train");
  Cnn net{init::seed(1)};
  io::save_state_dict(net, dir + "/cnn.safetensors");
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  std::vector<double> losses;
  for (std::size_t s = 0; s < steps; ++s)
    losses.push_back(trainer.step(train_set.x.data() + s * batch * 784, train_set.y.data() + s * batch, batch));
  std::printf("{\"impl\": \"ingot\", ");
  print_list("losses", losses);
  std::printf("}\n");
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    auto arg = [&](int i) { return std::strtoul(argv[i], nullptr, 10); };
    if (cmd == "time" && argc == 6) return time_steps(arg(2), arg(3), static_cast<int>(arg(4)), arg(5));
    if (cmd == "check" && (argc == 5 || argc == 6)) return check(arg(2), arg(3), argv[4], argc == 6 ? arg(5) : 0);
    std::fprintf(stderr, "usage: bench_cnn time BATCH STEPS RUNS THREADS | check BATCH STEPS DIR [THREADS]\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cnn: %s\n", e.what());
    return 1;
  }
}
