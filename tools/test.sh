#!/bin/sh
# Builds everything and runs every test (meson test). Extra arguments go to
# meson test, e.g. tools/test.sh --suite ingot -v
set -e
cd "$(dirname "$0")/.."
sh tools/build.sh
meson=$(command -v /usr/bin/meson || command -v meson)
"$meson" test -C build --print-errorlogs "$@"
