#!/usr/bin/env bash
# Prepare a fresh clone: a virtual environment in .venv with ember installed (editable), the
# test tools, PyTorch as a reference oracle (tests compare against it; never a runtime
# dependency), and the Fashion-MNIST data set from Debian's package when apt is available.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_ref=${EMBER_WITH_TORCH:-1}

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
LOG=.venv/setup.log

pip_install() {  # quiet unless it fails (pip's index notes would bury the useful output)
  if ! "$VPY" -m pip install -q --disable-pip-version-check "$@" >>"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    return 1
  fi
}

if ! "$VPY" -c "import ember, numpy, pytest, matplotlib, threadpoolctl, hypothesis" 2>/dev/null; then
  echo "[setup] installing ember and test tools"
  pip_install -e ".[test]"
fi

# the Caffe tests read/write LMDB (lmdb), decode encoded records (Pillow) and check files
# with Google's protobuf
if ! "$VPY" -c "import lmdb, PIL, google.protobuf" 2>/dev/null; then
  echo "[setup] installing the Caffe extras (lmdb, Pillow, protobuf)"
  pip_install -e ".[test,caffe,images]"
fi

# hyperparameter search (ember.tune, ember search) is built on Optuna
if ! "$VPY" -c "import optuna" 2>/dev/null; then
  echo "[setup] installing the search extra (Optuna)"
  pip_install -e ".[test,tune]"
fi

if [ "$want_ref" = 1 ] && ! "$VPY" -c "import torch, safetensors, tensorboard" 2>/dev/null; then
  echo "[setup] installing PyTorch 2.13.0 (CPU, reference oracle for tests and benchmarks)"
  # Pinned exactly: an unpinned 'torch' would pull a multi-GB CUDA build.
  if ! pip_install "torch==2.13.0" safetensors tensorboard; then
    if [ "${CI:-}" = true ]; then
      echo "[setup] ERROR: could not install torch==2.13.0; CI needs the reference tests" >&2
      exit 1
    fi
    echo "[setup] warning: torch not installed; reference comparisons will be skipped" >&2
  fi
fi

if ! "$VPY" -c "import ml_dtypes" 2>/dev/null; then
  echo "[setup] installing ml_dtypes (bfloat16; the dtype tests use it)"
  pip_install -e ".[lowp]" || echo "[setup] warning: ml_dtypes not installed; bfloat16 tests will skip" >&2
fi

# ONNX export/import (ember.onnx) is checked against onnx.checker and onnxruntime
if ! "$VPY" -c "import onnx, onnxruntime" 2>/dev/null; then
  echo "[setup] installing the ONNX extra (onnx, onnxruntime)"
  pip_install -e ".[onnx]" || echo "[setup] warning: onnx/onnxruntime not installed; ONNX tests will skip" >&2
fi

# compiled CPU kernels (optional extra 'fast'); the tests run both the NumPy and the numba path
if ! "$VPY" -c "import numba" 2>/dev/null; then
  echo "[setup] installing the compiled-kernel extra (numba)"
  pip_install -e ".[fast]" || echo "[setup] warning: numba not installed; only the NumPy kernels are tested" >&2
fi

# oneDNN convolutions (optional extra 'onednn'); the tests run oneDNN's path and ember's own
if ! "$VPY" -c "import sys, os; sys.exit(0 if os.path.exists(os.path.join(sys.prefix, 'lib', 'libdnnl.so.3')) else 1)"; then
  echo "[setup] installing the oneDNN extra (onednn-cpu-gomp)"
  pip_install -e ".[onednn]" || echo "[setup] warning: oneDNN not installed; its convolution tests will skip" >&2
fi

# data-parallel training (ember.distributed) runs on MPI: Debian's Open MPI, then mpi4py
if ! command -v mpirun >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing Open MPI (Debian packages openmpi-bin libopenmpi-dev)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin libopenmpi-dev \
     >/dev/null) || echo "[setup] warning: could not install Open MPI; distributed tests will skip" >&2
fi
if command -v mpirun >/dev/null 2>&1 && ! "$VPY" -c "import mpi4py" 2>/dev/null; then
  echo "[setup] installing the distributed extra (mpi4py)"
  pip_install -e ".[distributed]" || echo "[setup] warning: mpi4py not installed; distributed tests will skip" >&2
fi

fmnist=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$fmnist" ] && [ -z "${EMBER_DATA:-}" ] && command -v apt-get >/dev/null 2>&1 \
   && [ "$(id -u)" = 0 ]; then
  echo "[setup] installing Fashion-MNIST (Debian package dataset-fashion-mnist)"
  (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) || \
    echo "[setup] warning: could not install dataset-fashion-mnist; data tests will skip" >&2
fi
# Offline sequence data (word lists, the King James Bible, vega-datasets' time series) for the
# sequence tasks' tests and examples; their tests skip, saying what to install, without them.
seq_pkgs="wamerican wngerman wfrench witalian wspanish wdutch bible-kjv bible-kjv-text python3-vega-datasets"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && \
   { [ ! -f /usr/share/dict/ngerman ] || [ ! -f /usr/lib/bible.data ] || \
     [ ! -d /usr/lib/python3/dist-packages/vega_datasets ]; }; then
  echo "[setup] installing offline sequence data (Debian packages: $seq_pkgs)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $seq_pkgs \
     >/dev/null) || echo "[setup] warning: could not install $seq_pkgs; sequence-task tests will skip" >&2
fi
echo "[setup] ready"
