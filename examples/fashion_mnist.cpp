// Fashion-MNIST with a 784-256-128-10 MLP: real data, the PyTorch training
// loop (Adam, cross-entropy, shuffled mini-batches), one line per epoch.
//
//   fashion_mnist [--epochs 5] [--batch-size 64] [--lr 1e-3] [--seed 42] [--data-dir DIR]
//                 [--require-accuracy PERCENT]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ingot/ingot.hpp>

using namespace ingot;

using Net = nn::Sequential<nn::Dense<784, 256>, nn::ReLU,
                           nn::Dense<256, 128>, nn::ReLU,
                           nn::Dense<128, 10>>;

int main(int argc, char** argv) {
  CLI::App app{"Train a 784-256-128-10 MLP on Fashion-MNIST"};
  std::size_t epochs = 5, batch_size = 64;
  float lr = 1e-3f;
  std::uint64_t seed = 42;
  std::string data_dir;
  double require_accuracy = 0;
  app.add_option("--epochs", epochs, "passes over the 60000 training images")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", batch_size, "rows per mini-batch")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "Adam learning rate");
  app.add_option("--seed", seed, "seed for initialisation and shuffling");
  app.add_option("--data-dir", data_dir, "folder with the four *-ubyte.gz files (default: Debian's dataset-fashion-mnist)");
  app.add_option("--require-accuracy", require_accuracy, "exit with status 2 if the final test accuracy (%) is lower");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto train_set = data::fashion_mnist("train", data_dir);
    const auto test_set = data::fashion_mnist("t10k", data_dir);
    std::printf("Fashion-MNIST: %zu training and %zu test images of %zu pixels\n", train_set.size(), test_set.size(),
                train_set.features);

    Net net{init::seed(seed)};
    std::printf("model: 784-256-128-10 MLP, %zu parameters; Adam lr %g, batch %zu\n", Net::num_scalars(),
                static_cast<double>(lr), batch_size);
    train::Trainer trainer{net, loss::CrossEntropy{}, optim::Adam{{.lr = lr}}};
    double accuracy = 0;
    trainer.fit(train_set, {.epochs = epochs, .batch_size = batch_size, .shuffle = true, .seed = seed},
                [&](const train::epoch_result& r) {
                  const auto test = trainer.evaluate(test_set);
                  accuracy = 100.0 * test.accuracy;
                  std::printf("epoch %zu/%zu  train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.2f s)\n",
                              r.epoch, r.epochs, r.loss, test.loss, 100.0 * test.accuracy, r.seconds);
                  std::fflush(stdout);
                });
    if (accuracy < require_accuracy) {
      std::fprintf(stderr, "fashion_mnist: test accuracy %.2f%% is below the required %.2f%%\n", accuracy,
                   require_accuracy);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 1;
  }
}
