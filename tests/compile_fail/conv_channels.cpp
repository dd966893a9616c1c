// Must not compile: a convolution that takes 16 channels after one that makes 32.
#include <ingot/ingot.hpp>

int main() {
  using namespace ingot::nn;
  Sequential<Unflatten<1, 28, 28>, Conv2d<1, 32, 3, 1, 1>, ReLU, MaxPool2d<2>, Conv2d<16, 64, 3>> net;
  (void)net;
}
