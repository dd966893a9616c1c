#!/bin/sh
# Builds the test suite with AddressSanitizer and UndefinedBehaviorSanitizer
# in ./build-sanitize and runs it (what only checks sources or tooling: the
# compile-only, install and fixture-regeneration tests run in the plain
# build only). Extra arguments go to meson test.
set -e
cd "$(dirname "$0")/.."
sh tools/deps.sh
meson=$(command -v /usr/bin/meson || command -v meson)
if [ ! -f build-sanitize/build.ninja ]; then
  "$meson" setup build-sanitize -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Dbench=false >/dev/null
fi
ninja -C build-sanitize
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
"$meson" test -C build-sanitize --print-errorlogs --no-suite compile --no-suite install --no-suite fixtures \
  --timeout-multiplier 4 "$@"
