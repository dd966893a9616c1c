// Must not compile: CrossEntropy (without probability targets) takes
// integer class labels, and this dataset holds float targets.
#include <ingot/ingot.hpp>

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<4, 3>>;
  Net model;
  ingot::train::Trainer trainer{model, ingot::loss::CrossEntropy{}, ingot::optim::SGD{}};
  ingot::data::Dataset<float> targets(2, 4, 3, std::vector<float>(8, 0.5f), std::vector<float>(6, 1.0f), "targets");
  trainer.evaluate(targets);
}
