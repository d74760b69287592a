"""The oneDNN convolution path (optional extra ``onednn``): forward, input, weight and bias
gradients against ember's own kernels and PyTorch over strides, asymmetric padding, dilation,
1x1 kernels, no bias, NCHW and channels-last inputs; the choice of path; and the fallback when
the library is missing or turned off."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.kernels import blas_rest, onednn, onednn_conv
from ember.ops import nn_conv

from ._util import close

pytestmark = pytest.mark.skipif(not onednn.available(),
                                reason="oneDNN is not installed (pip install 'ember[onednn]')")

CASES = [  # (N, C, H, W), (O, kh, kw), stride, padding ((t, b), (l, r)), dilation, bias
    ((4, 32, 14, 14), (64, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), True),  # the seed CNN's
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), True),
    ((2, 4, 8, 7), (3, 2, 3), (2, 1), ((0, 1), (2, 0)), (1, 1), False),
    ((1, 2, 9, 9), (2, 3, 2), (1, 2), ((2, 2), (1, 1)), (2, 2), True),
    ((3, 8, 5, 5), (8, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), True),
]


def _channels_last(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _run(x, w, b, g, stride, pad, dil):
    ex = ember.tensor(x, requires_grad=True)
    ew = ember.tensor(w, requires_grad=True)
    eb = ember.tensor(b, requires_grad=True) if b is not None else None
    y = nn_conv.Conv2d.apply(ex, ew, eb, stride=stride, padding=pad, dilation=dil, groups=1)
    y.backward(ember.tensor(g))
    return (y.data, ex.grad.data, ew.grad.data, eb.grad.data if b is not None else None)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("xs, ws, stride, pad, dil, bias", CASES)
def test_onednn_matches_ember_kernels_and_torch(monkeypatch, layout, xs, ws, stride, pad, dil,
                                                bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    o, kh, kw = ws
    w = (rng.standard_normal((o, xs[1], kh, kw)) * 0.2).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    if layout == "channels_last":
        x = _channels_last(x)
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if bias else None
    xt = torch.nn.functional.pad(tx, (pad[1][0], pad[1][1], pad[0][0], pad[0][1]))
    ty = torch.nn.functional.conv2d(xt, tw, tb, stride=stride, dilation=dil)
    g = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(g))

    monkeypatch.setenv("EMBER_ONEDNN", "1")
    onednn_conv._plans.clear()
    got = _run(x, w, b, g, stride, pad, dil)
    plans = [p for p in onednn_conv._plans.values() if p is not None]
    assert len(plans) == 1, "the call did not go to oneDNN"
    monkeypatch.setenv("EMBER_ONEDNN", "0")
    ref = _run(x, w, b, g, stride, pad, dil)
    want = [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(),
            tb.grad.numpy() if bias else None]
    for name, a, e, t in zip(("output", "input grad", "weight grad", "bias grad"), got, ref,
                             want):
        if t is None:
            assert a is None and e is None
            continue
        close(a, e, 1e-4, f"{name} vs ember's kernels")
        close(a, t, 1e-4, f"{name} vs PyTorch")


def test_output_is_a_channels_last_view_and_feeds_the_next_conv_without_a_copy(monkeypatch):
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((2, 4, 8, 8)).astype(np.float32))
    y = F.conv2d(x, ember.tensor(rng.standard_normal((6, 4, 3, 3)).astype(np.float32)),
                 padding=1)
    assert y.shape == (2, 6, 8, 8)
    assert y.data.transpose(0, 2, 3, 1).flags.c_contiguous
    assert onednn_conv.nhwc(y.data).base is y.data.base or \
        np.shares_memory(onednn_conv.nhwc(y.data), y.data)


def test_strided_weight_and_bias_views(monkeypatch):
    """Weights and bias that are strided views (not the parameters' own contiguous arrays)
    give the values of ember's kernels."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w8 = ember.tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32))
    b8 = ember.tensor(rng.standard_normal(8).astype(np.float32))
    wb, bb = w8[::2], b8[::2]  # views: (4, 3, 3, 3) and (4,) with strides of two
    assert not bb.data.flags.c_contiguous and not wb.data.flags.c_contiguous
    got = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("EMBER_ONEDNN", flag)
        y = F.conv2d(ember.tensor(x), wb, bb, padding=1)
        got[flag] = y.data
    close(got["1"], got["0"], 1e-5, "strided weight/bias")


def test_only_needed_gradients_are_returned(monkeypatch):
    """A frozen weight gets no gradient; an input that needs none gets none."""
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    rng = np.random.default_rng(2)
    x = ember.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    w = ember.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = ember.tensor(np.zeros(4, np.float32), requires_grad=True)
    F.conv2d(x, w, b).sum().backward()
    assert x.grad is None and w.grad is None
    np.testing.assert_allclose(b.grad.data, np.full(4, 2 * 4 * 4, np.float32))


def test_seed_cnn_trains_identically_enough_on_both_paths(monkeypatch):
    """Three Adam steps of a two-conv network: the losses on oneDNN and on ember's kernels
    agree to float32 rounding."""
    def losses():
        ember.manual_seed(0)
        m = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        opt = ember.optim.Adam(m.parameters(), 1e-3)
        rng = np.random.default_rng(0)
        x = ember.tensor(rng.random((16, 1, 28, 28), dtype=np.float32))
        y = ember.tensor(rng.integers(0, 10, 16))
        out = []
        for _ in range(3):
            opt.zero_grad()
            loss = nn.CrossEntropyLoss()(m(x), y)
            loss.backward()
            opt.step()
            out.append(float(loss.item()))
        return out
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    a = losses()
    monkeypatch.setenv("EMBER_ONEDNN", "0")
    b = losses()
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert a[2] < a[0]


def test_path_choice(monkeypatch):
    """oneDNN takes float32 host convolutions with at least ONEDNN_MIN_CHANNELS input
    channels; float64, groups > 1 and EMBER_ONEDNN=0 stay on ember's kernels."""
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    x32 = np.zeros((1, 4, 5, 5), np.float32)
    w32 = np.zeros((2, 4, 3, 3), np.float32)
    geo = ((1, 1), ((0, 0), (0, 0)), (1, 1))
    assert nn_conv._onednn_plan(x32, w32, None, *geo) is not None
    assert nn_conv._onednn_plan(x32.astype(np.float64), w32.astype(np.float64), None,
                                *geo) is None
    x1 = np.zeros((1, 1, 5, 5), np.float32)
    w1 = np.zeros((2, 1, 3, 3), np.float32)
    monkeypatch.setattr(nn_conv, "ONEDNN_MIN_CHANNELS", 2)
    assert nn_conv._onednn_plan(x1, w1, None, *geo) is None
    monkeypatch.setattr(nn_conv, "ONEDNN_MIN_CHANNELS", 1)
    assert nn_conv._onednn_plan(x1, w1, None, *geo) is not None
    monkeypatch.setenv("EMBER_ONEDNN", "0")
    assert nn_conv._onednn_plan(x32, w32, None, *geo) is None
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    y = F.conv2d(ember.tensor(np.ones((1, 4, 5, 5), np.float32)),
                 ember.tensor(np.ones((4, 1, 3, 3), np.float32)), groups=4)
    np.testing.assert_allclose(y.data, np.full((1, 4, 3, 3), 9.0, np.float32))


def test_plans_are_cached_and_bounded(monkeypatch):
    monkeypatch.setenv("EMBER_ONEDNN", "1")
    monkeypatch.setattr(onednn_conv, "_CACHE_SIZE", 3)
    onednn_conv._plans.clear()
    w = ember.tensor(np.ones((2, 2, 3, 3), np.float32))
    kept = []
    for h in range(5, 11):
        x = ember.tensor(np.ones((1, 2, h, h), np.float32), requires_grad=True)
        y = F.conv2d(x, w)
        kept.append((x, y))
    assert len(onednn_conv._plans) == 3
    for x, y in kept:  # evicted plans stay alive for the pending backward passes
        y.sum().backward()
        np.testing.assert_allclose(x.grad.data[0, 0, 2, 2], 2 * 9.0)


def test_missing_library_falls_back_with_a_reason():
    """With no loadable oneDNN, convolutions still run (ember's kernels) and
    why_unavailable() says what to install."""
    code = ("import numpy as np, ember, ember.nn.functional as F\n"
            "from ember.kernels import onednn\n"
            "y = F.conv2d(ember.tensor(np.ones((1, 3, 4, 4), np.float32)),"
            " ember.tensor(np.ones((2, 3, 3, 3), np.float32)))\n"
            "assert float(y.data.sum()) == 2 * 4 * 27, y.data\n"
            "assert not onednn.available()\n"
            "print(onednn.why_unavailable())\n")
    env = dict(os.environ, EMBER_ONEDNN_LIBRARY="/nonexistent/libdnnl.so.3")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "pip install 'ember[onednn]'" in r.stdout


def test_openmp_is_asked_to_sleep_unless_the_user_chose():
    code = ("import os, numpy as np, ember, ember.nn.functional as F\n"
            "F.conv2d(ember.tensor(np.ones((1, 3, 4, 4), np.float32)),"
            " ember.tensor(np.ones((2, 3, 3, 3), np.float32)))\n"
            "print(os.environ.get('OMP_WAIT_POLICY'))\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["PASSIVE"], r.stderr
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ["ACTIVE"], r.stderr


def test_quiet_blas_keeps_blas_working_and_its_thread_count():
    """Resting OpenBLAS's workers before a oneDNN call changes no result and no setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info()
              if p["internal_api"] == "openblas"]
    a = np.random.default_rng(0).standard_normal((300, 300)).astype(np.float32)
    want = a @ a
    for _ in range(3):
        blas_rest.rest_openblas_workers()
        np.testing.assert_array_equal(a @ a, want)
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info()
             if p["internal_api"] == "openblas"]
    assert before == after


def test_quiet_blas_is_skipped_while_other_threads_run(monkeypatch):
    """Only with no Python thread alive beyond the caller's own is OpenBLAS touched."""
    import _thread
    import threading
    calls = []
    monkeypatch.setattr(blas_rest, "_shutdown", lambda: calls.append(1))
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        alive = _thread._count()  # this test's thread, and any an earlier test left running
        assert not blas_rest.rest_openblas_workers(own_threads=alive - 1)
        assert calls == []
        assert blas_rest.rest_openblas_workers(own_threads=alive)
        assert calls == [1]
    finally:
        stop.set()
        t.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_uses_embers_kernels():
    """After fork() the child does not touch oneDNN (libgomp is not fork-safe) and its
    convolutions still give the same values."""
    x = ember.tensor(np.random.default_rng(3).standard_normal((2, 3, 6, 6)).astype(np.float32))
    w = ember.tensor(np.random.default_rng(4).standard_normal((4, 3, 3, 3)).astype(np.float32))
    want = F.conv2d(x, w).data
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        ok = not onednn.available() and np.allclose(F.conv2d(x, w).data, want, atol=1e-4)
        os.write(wfd, b"1" if ok else b"0")
        os._exit(0)
    os.close(wfd)
    got = os.read(r, 1)
    os.waitpid(pid, 0)
    assert got == b"1"
    assert onednn.available()


def test_errors_name_the_call():
    with pytest.raises(onednn.OneDNNError, match="reorder failed: invalid arguments"):
        onednn.check(2, "reorder")
