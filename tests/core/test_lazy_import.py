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
