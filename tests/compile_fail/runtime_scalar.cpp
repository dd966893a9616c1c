// Must not compile: expressions take compile-time constants (expr::lit<2.0>).
#include <ingot/ingot.hpp>

int main() {
  constexpr auto x = ingot::expr::input<"x", 3>;
  auto y = x * 2.0;
  (void)y;
}
