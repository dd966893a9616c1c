// Fashion-MNIST with a small convolutional network: two 3 x 3 convolutions
// with BatchNorm, ReLU and max pooling, then two Dense layers with Dropout.
// The same flags as the MLP example where they apply; --help lists them.
// --limit trains and tests on the first N images (a quick smoke run).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ingot/ingot.hpp>
#include <optional>

using namespace ingot;

// 1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 3136 -> 128 -> 10,
// PyTorch's nn.Sequential of the same layers (same state_dict names).
using Net = nn::Sequential<nn::Unflatten<1, 28, 28>,
                           nn::Conv2d<1, 32, 3, 1, 1>, nn::BatchNorm2d<32>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Conv2d<32, 64, 3, 1, 1>, nn::BatchNorm2d<64>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Flatten, nn::Dense<3136, 128>, nn::ReLU, nn::Dropout<0.3>, nn::Dense<128, 10>>;

struct settings {
  std::size_t epochs = 15, batch_size = 64, limit = 0;
  double lr = 1e-3, weight_decay = 0, momentum = 0.9, require_accuracy = 0;
  std::uint64_t seed = 42;
  std::string optimizer = "adam", schedule = "cosine";
  bool progress = false, resume = false;
  std::string metrics, checkpoint = "fashion_mnist_cnn.ckpt.safetensors", save_model = "fashion_mnist_cnn.safetensors";
};

data::Dataset<std::int32_t> first_rows(const data::Dataset<std::int32_t>& d, std::size_t n) {
  if (n == 0 || n >= d.rows) return d;
  return data::Dataset<std::int32_t>(n, d.features, d.target_cols,
                                     std::vector<float>(d.x.begin(), d.x.begin() + static_cast<std::ptrdiff_t>(n * d.features)),
                                     std::vector<std::int32_t>(d.y.begin(), d.y.begin() + static_cast<std::ptrdiff_t>(n)),
                                     d.source);
}

sched::SequentialLR make_schedule(const settings& s, std::size_t steps_per_epoch) {
  if (s.schedule == "cosine")
    return sched::SequentialLR::of({}, sched::CosineAnnealingLR{.T_max = s.epochs * steps_per_epoch});
  return sched::SequentialLR::of({}, sched::ConstantLR{.factor = 1.0, .total_iters = 0});
}

int main(int argc, char** argv) {
  CLI::App app{"Train a two-convolution CNN on Fashion-MNIST"};
  app.option_defaults()->always_capture_default();
  settings s;
  std::string data_dir;
  app.add_option("--epochs", s.epochs, "passes over the training images")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", s.batch_size, "images per mini-batch")->check(CLI::Range(2, 1 << 20));
  app.add_option("--lr", s.lr, "learning rate");
  app.add_option("--optimizer", s.optimizer, "adam, adamw or sgd (with --momentum)")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}));
  app.add_option("--weight-decay", s.weight_decay, "weight decay (AdamW: decoupled; others: L2); never on biases");
  app.add_option("--momentum", s.momentum, "SGD momentum");
  app.add_option("--schedule", s.schedule, "learning-rate schedule, stepped every batch")
      ->check(CLI::IsMember({"none", "cosine"}));
  app.add_option("--limit", s.limit, "use only the first N training and test images (0: all)");
  app.add_flag("--progress", s.progress, "a progress bar within each epoch");
  app.add_option("--metrics", s.metrics, "write each epoch's metrics to this file (JSON lines)");
  app.add_option("--checkpoint", s.checkpoint, "training checkpoint, saved atomically after every epoch");
  app.add_flag("--resume", s.resume, "continue from --checkpoint up to --epochs in all (same flags as the first run)");
  app.add_option("--save-model", s.save_model, "final weights as a PyTorch state_dict (safetensors)");
  app.add_option("--seed", s.seed, "seed for initialisation, shuffling and dropout");
  app.add_option("--data-dir", data_dir,
                 "folder with the four *-ubyte.gz files (default: $INGOT_FASHION_MNIST_DIR, else "
                 "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)");
  app.add_option("--require-accuracy", s.require_accuracy, "exit with status 2 if the final test accuracy (%) is lower");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto train_set = first_rows(data::fashion_mnist("train", data_dir), s.limit);
    const auto test_set = first_rows(data::fashion_mnist("t10k", data_dir), s.limit);
    if (s.batch_size > train_set.rows) throw std::invalid_argument("--batch-size is larger than the training set");
    std::printf("Fashion-MNIST: %zu training and %zu test images; %s lr %g, schedule %s, batch %zu, %zu threads\n",
                train_set.size(), test_set.size(), s.optimizer.c_str(), s.lr, s.schedule.c_str(), s.batch_size,
                get_num_threads());
    Net net{init::seed(s.seed)};
    std::fputs(nn::summary<Net>().c_str(), stdout);
    const std::vector<optim::param_group> groups = {{optim::vectors(), {}, 0.0}};
    optim::any_optimizer opt = optim::Adam({.lr = s.lr, .weight_decay = s.weight_decay}, groups);
    if (s.optimizer == "adamw") opt = optim::AdamW({.lr = s.lr, .weight_decay = s.weight_decay}, groups);
    if (s.optimizer == "sgd")
      opt = optim::SGD({.lr = s.lr, .momentum = s.momentum, .weight_decay = s.weight_decay}, groups);
    train::Trainer trainer{net, loss::CrossEntropy{}, std::move(opt)};
    trainer.manual_seed(s.seed);
    const std::size_t steps_per_epoch = (train_set.rows + s.batch_size - 1) / s.batch_size;
    sched::scheduler lr(trainer.optimizer(), make_schedule(s, steps_per_epoch));
    trainer.validate_on(test_set);
    if (s.resume) {
      io::load_checkpoint(s.checkpoint, trainer, lr);
      std::printf("resumed from %s after epoch %zu\n", s.checkpoint.c_str(), trainer.epochs_done());
    }
    std::optional<train::JSONLinesLogger> metrics;
    if (!s.metrics.empty()) metrics.emplace(s.metrics, s.resume);
    auto checkpoint = io::checkpoint_every_epoch(s.checkpoint, trainer, lr);
    struct optional_progress {
      std::optional<train::ProgressBar> bar;
      void on_epoch_begin(std::size_t e) {
        if (bar) bar->on_epoch_begin(e);
      }
      void on_batch_end(const train::batch_result& r) {
        if (bar) bar->on_batch_end(r);
      }
    } progress;
    if (s.progress) progress.bar.emplace();
    trainer.fit(train_set,
                {.epochs = s.epochs, .batch_size = s.batch_size, .shuffle = true, .seed = s.seed, .resume = s.resume},
                sched::each_batch(lr), progress, checkpoint,
                [&](const train::epoch_result& r) {
                  if (metrics) metrics->on_epoch_end(r);
                  std::printf("epoch %zu/%zu  train loss %.4f  test loss %.4f  test accuracy %.2f%%  lr %.3g  (%.2f s)\n",
                              r.epoch, r.epochs, r.loss, r.validation->loss, 100.0 * r.validation->accuracy,
                              lr.last_lr(), r.seconds);
                  std::fflush(stdout);
                });
    const double accuracy = 100.0 * trainer.evaluate(test_set).accuracy;
    io::save_state_dict(net, s.save_model);
    std::printf("final test accuracy %.2f%% after %zu epochs\n", accuracy, trainer.epochs_done());
    std::printf("model weights:  %s (PyTorch: model.load_state_dict(safetensors.torch.load_file(path)))\n",
                s.save_model.c_str());
    if (accuracy < s.require_accuracy) {
      std::fprintf(stderr, "fashion_mnist_cnn: test accuracy %.2f%% is below the required %.2f%%\n", accuracy,
                   s.require_accuracy);
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist_cnn: %s\n", e.what());
    return 1;
  }
}
