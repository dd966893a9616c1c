#!/bin/sh
# Builds the Fashion-MNIST example and trains the 784-256-128-10 MLP on the
# real data (Debian's dataset-fashion-mnist), one line per epoch.
# Extra arguments go to the program, e.g. --epochs 10 --batch-size 128
set -e
cd "$(dirname "$0")/.."
sh tools/build.sh examples/fashion_mnist
exec ./build/examples/fashion_mnist "$@"
