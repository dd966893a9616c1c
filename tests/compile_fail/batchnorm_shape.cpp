// Must not compile: BatchNorm1d<8> after a layer that produces 6 features.
#include <ingot/ingot.hpp>

int main() {
  ingot::nn::Sequential<ingot::nn::Dense<4, 6>, ingot::nn::BatchNorm1d<8>, ingot::nn::Dense<8, 2>> net;
  (void)net;
}
