#!/usr/bin/env bash
# Fashion-MNIST IDX files -> the LMDBs lenet_train_test.prototxt reads (as Caffe's
# examples/mnist/create_mnist.sh). Run from the repository root.
set -euo pipefail
DATA=${1:-/usr/share/datasets/fashion-mnist}
EMBER=${EMBER:-ember}
OUT=examples/caffe
rm -rf "$OUT/fashion_mnist_train_lmdb" "$OUT/fashion_mnist_test_lmdb"
$EMBER caffe convert-mnist "$DATA/train-images-idx3-ubyte.gz" "$DATA/train-labels-idx1-ubyte.gz" \
  "$OUT/fashion_mnist_train_lmdb"
$EMBER caffe convert-mnist "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" \
  "$OUT/fashion_mnist_test_lmdb"
