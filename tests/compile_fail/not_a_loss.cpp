// Must not compile: the second argument of a Trainer is an optimizer, not a loss.
#include <ingot/ingot.hpp>

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<4, 3>>;
  Net model;
  ingot::train::Trainer trainer{model, ingot::optim::Adam{}, ingot::optim::SGD{}};
  (void)trainer;
}
