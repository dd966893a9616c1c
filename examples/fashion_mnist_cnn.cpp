// Fashion-MNIST with a small convolutional network: two 3 x 3 convolutions
// with BatchNorm, ReLU and max pooling, then two Dense layers with Dropout.
// The same flags as the MLP example where they apply; --help lists them.
// --limit trains and tests on the first N images (a quick smoke run).
#include <cstdio>
#include <ingot/ingot.hpp>
#include <optional>

#include "common/flags.hpp"
#include "common/training.hpp"

using namespace ingot;

// 1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 3136 -> 128 -> 10,
// PyTorch's nn.Sequential of the same layers (same state_dict names).
using Net = nn::Sequential<nn::Unflatten<1, 28, 28>,
                           nn::Conv2d<1, 32, 3, 1, 1>, nn::BatchNorm2d<32>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Conv2d<32, 64, 3, 1, 1>, nn::BatchNorm2d<64>, nn::ReLU, nn::MaxPool2d<2>,
                           nn::Flatten, nn::Dense<3136, 128>, nn::ReLU, nn::Dropout<0.3>, nn::Dense<128, 10>>;

struct settings : examples::common_settings {
  std::size_t limit = 0;
  std::string optimizer = "adam", schedule = "cosine";
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
  settings s;
  s.epochs = 15;
  s.checkpoint = "fashion_mnist_cnn.ckpt.safetensors";
  s.save_model = "fashion_mnist_cnn.safetensors";
  examples::flags f("Train a two-convolution CNN on Fashion-MNIST");
  examples::add_common_flags(f, s, 2);
  f.option("--optimizer", s.optimizer, "adam, adamw or sgd (with --momentum)", {"adam", "adamw", "sgd"});
  f.option("--schedule", s.schedule, "learning-rate schedule, stepped every batch", {"none", "cosine"});
  f.option("--limit", s.limit, "use only the first N training and test images (0: all)");
  if (const auto status = f.parse(argc, argv)) return *status;
  examples::apply_matmul_precision(s);

  try {
    const auto train_set = first_rows(data::fashion_mnist("train", s.data_dir), s.limit);
    const auto test_set = first_rows(data::fashion_mnist("t10k", s.data_dir), s.limit);
    if (s.batch_size > train_set.rows) throw std::invalid_argument("--batch-size is larger than the training set");
    std::printf("Fashion-MNIST: %zu training and %zu test images; %s lr %g, schedule %s, batch %zu, %zu threads%s\n",
                train_set.size(), test_set.size(), s.optimizer.c_str(), s.lr, s.schedule.c_str(), s.batch_size,
                get_num_threads(), get_matmul_precision() == matmul_precision::bfloat16 ? ", bfloat16 products" : "");
    Net net{init::seed(s.seed)};
    std::fputs(nn::summary<Net>().c_str(), stdout);
    train::Trainer trainer{net, loss::CrossEntropy{}, examples::make_optimizer(s.optimizer, s)};
    trainer.manual_seed(s.seed);
    const std::size_t steps_per_epoch = (train_set.rows + s.batch_size - 1) / s.batch_size;
    sched::scheduler lr(trainer.optimizer(), make_schedule(s, steps_per_epoch));
    trainer.validate_on(test_set);
    if (s.resume) {
      io::load_checkpoint(s.checkpoint, trainer, lr);
      std::printf("resumed from %s after epoch %zu\n", s.checkpoint.c_str(), trainer.epochs_done());
    }
    examples::metrics_log metrics(s.metrics, s.resume);
    auto checkpoint = io::checkpoint_every_epoch(s.checkpoint, trainer, lr);
    examples::optional_progress progress(s.progress);
    trainer.fit(train_set,
                {.epochs = s.epochs, .batch_size = s.batch_size, .shuffle = true, .seed = s.seed, .resume = s.resume},
                sched::each_batch(lr), progress, metrics, checkpoint,
                [&](const train::epoch_result& r) {
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
