#include "flags.hpp"

#include <CLI/CLI.hpp>

namespace examples {

struct flags::impl {
  explicit impl(const std::string& description) : app(description) {}
  CLI::App app;
};

flags::flags(const std::string& description) : impl_(std::make_unique<impl>(description)) {
  impl_->app.option_defaults()->always_capture_default();
}
flags::~flags() = default;

void flags::option(const std::string& name, unsigned long& value, const std::string& help, unsigned long min,
                   unsigned long max) {
  CLI::Option* o = impl_->app.add_option(name, value, help);
  const bool unbounded = max == std::numeric_limits<unsigned long>::max();
  if (min == 0 && unbounded) return;
  const std::string bounds =
      unbounded ? "at least " + std::to_string(min) : "from " + std::to_string(min) + " to " + std::to_string(max);
  o->check(CLI::Validator(
      [=](std::string& text) -> std::string {
        unsigned long v = 0;
        const bool number = CLI::detail::lexical_cast(text, v);
        return number && v >= min && v <= max ? std::string() : "Value " + text + " is not " + bounds;
      },
      bounds));
}
void flags::option(const std::string& name, unsigned long long& value, const std::string& help) {
  impl_->app.add_option(name, value, help);
}
void flags::option(const std::string& name, double& value, const std::string& help) {
  impl_->app.add_option(name, value, help);
}
void flags::option(const std::string& name, std::string& value, const std::string& help,
                   const std::vector<std::string>& choices) {
  CLI::Option* o = impl_->app.add_option(name, value, help);
  if (!choices.empty()) o->check(CLI::IsMember(choices));
}
void flags::flag(const std::string& name, bool& value, const std::string& help) {
  impl_->app.add_flag(name, value, help);
}

std::optional<int> flags::parse(int argc, char** argv) {
  try {
    impl_->app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return impl_->app.exit(e);
  }
  return std::nullopt;
}

void add_common_flags(flags& f, common_settings& s, std::size_t min_batch) {
  f.option("--epochs", s.epochs, "passes over the training images", 1);
  f.option("--batch-size", s.batch_size, "images per mini-batch", min_batch, std::size_t{1} << 20);
  f.option("--lr", s.lr, "learning rate (with a schedule: its peak)");
  f.option("--weight-decay", s.weight_decay,
           "weight decay (AdamW: decoupled; others: L2); never on biases (torch's p.ndim <= 1 recipe)");
  f.option("--momentum", s.momentum, "SGD momentum");
  f.flag("--progress", s.progress, "a progress bar within each epoch");
  f.option("--metrics", s.metrics, "write each epoch's metrics to this file: CSV (.csv) or JSON lines (.jsonl)");
  f.option("--checkpoint", s.checkpoint, "training checkpoint, saved atomically after every epoch");
  f.flag("--resume", s.resume, "continue from --checkpoint up to --epochs in all (same flags as the first run)");
  f.option("--save-model", s.save_model, "final weights as a PyTorch state_dict (safetensors)");
  f.option("--seed", s.seed, "seed for initialisation, shuffling and dropout");
  f.option("--data-dir", s.data_dir,
           "folder with the four *-ubyte.gz files (default: $INGOT_FASHION_MNIST_DIR, else "
           "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)");
  f.option("--matmul-precision", s.matmul_precision,
           "float32, or bf16: products with bfloat16 operands and float sums (AVX-512 BF16; "
           "torch.set_float32_matmul_precision(\"medium\"))",
           {"float32", "bf16"});
  f.option("--require-accuracy", s.require_accuracy, "exit with status 2 if the final test accuracy (%) is lower");
}

}  // namespace examples
