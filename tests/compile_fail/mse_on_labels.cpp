// Must not compile: MSE regresses float targets, and this dataset holds
// integer class labels.
#include <ingot/ingot.hpp>

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<4, 3>>;
  Net model;
  ingot::train::Trainer trainer{model, ingot::loss::MSE{}, ingot::optim::SGD{}};
  ingot::data::Dataset<std::int32_t> labels(2, 4, 1, std::vector<float>(8, 0.5f), std::vector<std::int32_t>{0, 2}, "labels");
  trainer.fit(labels, {.epochs = 1});
}
