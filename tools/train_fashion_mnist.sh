#!/bin/sh
# Builds the Fashion-MNIST example and trains the 784-256-128-10 MLP on the
# real data (Debian's dataset-fashion-mnist), one line per epoch. Extra
# arguments go to the program (--help lists them); the files it writes
# (checkpoint, weights, metrics) go to the current folder unless the flags
# say otherwise.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
sh "$root/tools/build.sh" examples/fashion_mnist
exec "$root/build/examples/fashion_mnist" "$@"
