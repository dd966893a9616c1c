// Must not compile: the third argument of a Trainer is not an optimizer.
#include <ingot/ingot.hpp>

struct not_an_optimizer {
  double lr = 0.1;
};

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<4, 3>>;
  Net model;
  ingot::train::Trainer trainer{model, ingot::loss::CrossEntropy{}, not_an_optimizer{}};
  (void)trainer;
}
