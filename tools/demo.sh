#!/usr/bin/env bash
# make demo: fetch Fashion-MNIST if needed, then train the conv-net with a live progress line and
# print its test accuracy. GPUs: 3 epochs (seconds). CPU-only machines (lavapipe): at most 200 s
# of training at batch 100, then the test pass (fashion_mnist --demo). Args: <build dir>.
set -euo pipefail
build=${1:-build}
bash tools/fetch-data.sh "$build"
"$build/examples/fashion_mnist" conv-net --demo
echo "demo: the original's full run (40 epochs, 2 trials, CSV):"
echo "  $build/examples/fashion_mnist conv-net --epochs 40 --trials 2 --csv conv-net.csv"
