#!/bin/sh
# Builds the test suite with AddressSanitizer and UndefinedBehaviorSanitizer
# in ./build-sanitize and runs it. This build uses clang (clang++-19, or
# $SANITIZE_CXX), so that CI compiles and runs every test with both
# compilers: g++ in ./build (tools/test.sh), clang here. What only checks
# sources or tooling (the compile-only, install and fixture-regeneration
# tests) and the full-data example run in the plain build only; the
# sanitized build reads the real IDX files in the idx and torch_interop
# tests. Unoptimised and without debug info, the test sources compile
# several times faster than at -O2 -g, and the suite still runs in seconds.
# Extra arguments go to meson test.
set -e
cd "$(dirname "$0")/.."
sh tools/deps.sh
meson=$(command -v /usr/bin/meson || command -v meson)
cxx=${SANITIZE_CXX:-clang++-19}
if [ ! -f build-sanitize/build.ninja ]; then
  CXX=$cxx "$meson" setup build-sanitize -Db_sanitize=address,undefined -Doptimization=0 -Ddebug=false -Dbench=false \
    >/dev/null
fi
ninja -C build-sanitize
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
"$meson" test -C build-sanitize --print-errorlogs --no-suite compile --no-suite install --no-suite fixtures --no-suite slow \
  --timeout-multiplier 4 "$@"
