// One training epoch of a 784-256-128-10 MLP on Fashion-MNIST's 60000
// training images: Adam lr 1e-3, cross-entropy, shuffled batches of 64.
// Reports the median epoch time over several epochs (one thread).
//
//   bench_mlp_epoch [epochs] [batch_size] [flush_denormals: 1 (default) or 0] [threads: 0 = all cores]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ingot/ingot.hpp>
#include <vector>

using namespace ingot;

using Net = nn::Sequential<nn::Dense<784, 256>, nn::ReLU, nn::Dense<256, 128>, nn::ReLU, nn::Dense<128, 10>>;

int main(int argc, char** argv) {
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5;
  const std::size_t batch = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
  const bool flush = argc > 3 ? std::strtoul(argv[3], nullptr, 10) != 0 : true;
  set_num_threads(argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 0);
  const auto train_set = data::fashion_mnist("train");
  Net net{init::seed(1)};
  train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
  const auto history = trainer.fit(
      train_set, {.epochs = epochs, .batch_size = batch, .shuffle = true, .seed = 1, .flush_denormals = flush});
  std::vector<double> seconds;
  if (std::getenv("INGOT_BENCH_VERBOSE")) for (const auto& r : history) std::printf("epoch %.4f s\n", r.seconds);
  for (const auto& r : history) seconds.push_back(r.seconds);
  std::sort(seconds.begin(), seconds.end());
  std::printf("ingot mlp_epoch median_s %.4f min_s %.4f max_s %.4f epochs %zu batch %zu flush_denormals %d "
              "threads %zu final_loss %.6f\n",
              seconds[seconds.size() / 2], seconds.front(), seconds.back(), epochs, batch, flush ? 1 : 0,
              get_num_threads(), history.back().loss);
}
