// Must not compile: two different parameters named "W" in one model (their
// values would be bound to the same entry).
#include <ingot/ingot.hpp>

int main() {
  constexpr auto x = ingot::expr::input<"x", 3>;
  constexpr auto W = ingot::expr::param<"W", 4, 3>;
  constexpr auto V = ingot::expr::param<"W", 2, 4>;
  auto model = ingot::nn::from_expression(V * ingot::expr::tanh(W * x));
  (void)model;
}
