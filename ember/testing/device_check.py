"""Replay ops and layers on a device and compare with the CPU: the harness behind
``tests/device`` (on the fake device) and ``bench/gpu_check.py`` (on a GPU).

Each check runs the same function on CPU tensors and on device tensors made from the same
arrays, backpropagates the same upstream gradient, and compares the outputs and every
gradient after copying them to the host. It also asserts that the results really live on the
device, so a silent fallback to the host cannot pass.
"""
import copy
from typing import Callable, List, Sequence, Tuple

import numpy as np

import ember

from .. import backend


def host(t) -> np.ndarray:
    """A host NumPy copy of a tensor's (or array's) values (a copy also on the CPU, so later
    in-place changes cannot alter it)."""
    if isinstance(t, ember.Tensor):
        t = t.detach().data
    return np.array(backend.to_host(t), copy=True)


def _on(dev, t, what):
    if t.device.type != ember.device(dev).type:
        raise AssertionError(f"{what} is on {t.device}, expected {dev}: something fell back to "
                             "the host")


def run_fn(fn: Callable, arrays: Sequence[np.ndarray], device, dtype=np.float32,
           seed: int = 0) -> Tuple[np.ndarray, List[np.ndarray]]:
    """``fn(ember, *tensors)`` on ``device``: (output, gradient of every input) on the host,
    after ``backward`` with a seeded upstream gradient."""
    ts = [ember.tensor(np.asarray(a, dtype), device=device, requires_grad=True)
          for a in arrays]
    out = fn(ember, *ts)
    _on(device, out, "the output")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(ember.tensor(g, device=device))
    grads = []
    for i, t in enumerate(ts):
        if t.grad is not None:
            _on(device, t.grad, f"the gradient of input {i}")
        grads.append(None if t.grad is None else host(t.grad))
    return host(out), grads


def compare_fn(fn, arrays, device, rtol=1e-5, atol=1e-6, dtype=np.float32):
    """Assert ``fn`` gives the same output and input gradients on ``device`` as on the CPU."""
    ref, ref_g = run_fn(fn, arrays, "cpu", dtype)
    out, out_g = run_fn(fn, arrays, device, dtype)
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, err_msg="forward")
    for i, (a, b) in enumerate(zip(out_g, ref_g)):
        if b is None:
            assert a is None, f"input {i}: a gradient on the device, none on the CPU"
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"grad of input {i}")


def run_module(module: "ember.nn.Module", x: np.ndarray, device, seed: int = 0, train=True):
    """A copy of ``module`` moved to ``device`` run on ``x``: (output, input gradient,
    {name: parameter gradient}, {name: buffer}) on the host."""
    m = copy.deepcopy(module).to(device)
    m.train(train)
    xt = ember.tensor(x, device=device, requires_grad=True)
    ember.manual_seed(seed)  # same dropout draws on every device
    out = m(xt)
    _on(device, out, "the module output")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(ember.tensor(g, device=device))
    pg = {}
    for n, p in m.named_parameters():
        _on(device, p, f"parameter {n}")
        pg[n] = None if p.grad is None else host(p.grad)
    bufs = {n: host(b) for n, b in m.named_buffers()}
    return host(out), (None if xt.grad is None else host(xt.grad)), pg, bufs


def compare_module(module, x, device, rtol=1e-5, atol=1e-5, train=True):
    """Assert a module's output, input and parameter gradients and buffers match the CPU."""
    ref = run_module(module, x, "cpu", train=train)
    got = run_module(module, x, device, train=train)
    np.testing.assert_allclose(got[0], ref[0], rtol=rtol, atol=atol, err_msg="forward")
    if ref[1] is not None:
        np.testing.assert_allclose(got[1], ref[1], rtol=rtol, atol=atol, err_msg="input grad")
    for n in ref[2]:
        if ref[2][n] is not None:
            np.testing.assert_allclose(got[2][n], ref[2][n], rtol=rtol, atol=atol,
                                       err_msg=f"grad of {n}")
    for n in ref[3]:
        np.testing.assert_allclose(got[3][n], ref[3][n], rtol=rtol, atol=atol,
                                   err_msg=f"buffer {n}")
