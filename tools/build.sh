#!/bin/sh
# Configures (once) and builds ingot in ./build. Uses Debian's meson when
# installed, so the build is the one the toolchain notes describe.
#   tools/build.sh [ninja targets...]
set -e
cd "$(dirname "$0")/.."
sh tools/deps.sh
meson=$(command -v /usr/bin/meson || command -v meson)
if [ ! -f build/build.ninja ]; then
  "$meson" setup build >/dev/null
fi
ninja -C build "$@"
