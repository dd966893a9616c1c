// The Fashion-MNIST examples' shared functions, compiled once for both.
#include "training.hpp"

#include <cstdio>

namespace examples {

void apply_matmul_precision(const common_settings& s) {
  if (s.matmul_precision != "bf16") return;
  ingot::set_matmul_precision(ingot::matmul_precision::bfloat16);
  if (!ingot::bf16_matmul_available)
    std::fprintf(stderr, "--matmul-precision bf16: this build's target has no AVX-512 BF16; products stay float\n");
}

ingot::optim::any_optimizer make_optimizer(const std::string& name, const common_settings& s) {
  using namespace ingot::optim;
  const std::vector<param_group> groups = {{vectors(), {}, 0.0}};
  const double wd = s.weight_decay;
  if (name == "adamw") return AdamW({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "sgd") return SGD({.lr = s.lr, .momentum = s.momentum, .weight_decay = wd}, groups);
  if (name == "rmsprop") return RMSprop({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "adagrad") return Adagrad({.lr = s.lr, .weight_decay = wd}, groups);
  if (name == "adam") return Adam({.lr = s.lr, .weight_decay = wd}, groups);
  throw std::invalid_argument("--optimizer " + name + ": not an optimizer of this example");
}

metrics_log::metrics_log(const std::string& path, bool append) {
  if (path.empty()) return;
  if (path.ends_with(".csv")) csv.emplace(path, append);
  else if (path.ends_with(".jsonl") || path.ends_with(".json")) jsonl.emplace(path, append);
  else throw std::invalid_argument("--metrics " + path + ": the file name must end in .csv, .jsonl or .json");
}

}  // namespace examples
