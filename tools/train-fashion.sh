#!/bin/sh
# train-fashion.sh — the README's main command: install what is missing, build, and train the
# reference autoencoder on Fashion-MNIST on the default device, writing results to results/.
set -eu
cd "$(dirname "$0")/.."
sh tools/install-deps.sh
make -j"$(nproc 2>/dev/null || echo 2)"
mkdir -p results
echo "training on the default device (set CLAE_DEVICE to choose another; see: build/clae devices)" >&2
build/clae train "$@" --json > results/train.json.tmp
mv results/train.json.tmp results/train.json
echo "results written to results/train.json:" >&2
cat results/train.json
