#!/bin/sh
# Compile time and peak compiler memory of each example and of deep MLPs
# (Sequential of N Dense<32, 32> + Tanh pairs, trained with CE and Adam), so
# that changes to the compile-time core can be compared like run time.
#   bench/compile_times.sh [depths...]   (default depths: 4 8 16)
set -e
cd "$(dirname "$0")/.."
cxx=${CXX:-c++}
flags="-std=c++20 -O3 -march=native -DNDEBUG -Iinclude"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
measure() {  # name source
  /usr/bin/time -f "%e %M" -o "$tmp/time" $cxx $flags -c "$2" -o "$tmp/out.o"
  read -r secs kb < "$tmp/time"
  printf '| %s | %s | %d |\n' "$1" "$secs" $((kb / 1024))
}
echo "| translation unit | seconds | peak MB |"
echo "|---|---|---|"
for e in linear_regression custom_expression fashion_mnist; do measure "examples/$e.cpp" "examples/$e.cpp"; done
for n in ${*:-4 8 16}; do
  layers=$(yes 'ingot::nn::Dense<32, 32>, ingot::nn::Tanh' | head -n "$n" | paste -sd, -)
  cat > "$tmp/deep$n.cpp" <<CPP
#include <ingot/ingot.hpp>
using Net = ingot::nn::Sequential<$layers, ingot::nn::Dense<32, 10>>;
int main() {
  Net net;
  ingot::train::Trainer t{net, ingot::loss::CrossEntropy{}, ingot::optim::Adam{}};
  std::vector<float> x(32 * 4, 0.1f);
  std::vector<std::int32_t> y(4, 1);
  return static_cast<int>(t.step(x.data(), y.data(), 4));
}
CPP
  measure "MLP of $n hidden layers (train step)" "$tmp/deep$n.cpp"
done
