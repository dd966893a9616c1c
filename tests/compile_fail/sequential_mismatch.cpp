// Must not compile: the second Dense takes 6 inputs but the first gives 5.
#include <ingot/ingot.hpp>

int main() {
  using Net = ingot::nn::Sequential<ingot::nn::Dense<10, 5>, ingot::nn::ReLU, ingot::nn::Dense<6, 1>>;
  Net net;
  return static_cast<int>(net.num_parameters());
}
