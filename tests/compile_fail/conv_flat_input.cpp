// Must not compile: a convolution on flat feature rows (no Unflatten before it).
#include <ingot/ingot.hpp>

int main() {
  using namespace ingot::nn;
  Sequential<Dense<10, 784>, Conv2d<1, 8, 3>> net;
  (void)net;
}
