// The ingot side of tools/torch_interop.py, on slices of Fashion-MNIST:
//   interop_driver train WEIGHTS.safetensors LOGITS.npy
//     trains the 784-256-128-10 MLP one epoch on the first 2000 training
//     images, saves its state_dict, and writes its logits on the first 1000
//     test images;
//   interop_driver first-epoch WEIGHTS.safetensors LOSSES.npy
//     loads weights (saved by PyTorch), trains one unshuffled SGD epoch
//     (lr 0.05, batch 100) on the first 2000 training images, and writes
//     the loss of every step.
#include <cstdio>
#include <ingot/ingot.hpp>
#include <string>

using namespace ingot;
using Net = nn::Sequential<nn::Dense<784, 256>, nn::ReLU, nn::Dense<256, 128>, nn::ReLU, nn::Dense<128, 10>>;

namespace {
struct per_step_losses {
  std::vector<double>* losses;
  void on_batch_end(const train::batch_result& r) { losses->push_back(r.loss); }
};

data::Dataset<std::int32_t> first_rows(const data::Dataset<std::int32_t>& d, std::size_t n) {
  std::vector<std::size_t> rows(n);
  for (std::size_t i = 0; i < n; ++i) rows[i] = i;
  return data::subset(d, std::span<const std::size_t>(rows), d.source);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: interop_driver train|first-epoch WEIGHTS.safetensors OUT.npy\n");
    return 1;
  }
  try {
    const std::string mode = argv[1], weights = argv[2], out = argv[3];
    const auto train_set = first_rows(data::fashion_mnist("train"), 2000);
    Net net{init::seed(3)};
    if (mode == "train") {
      train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = 1e-3f}}};
      trainer.fit(train_set, {.epochs = 1, .batch_size = 64, .shuffle = true, .seed = 1});
      io::save_state_dict(net, weights);
      const auto test_set = first_rows(data::fashion_mnist("t10k"), 1000);
      const auto logits = trainer.predict(test_set.x.data(), test_set.rows);
      data::write_npy<float>(out, logits, {test_set.rows, 10});
    } else if (mode == "first-epoch") {
      io::load_state_dict(net, weights);
      train::Trainer trainer{net, loss::CrossEntropy{}, optim::SGD{{.lr = 0.05f}}};
      std::vector<double> losses;
      trainer.fit(train_set, {.epochs = 1, .batch_size = 100}, per_step_losses{&losses});
      data::write_npy<double>(out, losses, {losses.size()});
    } else {
      std::fprintf(stderr, "interop_driver: unknown mode %s\n", mode.c_str());
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "interop_driver: %s\n", e.what());
    return 1;
  }
}
