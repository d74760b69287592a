"""`import ember` adds nothing beyond NumPy and ember's own core modules: numpy.random (the
global generator is made on first use), threading, GradScaler and sequence packing load later."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _new_modules(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", "import sys, json, numpy\nbefore = set(sys.modules)\n"
                          + code + "\nprint(json.dumps(sorted(set(sys.modules) - before)))"],
                         capture_output=True, text=True, env=env, check=True, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_ember_loads_only_ember_modules_beyond_numpy():
    new = _new_modules("import ember")
    assert [m for m in new if not m.startswith("ember")] == []
    for lazy in ("ember.amp.grad_scaler", "ember.nn.utils.rnn"):
        assert lazy not in new


def test_random_state_works_when_made_lazily():
    new = _new_modules("import ember\nx = ember.randn(3)\nassert x.shape == (3,)")
    assert "numpy.random" in new
    code = ("import ember, numpy as np\n"
            "s = ember.random.get_state()\n"     # first use: makes the generator
            "a = ember.rand(4).data\nember.random.set_state(s)\n"
            "assert np.array_equal(a, ember.rand(4).data)\n"
            "ember.manual_seed(3)\nb = ember.rand(2).data\nember.manual_seed(3)\n"
            "assert np.array_equal(b, ember.rand(2).data)\n"
            "from ember.amp import GradScaler\nassert GradScaler.__name__ == 'GradScaler'\n"
            "import ember.nn.utils.rnn as r\nassert r.pad_sequence is ember.nn.utils.rnn.pad_sequence")
    _new_modules(code)


def test_no_stdlib_beyond_numpy_without_site():
    """The same check under ``python -S``: an editable install's finder (loaded by site) imports
    pathlib, re, importlib.util... in every process, which would hide ember importing them."""
    import numpy
    site_dir = os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__)))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + site_dir)
    code = ("import sys, json, numpy\nbefore = set(sys.modules)\nimport ember\n"
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    new = json.loads(out.stdout.strip().splitlines()[-1])
    assert "ember.tensor" in new
    assert [m for m in new if not m.startswith("ember")] == []
