#!/usr/bin/env bash
# ember's main job: train the textbook MLP (Dense 512 relu -> Dense 10 softmax, RMSprop,
# batch 128, 5 epochs) on Fashion-MNIST with progress, then report the test accuracy.
# Sets up .venv and the data first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
EMBER_WITH_TORCH=0 bash scripts/setup.sh
exec .venv/bin/python examples/mlp_fashion_mnist.py "$@"
