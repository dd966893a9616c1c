#!/bin/sh
# Compile time and peak compiler memory of each example and of deep models,
# so that changes to the compile-time core can be compared like run time.
#   - each example as the build compiles it (INGOT_SEPARATE_COMPILATION: the
#     model-independent code, float kernels included, and the examples' flag
#     parsing and shared functions are compiled once, in the translation
#     units listed after them), and the CNN example header-only, as a
#     one-file program compiles it;
#   - MLPs of N hidden layers (Dense<32, 32> + Tanh), trained with CE and Adam
#     (one translation unit with a train step);
#   - the same with BatchNorm1d and Dropout after every hidden Dense.
#   bench/compile_times.sh [depths...]      (default depths: 4 16 32 64)
# CXX and CXXFLAGS override the compiler and the flags (default: -O2 -march=native).
set -e
cd "$(dirname "$0")/.."
cxx=${CXX:-c++}
flags="-std=c++20 ${CXXFLAGS:--O2 -march=native} -DNDEBUG -Iinclude"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
measure() {  # name source [extra flags]
  name=$1 src=$2
  shift 2
  /usr/bin/time -f "%e %M" -o "$tmp/time" $cxx $flags "$@" -c "$src" -o "$tmp/out.o"
  read -r secs kb < "$tmp/time"
  printf '| %s | %s | %d |\n' "$name" "$secs" $((kb / 1024))
}
deep() {  # file depth hidden-layer-list
  cat > "$1" <<CPP
#include <ingot/ingot.hpp>
using Net = ingot::nn::Sequential<$3, ingot::nn::Dense<32, 10>>;
int main() {
  Net net;
  ingot::train::Trainer t{net, ingot::loss::CrossEntropy{}, ingot::optim::Adam{}};
  std::vector<float> x(32 * 4, 0.1f);
  std::vector<std::int32_t> y(4, 1);
  return static_cast<int>(t.step(x.data(), y.data(), 4));
}
CPP
}
echo "compiler: $($cxx --version | head -n 1); flags: $flags"
echo
echo "| translation unit | seconds | peak MB |"
echo "|---|---|---|"
for e in linear_regression custom_expression fashion_mnist fashion_mnist_cnn; do
  measure "examples/$e.cpp" "examples/$e.cpp" -DINGOT_SEPARATE_COMPILATION
done
measure "examples/ingot_separate_compilation.cpp (once per program)" examples/ingot_separate_compilation.cpp \
  -DINGOT_SEPARATE_COMPILATION
measure "examples/common/flags.cpp (CLI11, once per program)" examples/common/flags.cpp
measure "examples/common/training.cpp (once per program)" examples/common/training.cpp -DINGOT_SEPARATE_COMPILATION
measure "examples/fashion_mnist_cnn.cpp, header-only" examples/fashion_mnist_cnn.cpp
for n in ${*:-4 16 32 64}; do
  layers=$(yes 'ingot::nn::Dense<32, 32>, ingot::nn::Tanh' | head -n "$n" | paste -sd, -)
  deep "$tmp/deep$n.cpp" "$n" "$layers"
  measure "MLP of $n hidden layers (train step)" "$tmp/deep$n.cpp"
done
for n in ${*:-4 16 32 64}; do
  layers=$(yes 'ingot::nn::Dense<32, 32>, ingot::nn::BatchNorm1d<32>, ingot::nn::Tanh, ingot::nn::Dropout<0.1>' |
           head -n "$n" | paste -sd, -)
  deep "$tmp/norm$n.cpp" "$n" "$layers"
  measure "MLP of $n hidden layers with BatchNorm1d and Dropout (train step)" "$tmp/norm$n.cpp"
done
