// Must not compile: the penalty names a parameter the model does not have.
#include <ingot/ingot.hpp>

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<4, 3>>;
  Net model;
  ingot::train::Trainer trainer{model, ingot::loss::Penalized<ingot::loss::MSE<>, ingot::loss::L2Penalty<0.1, "1.weight">>{},
                                ingot::optim::SGD{}};
  (void)trainer;
}
