#!/bin/sh
# Installs ingot into a temporary prefix with meson install, then builds and
# runs a small program of a user's own out of tree: with pkg-config (header-
# only, and with INGOT_SEPARATE_COMPILATION), and with CMake's
# find_package(ingot).
#   tests/install_test.sh <source root>
set -eu
src=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson=$(command -v /usr/bin/meson || command -v meson)
"$meson" setup "$tmp/build" "$src" --prefix="$tmp/prefix" -Dtests=false -Dexamples=false -Dbench=false >/dev/null
"$meson" install -C "$tmp/build" --quiet
test -f "$tmp/prefix/include/ingot/ingot.hpp"

echo "install_test: pkg-config"
export PKG_CONFIG_PATH="$tmp/prefix/share/pkgconfig"
cflags=$(pkg-config --cflags ingot)
libs=$(pkg-config --libs ingot)
echo "  cflags: $cflags"
echo "  libs:   $libs"
${CXX:-c++} -O2 $cflags "$src/tests/install/consumer.cpp" -o "$tmp/consumer_pkgconfig" $libs
"$tmp/consumer_pkgconfig"

echo "install_test: pkg-config, INGOT_SEPARATE_COMPILATION (the model-independent code in a translation unit of its own)"
printf '#include <ingot/separate_compilation.hpp>\n' > "$tmp/ingot_separate.cpp"
${CXX:-c++} -O2 -DINGOT_SEPARATE_COMPILATION $cflags -c "$tmp/ingot_separate.cpp" -o "$tmp/ingot_separate.o"
${CXX:-c++} -O2 -DINGOT_SEPARATE_COMPILATION $cflags -c "$src/tests/install/consumer.cpp" -o "$tmp/consumer.o"
# The consumer must call, not compile, the model-independent code: the
# safetensors parser, the float GEMM, SGD's step and the data loader.
for symbol in 'ingot::io::parse_safetensors' 'void ingot::simd::gemm<' \
              'void ingot::optim::optimizer<ingot::optim::SGD>::step<float>' 'ingot::data::DataLoader<float>::next'; do
  if nm -C "$tmp/consumer.o" | grep -F " $symbol" | grep -q ' [TW] '; then
    echo "install_test: the consumer compiled $symbol although INGOT_SEPARATE_COMPILATION is set" >&2
    exit 1
  fi
  if ! nm -C "$tmp/ingot_separate.o" | grep -F " $symbol" | grep -q ' [TW] '; then
    echo "install_test: ingot/separate_compilation.hpp did not compile $symbol" >&2
    exit 1
  fi
done
${CXX:-c++} "$tmp/consumer.o" "$tmp/ingot_separate.o" -o "$tmp/consumer_separate" $libs
"$tmp/consumer_separate"

echo "install_test: CMake find_package(ingot)"
cmake=$(command -v /usr/bin/cmake || command -v cmake)
"$cmake" -S "$src/tests/install" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" -G Ninja >/dev/null
"$cmake" --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer"
