"""`import ember` loads only the core; the heavy parts load on first use and every public name
still resolves (PEP 562 module __getattr__). Checked in fresh interpreters via sys.modules."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEAVY = [
    "ember.diagnose", "ember.data.datasets", "ember.data.datasets.downloader", "ember.tune",
    "ember.caffe", "ember.keras", "ember.io", "ember.io.tensorboard", "ember.io.checkpoint",
    "ember.train", "ember.train.tensorboard", "ember.graph", "ember.compat", "ember.onnx",
    "ember.cli", "ember.data.transforms", "ember.nn.rnn", "ember.optim.lr_scheduler",
    "urllib.request", "http.client", "ssl", "email",
    "optuna", "onnx", "onnxruntime", "lmdb", "mpi4py", "numba", "ml_dtypes", "tensorboard",
    "torch", "matplotlib",
]


def _loaded(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, env=env, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_ember_skips_heavy_parts():
    mods = _loaded("import ember")
    assert "ember.tensor" in mods and "ember.nn" in mods and "ember.optim" in mods
    assert sorted(m for m in HEAVY if m in mods) == []


def test_from_ember_data_loader_skips_downloader():
    mods = _loaded("from ember.data import DataLoader, TensorDataset")
    assert "ember.data.datasets" not in mods and "urllib.request" not in mods


@pytest.mark.parametrize("expr, module", [
    ("ember.diagnose.Doctor", "ember.diagnose"),
    ("ember.keras.layers.Dense", "ember.keras"),
    ("ember.Model", "ember.train"),
    ("ember.Sequential", "ember.train"),
    ("ember.data.FashionMNIST", "ember.data.datasets"),
    ("ember.data.transforms.Normalize", "ember.data.transforms"),
    ("ember.io.SummaryWriter", "ember.io.tensorboard"),
    ("ember.callbacks.EarlyStopping", "ember.train.callbacks"),
    ("ember.nn.LSTM", "ember.nn.rnn"),
    ("ember.optim.lr_scheduler.StepLR", "ember.optim.lr_scheduler"),
    ("ember.optim.LBFGS", "ember.optim.lbfgs"),
    ("ember.jit", "ember.graph.jit"),
    ("ember.save", "ember.io.checkpoint"),
])
def test_public_names_load_on_first_use(expr, module):
    mods = _loaded(f"import ember\nobj = {expr}\nassert obj is not None")
    assert module in mods


def test_from_imports_and_identity():
    code = ("import ember\nfrom ember.data import FashionMNIST, DataLoader\n"
            "from ember import Model, data, diagnose, keras\n"
            "from ember.data.datasets import FashionMNIST as F2\n"
            "from ember.train import Model as M2\n"
            "assert FashionMNIST is F2 and Model is M2 and data is ember.data\n"
            "assert callable(ember.summary) and callable(ember.jit)\n"
            "assert 'Model' in dir(ember) and 'FashionMNIST' in dir(ember.data)\n"
            "import ember.summary\nassert callable(ember.summary)\n")
    _loaded(code)


def test_unknown_attribute_is_an_attribute_error():
    import ember
    with pytest.raises(AttributeError, match="no_such_thing"):
        ember.no_such_thing
    with pytest.raises(AttributeError, match="no_such_thing"):
        ember.data.no_such_thing


# Measured (bench/bench_import.py, -X importtime): before these were lazy, ember's own modules
# were ~40 ms of `import ember`, the layers, losses, optimizers, NN primitives, kernels, flop
# counter and autograd engine most of it. None of them may come back into `import ember`.
CORE_LAZY = [
    "ember.nn.functional", "ember.nn.module", "ember.nn.layers", "ember.nn.activation",
    "ember.nn.loss", "ember.nn.init", "ember.nn.parameter", "ember.nn.utils",
    "ember.optim.optimizer", "ember.optim.adam", "ember.optim.rmsprop", "ember.optim.sgd",
    "ember.optim._fused", "ember.ops.elementwise", "ember.ops.reduce", "ember.ops.index",
    "ember.ops.shape", "ember.ops.linalg", "ember.ops.discrete", "ember.ops.nn_conv",
    "ember.ops.nn_loss", "ember.ops.nn_layers", "ember.ops.nn_activation", "ember.ops.device",
    "ember.kernels", "ember.kernels.threads", "ember.utils", "ember.utils.flop_counter",
    "ember.autograd.engine", "ember.autograd.functional", "ember.cuda", "ember.amp",
]
# standard-library modules NumPy does not need and ember's core must not pull in (checked as
# what `import ember` adds beyond `import numpy`, so a NumPy that loads one itself is no failure)
STDLIB_HEAVY = ["threading", "dataclasses", "json", "tempfile", "hashlib", "urllib.request",
                "http.client", "ssl", "email", "zipfile", "gzip", "tarfile", "shutil",
                "subprocess", "logging", "argparse", "concurrent.futures", "multiprocessing",
                "sqlite3", "xml", "uuid", "csv", "importlib.metadata", "unittest", "asyncio"]


def _new_beyond_numpy(code):
    """Modules ``code`` loads in a fresh interpreter that has imported NumPy already."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", "import sys, json, numpy\nbefore = set(sys.modules)\n"
                          + code + "\nprint(json.dumps(sorted(set(sys.modules) - before)))"],
                         capture_output=True, text=True, env=env, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_ember_skips_the_lazy_core_and_heavy_stdlib():
    new = _new_beyond_numpy("import ember")
    assert {"ember.tensor", "ember.dispatch", "ember.nn", "ember.optim", "ember.ops"} <= new
    assert sorted(m for m in CORE_LAZY if m in new) == []
    assert sorted(m for m in STDLIB_HEAVY if m in new) == []


def test_first_use_loads_only_what_it_needs():
    new = _new_beyond_numpy("import ember\nx = ember.ones(2, 3) + 1")
    assert "ember.ops.elementwise" in new and "ember.nn.functional" not in new
    new = _new_beyond_numpy("import ember\nm = ember.nn.Linear(3, 2)\nopt = ember.optim.SGD("
                            "m.parameters(), lr=0.1)\nm(ember.ones(1, 3)).sum().backward()\n"
                            "opt.step()")
    assert {"ember.nn.layers", "ember.optim.sgd", "ember.autograd.engine"} <= new
    for lazy in ("ember.nn.rnn", "ember.optim.adam", "ember.optim.lr_scheduler", "ember.data",
                 "ember.utils.flop_counter"):
        assert lazy not in new


def test_lazy_subpackage_names_resolve_as_before():
    code = (
        "import ember, ember.nn as nn, ember.ops as ops, ember.optim as optim\n"
        "from ember.nn import Linear, Module, Parameter, functional as F, init\n"
        "from ember.optim import Adam, Optimizer\n"
        "from ember.ops import Add, MinMaxResult, unbroadcast\n"
        "from ember.autograd import Function, grad\n"
        "import ember.nn.layers, ember.optim.adam, ember.ops.elementwise, ember.ops.function\n"
        "assert Linear is nn.Linear is ember.nn.layers.Linear and issubclass(Linear, Module)\n"
        "assert Adam is optim.Adam is ember.optim.adam.Adam and issubclass(Adam, Optimizer)\n"
        "assert Add is ops.Add is ember.ops.elementwise.Add\n"
        "assert Function is ember.ops.function.Function is ember.autograd.function.Function\n"
        "assert F is ember.nn.functional and init is nn.init and callable(grad)\n"
        "assert MinMaxResult.__module__ == 'ember.ops' and ember.ones(3).max(0).indices.item() "
        "== 0\n"
        "assert ember.kernels.threads is not None and callable(ember.cuda.is_available)\n"
        "assert ember.autocast is ember.amp.autocast\n"
        "assert {'Linear', 'LSTM', 'functional'} <= set(dir(nn)) and 'Adam' in dir(optim)\n"
        "assert {'Add', 'MatMul', 'nn_conv'} <= set(dir(ops))\n"
        "ns = {}\nexec('from ember.nn import *', ns)\n"
        "assert {'Linear', 'Conv2d', 'LSTM', 'CrossEntropyLoss', 'functional'} <= set(ns)\n"
        # the function, not its module, even when the module is imported by name first
        "import ember.autograd.gradcheck\nassert callable(ember.autograd.gradcheck)\n")
    _loaded(code)


@pytest.mark.parametrize("mod", ["nn", "optim", "ops", "autograd", "kernels", "utils"])
def test_unknown_attribute_of_lazy_subpackage(mod):
    import importlib
    m = importlib.import_module("ember." + mod)
    with pytest.raises(AttributeError, match=f"ember.{mod}.*no_such_thing"):
        m.no_such_thing


def test_every_listed_name_resolves():
    # a typo in a package's name map would only show when someone first used that name
    code = ("import ember\n"
            "for pkg in (ember.nn, ember.optim, ember.ops, ember.autograd, ember.utils,\n"
            "            ember.kernels, ember.amp, ember.nn.utils):\n"
            "    for n in dir(pkg):\n"
            "        assert getattr(pkg, n) is not None or n.startswith('_'), (pkg.__name__, n)\n"
            "    for n in getattr(pkg, '__all__', ()):\n"
            "        getattr(pkg, n)\n")
    _loaded(code)
