"""The CUDA backend's code paths with a stand-in ``cupy`` module (CuPy cannot run here): the
lazy import, the no-GPU message, moving arrays and the device of an array. And
bench/gpu_check.py's no-GPU exit."""
import os
import sys
import types

import numpy as np
import pytest

import ember
from ember import backend


class _CupyArray:
    """Minimal stand-in for cupy.ndarray: refuses the host, knows its device."""

    def __init__(self, a, dev=0):
        self.a, self.device = np.array(a), types.SimpleNamespace(id=dev)
        self.dtype, self.shape, self.ndim = self.a.dtype, self.a.shape, self.a.ndim

    def get(self):
        return self.a.copy()

    def __array__(self, *a, **k):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


def _fake_cupy(n_gpus):
    cp = types.ModuleType("cupy")
    cp.__version__ = "0.0-test"
    cp.ndarray = _CupyArray
    current = [0]

    class Device:
        def __init__(self, i=0):
            self.i = i

        def __enter__(self):
            current[0] = self.i

        def __exit__(self, *e):
            current[0] = 0

        def synchronize(self):
            pass

    def count():
        if n_gpus == 0:
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return n_gpus

    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count),
                                    Device=Device)
    cp.asarray = lambda a: _CupyArray(a, current[0])
    cp.zeros = lambda shape, dtype: _CupyArray(np.zeros(shape, dtype), current[0])
    return cp


@pytest.fixture
def cupy(monkeypatch):
    monkeypatch.setattr(backend, "_MODULES", dict(backend._MODULES))
    monkeypatch.setattr(backend, "_DEVICE_OF", dict(backend._DEVICE_OF))

    def install(n):
        monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(n))
    return install


def test_cupy_installed_but_no_gpu(cupy):
    cupy(0)
    assert not ember.cuda.is_available() and ember.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="no CUDA GPU is available.*pip install cupy"):
        ember.ones(2).cuda()


def test_cupy_with_two_gpus(cupy):
    cupy(2)
    assert ember.cuda.is_available() and ember.cuda.device_count() == 2
    x = ember.tensor([1.0, 2.0]).to("cuda:1")
    assert isinstance(x.data, _CupyArray) and x.device == ember.device("cuda:1")
    assert backend.get_array_module(x.data) is sys.modules["cupy"]
    assert x.is_cuda
    np.testing.assert_array_equal(x.cpu().numpy(), [1.0, 2.0])
    z = ember.zeros(3, device="cuda:1")  # made while GPU 1 is selected
    assert z.device == ember.device("cuda:1") and z.data.a.tolist() == [0, 0, 0]
    for make in (lambda: ember.zeros(1, device="cuda:5"), lambda: x.to("cuda:2")):
        with pytest.raises(RuntimeError, match="cuda:.*2 cuda device"):
            make()


def test_import_ember_does_not_import_cupy():
    code = "import sys, ember; print('cupy' in sys.modules, 'ml_dtypes' in sys.modules)"
    import subprocess
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_gpu_check_skips_without_gpu(capsys):
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.join(root, "bench"))
    try:
        import gpu_check
        assert gpu_check.main([]) == 0
    finally:
        sys.path.remove(os.path.join(root, "bench"))
    assert "skipped: no GPU" in capsys.readouterr().out
