"""ember.kernels: every implementation available here (numpy always, numba when importable) is
compared with the NumPy reference and with PyTorch, and the conv/pool primitives are
gradchecked and compared with PyTorch under each, including channels-last inputs (what a conv
layer hands to the next layer)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.kernels as K
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.kernels import _numpy as KN

from ._util import close, compare_module

torch = pytest.importorskip("torch")
IMPLS = K.available()


@pytest.fixture(autouse=True)
def _ember_kernels_only(monkeypatch):
    """These tests are about ember's own kernels: keep float32 convolutions off oneDNN (its
    path is tested in test_onednn_conv.py)."""
    monkeypatch.setenv("EMBER_ONEDNN", "0")


@pytest.fixture(params=IMPLS)
def impl(request):
    before = K._chosen
    K.use(request.param)
    yield request.param
    K._chosen = before


def _channels_last(a):
    """The same NCHW values laid out as (N, H, W, C) in memory, as conv outputs are."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


CONV = [  # (N, C, H, W), (O, kh, kw), stride, padding ((t, b), (l, r)), dilation
    ((2, 3, 7, 6), (4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ((2, 2, 8, 7), (3, 2, 3), (2, 1), ((0, 1), (2, 0)), (1, 1)),
    ((1, 2, 9, 9), (2, 3, 2), (1, 2), ((2, 2), (1, 1)), (2, 2)),
    ((3, 1, 6, 5), (2, 5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1)),
]


@pytest.mark.parametrize("xs, ws, stride, pad, dil", CONV + [
    ((2, 9, 6, 7), (3, 3, 2), (2, 1), ((1, 0), (1, 2)), (1, 2))])
@pytest.mark.parametrize("min_channels", [0, 8])
def test_numba_im2col_both_routes(monkeypatch, xs, ws, stride, pad, dil, min_channels):
    """numba's im2col hands inputs with few channels to NumPy's strided copy; the compiled loop
    (forced with MIN_CHANNELS = 0) and that route both give NumPy's columns exactly."""
    if "numba" not in K.available():
        pytest.skip("numba is not installed")
    from ember.kernels import _numba as KB
    monkeypatch.setattr(KB, "MIN_CHANNELS", min_channels)
    x = np.random.default_rng(1).standard_normal(xs).astype(np.float32)
    _, kh, kw = ws
    ho = (xs[2] + sum(pad[0]) - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xs[3] + sum(pad[1]) - dil[1] * (kw - 1) - 1) // stride[1] + 1
    xh = x.transpose(0, 2, 3, 1)
    cols = KB.im2col(np, xh, kh, kw, ho, wo, stride, dil, pad)
    assert cols.shape == (xs[0], ho, wo, kh, kw, xs[1])
    np.testing.assert_array_equal(cols, KN.im2col(np, xh, kh, kw, ho, wo, stride, dil, pad))


@pytest.mark.parametrize("xs, ws, stride, pad, dil", CONV)
def test_conv_kernels_agree_with_numpy_and_torch(impl, xs, ws, stride, pad, dil):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    o, kh, kw = ws
    w = rng.standard_normal((o, xs[1], kh, kw)).astype(np.float32)
    kern = K.impl(x)
    assert kern.__name__.endswith(impl)
    ho = (xs[2] + sum(pad[0]) - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (xs[3] + sum(pad[1]) - dil[1] * (kw - 1) - 1) // stride[1] + 1
    xh = x.transpose(0, 2, 3, 1)
    cols = kern.im2col(np, xh, kh, kw, ho, wo, stride, dil, pad)
    ref = KN.im2col(np, xh, kh, kw, ho, wo, stride, dil, pad)
    np.testing.assert_array_equal(cols, ref)
    wk = np.ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(o, -1)
    out = (cols.reshape(-1, wk.shape[1]) @ wk.T).reshape(xs[0], ho, wo, o)
    tx = torch.tensor(np.pad(x, ((0, 0), (0, 0)) + pad), requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, torch.tensor(w), stride=stride, dilation=dil)
    close(out.transpose(0, 3, 1, 2), ty.detach().numpy(), 1e-5, "conv output")
    g = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    gm = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).reshape(-1, o)
    gx = kern.input_grad(np, gm, wk, xh.shape, ho, wo, kh, kw, stride, dil, pad)
    gref = KN.input_grad(np, gm, wk, xh.shape, ho, wo, kh, kw, stride, dil, pad)
    close(gx, gref, 1e-5, "input grad vs numpy")
    (pt, pb), (pl, pr) = pad
    tgx = tx.grad.numpy()[:, :, pt:pt + xs[2], pl:pl + xs[3]]
    close(gx.transpose(0, 3, 1, 2), tgx, 1e-5, "input grad vs torch")


@pytest.mark.parametrize("shape, k", [((2, 6, 6, 3), (2, 2)), ((2, 7, 5, 4), (2, 2)),
                                      ((1, 9, 8, 2), (3, 2)), ((2, 4, 4, 1), (1, 2))])
def test_maxpool_kernels_agree_with_numpy_and_torch(impl, shape, k):
    rng = np.random.default_rng(1)
    # ties on purpose (zeros, as after a ReLU): the first maximum of a window wins
    xh = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    kern = K.impl(xh)
    out, state = kern.maxpool_tiled(np, xh, *k)
    rout, rstate = KN.maxpool_tiled(np, xh, *k)
    np.testing.assert_array_equal(out, rout)
    g = rng.standard_normal(out.shape).astype(np.float32)
    gx = kern.maxpool_tiled_backward(np, g, state, *k, xh.shape)
    np.testing.assert_array_equal(gx, KN.maxpool_tiled_backward(np, g, rstate, *k, xh.shape))
    tx = torch.tensor(xh.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, k, k)
    ty.backward(torch.tensor(g.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_array_equal(out.transpose(0, 3, 1, 2), ty.detach().numpy())
    np.testing.assert_array_equal(gx.transpose(0, 3, 1, 2), tx.grad.numpy())


def test_maxpool_nan_propagates(impl):
    xh = np.zeros((1, 2, 2, 1), np.float32)
    xh[0, 1, 0, 0] = np.nan
    out, _ = K.impl(xh).maxpool_tiled(np, xh, 2, 2)
    assert np.isnan(out).all()


LAYERS = [
    ("conv_same5", lambda: nn.Conv2d(3, 4, 5, padding="same"),
     lambda t: t.Conv2d(3, 4, 5, padding="same"), (2, 3, 7, 6)),
    ("conv_stride_dil_rect", lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2),
                                                dilation=(1, 2)),
     lambda t: t.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
     (2, 2, 8, 7)),
    ("conv_groups", lambda: nn.Conv2d(4, 4, 3, groups=2, padding=1),
     lambda t: t.Conv2d(4, 4, 3, groups=2, padding=1), (2, 4, 5, 5)),
    ("maxpool2", lambda: nn.MaxPool2d(2), lambda t: t.MaxPool2d(2), (2, 3, 6, 6)),
    ("maxpool2_crop", lambda: nn.MaxPool2d(2), lambda t: t.MaxPool2d(2), (2, 3, 7, 5)),
    ("maxpool3_2", lambda: nn.MaxPool2d((3, 2)), lambda t: t.MaxPool2d((3, 2)), (1, 2, 7, 6)),
    ("maxpool_overlap", lambda: nn.MaxPool2d(3, 2, 1), lambda t: t.MaxPool2d(3, 2, 1),
     (2, 2, 7, 7)),
    ("avgpool2_crop", lambda: nn.AvgPool2d(2), lambda t: t.AvgPool2d(2), (2, 3, 7, 5)),
    ("seed_block", lambda: nn.Sequential(nn.Conv2d(1, 4, 5, padding="same"), nn.ReLU(),
                                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 5, padding="same"),
                                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                         nn.Linear(6 * 2 * 2, 3)),
     lambda t: t.Sequential(t.Conv2d(1, 4, 5, padding="same"), t.ReLU(), t.MaxPool2d(2),
                            t.Conv2d(4, 6, 5, padding="same"), t.ReLU(), t.MaxPool2d(2),
                            t.Flatten(), t.Linear(6 * 2 * 2, 3)), (3, 1, 9, 8)),
]


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("name, make_e, make_t, shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layers_match_torch(impl, layout, name, make_e, make_t, shape):
    torch.manual_seed(0)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    if layout == "channels_last":
        x = _channels_last(x)
    compare_module(torch, make_e(), make_t(torch.nn), x)


GRADCHECKS = [
    ("conv_same5", lambda x, w, b: F.conv2d(x, w, b, padding="same"), (2, 2, 6, 5), (3, 2, 5, 5)),
    ("conv_stride_dil", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2),
                                                 dilation=(2, 1)), (1, 2, 7, 6), (2, 2, 2, 3)),
    ("conv_then_pool", lambda x, w, b: F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2),
     (2, 2, 5, 6), (3, 2, 3, 3)),
    ("conv_then_avgpool", lambda x, w, b: F.avg_pool2d(F.conv2d(x, w, b, padding=1), (2, 3)),
     (1, 2, 5, 7), (2, 2, 3, 3)),
]


@pytest.mark.parametrize("name, fn, xs, ws", GRADCHECKS, ids=[c[0] for c in GRADCHECKS])
def test_gradcheck(impl, name, fn, xs, ws):
    rng = np.random.default_rng(3)
    x = ember.Tensor(rng.standard_normal(xs), requires_grad=True)
    w = ember.Tensor(rng.standard_normal(ws) * 0.5, requires_grad=True)
    b = ember.Tensor(rng.standard_normal(ws[0]), requires_grad=True)
    assert gradcheck(fn, [x, w, b])


def test_maxpool_gradcheck_channels_last(impl):
    # gradcheck perturbs its inputs through a flat view, so the input is a contiguous (N, H, W,
    # C) array and the pool sees its NCHW permutation: the channels-last layout
    a = np.random.default_rng(4).permutation(2 * 3 * 6 * 4).reshape(2, 6, 4, 3) / 7.0
    x = ember.Tensor(a, requires_grad=True)  # distinct values: no ties
    assert gradcheck(lambda t: F.max_pool2d(t.permute(0, 3, 1, 2), 2) * 1.5, [x])
    assert gradcheck(lambda t: F.avg_pool2d(t.permute(0, 3, 1, 2), 2) * 1.5, [x])


def test_conv_output_is_channels_last_view():
    """The NCHW result of a (groups=1) convolution is a view of the GEMM's (N Ho Wo, O)
    result: transposing it back to channels-last is free."""
    y = F.conv2d(ember.randn(2, 3, 5, 5), ember.randn(4, 3, 3, 3), padding=1)
    assert y.shape == (2, 4, 5, 5)
    assert y.data.transpose(0, 2, 3, 1).flags.c_contiguous


def test_selection_and_lazy_import():
    code = ("import sys, ember, ember.nn.functional as F; "
            "assert 'numba' not in sys.modules, 'import ember imported numba'; "
            "import ember.kernels as K; F.conv2d(ember.randn(1, 1, 4, 4), ember.randn(1, 1, 3, 3)); "
            "print(K.name(), 'numba' in sys.modules)")
    env = dict(os.environ, EMBER_KERNELS="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["numpy", "False"]
    env["EMBER_KERNELS"] = "fortran"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "EMBER_KERNELS='fortran'" in out.stderr


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match="unknown kernel implementation"):
        K.use("fortran")


def test_thread_split_covers_every_chunk(monkeypatch):
    from ember.kernels import threads
    monkeypatch.setattr(threads, "MIN_SPLIT", 1)
    monkeypatch.setenv("EMBER_KERNEL_THREADS", "3")
    monkeypatch.setattr(threads, "_pool", None)
    seen = np.zeros(10, int)

    def mark(lo, hi):
        seen[lo:hi] += 1
    threads.split(mark, 10, 10)
    assert (seen == 1).all()
    with pytest.raises(ZeroDivisionError):
        threads.split(lambda lo, hi: 1 / 0, 10, 10)
    threads._pool.shutdown()
    monkeypatch.setattr(threads, "_pool", None)


# the conv/pool rows of the layer table (tests/nn/test_layers_vs_torch.py), under every
# implementation: the default run of that file uses only the automatic choice
from tests.nn import test_layers_vs_torch as _table  # noqa: E402

CONV_POOL = [c for c in _table.CASES if any(k in c[0] for k in ("conv", "pool", "sequential"))]


@pytest.mark.parametrize("case", CONV_POOL, ids=[c[0] for c in CONV_POOL])
def test_layer_table_conv_pool_under_each_implementation(impl, case):
    _table.test_matches_torch(case, True)
    if case[0] != "sequential":
        _table.test_gradcheck(case, True)


@pytest.mark.parametrize("chunk", [1, 200])  # one image per chunk; two images per chunk
@pytest.mark.parametrize("keep", [0, 1 << 30])  # rebuild the columns in backward; keep them
def test_chunked_convolution(impl, monkeypatch, chunk, keep):
    _chunked(impl, monkeypatch, chunk, keep)


def _chunked(impl, monkeypatch, chunk, keep=0):
    """Batches whose columns exceed COLS_CHUNK are convolved in chunks of images; backward
    rebuilds each chunk's columns (or reuses the kept ones, up to KEEP_COLS): same values and
    gradients as PyTorch, gradcheck passes."""
    from ember.ops import nn_conv
    monkeypatch.setattr(nn_conv, "COLS_CHUNK", chunk)
    monkeypatch.setattr(nn_conv, "KEEP_COLS", keep)
    torch.manual_seed(0)
    name, make_e, make_t, shape = LAYERS[-1]  # the seed block: two convs, pools, a head
    x = np.random.default_rng(5).standard_normal((5,) + shape[1:]).astype(np.float32)
    compare_module(torch, make_e(), make_t(torch.nn), x)
    for _, fn, xs, ws in GRADCHECKS[:2]:
        rng = np.random.default_rng(6)
        xt = ember.Tensor(rng.standard_normal((3,) + xs[1:]), requires_grad=True)
        w = ember.Tensor(rng.standard_normal(ws) * 0.5, requires_grad=True)
        b = ember.Tensor(rng.standard_normal(ws[0]), requires_grad=True)
        assert gradcheck(fn, [xt, w, b])


def test_broken_numba_falls_back_to_numpy(monkeypatch):
    """An installed but unusable numba (automatic choice) warns and uses the NumPy kernels;
    asking for it explicitly is an error that says what to install."""
    monkeypatch.delenv("EMBER_KERNELS", raising=False)
    monkeypatch.setattr(K, "_chosen", None)
    monkeypatch.setattr(K, "available", lambda: ("numpy", "numba"))
    real = K._load

    def load(name):
        if name == "numba":
            raise ImportError("numba built for another NumPy")
        return real(name)
    monkeypatch.setattr(K, "_load", load)
    with pytest.warns(RuntimeWarning, match="using the NumPy kernels"):
        assert K.impl(np.empty(1)).__name__.endswith("_numpy")
    monkeypatch.setattr(K, "_chosen", None)
    monkeypatch.setenv("EMBER_KERNELS", "numba")
    with pytest.raises(ImportError, match="numba built"):
        K.impl(np.empty(1))
    monkeypatch.setattr(K, "_chosen", None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_thread_pool_works_after_fork(monkeypatch):
    from ember.kernels import threads
    monkeypatch.setattr(threads, "MIN_SPLIT", 1)
    monkeypatch.setenv("EMBER_KERNEL_THREADS", "2")
    threads.split(lambda lo, hi: None, 4, 4)  # the parent's pool exists now
    assert threads._pool is not None
    pid = os.fork()
    if pid == 0:  # child: must not wait on the parent's (absent) threads
        try:
            seen = []
            threads.split(lambda lo, hi: seen.append((lo, hi)), 4, 4)
            os._exit(0 if sorted(seen) == [(0, 2), (2, 4)] else 1)
        except BaseException:
            os._exit(2)
    for _ in range(600):  # 60 s at most
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        import time
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the kernel thread pool")
    assert os.waitstatus_to_exitcode(status) == 0


def test_kernels_split_over_two_threads_agree(impl, monkeypatch):
    """With the pool on (EMBER_KERNEL_THREADS=2) every kernel splits even small batches here;
    results equal the NumPy kernels' and PyTorch's."""
    from ember.kernels import threads
    monkeypatch.setattr(threads, "MIN_SPLIT", 1)
    monkeypatch.setenv("EMBER_KERNEL_THREADS", "2")
    for case in CONV:
        test_conv_kernels_agree_with_numpy_and_torch(impl, *case)
    test_maxpool_kernels_agree_with_numpy_and_torch(impl, (3, 6, 6, 3), (2, 2))
    test_maxpool_kernels_agree_with_numpy_and_torch(impl, (3, 7, 5, 2), (3, 2))
    _chunked(impl, monkeypatch, 200)


@pytest.mark.parametrize("keep", [0, 1 << 30])
def test_batch_parallel_convolution(impl, monkeypatch, keep):
    """EMBER_CONV_THREADS=2 splits a convolution's images over two threads that each run their
    im2col copies and GEMMs (BLAS pinned to one thread meanwhile): same values and gradients
    as PyTorch, gradcheck passes, and the BLAS thread count is restored afterwards."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ember.kernels import threads
    monkeypatch.setattr(threads, "MIN_SPLIT", 1)
    monkeypatch.setenv("EMBER_CONV_THREADS", "2")
    assert threads.gemm_width() == 2
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    before = [lib.num_threads for lib in blas.lib_controllers]
    seen = []
    real = threads.run_parts
    monkeypatch.setattr(threads, "run_parts",
                        lambda fn, k, width: (seen.append((k, width)), real(fn, k, width)))
    _chunked(impl, monkeypatch, 1 << 30, keep)  # one chunk, split for threads
    assert seen and all(k >= 2 and width == 2 for k, width in seen)
    _chunked(impl, monkeypatch, 200, keep)
    assert [lib.num_threads for lib in blas.lib_controllers] == before


def test_run_parts_restores_blas_threads_on_error():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ember.kernels import threads
    blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
    before = [lib.num_threads for lib in blas.lib_controllers]
    done = []

    def part(i):
        if i == 3:
            raise ZeroDivisionError
        done.append(i)
    with pytest.raises(ZeroDivisionError):
        threads.run_parts(part, 4, 2)
    assert sorted(done) == [0, 1, 2]
    assert [lib.num_threads for lib in blas.lib_controllers] == before


def test_conv_threads_setting_is_checked(monkeypatch):
    from ember.kernels import threads
    monkeypatch.setenv("EMBER_CONV_THREADS", "two")
    with pytest.raises(ValueError, match="EMBER_CONV_THREADS"):
        threads.gemm_width()


def test_conv_threads_off_by_default_and_0_follows_the_blas(monkeypatch):
    """Without EMBER_CONV_THREADS a pass is not split (width 1: it lost to the BLAS's own
    threads on a quiet machine); EMBER_CONV_THREADS=0 uses as many threads as the BLAS has."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from ember.kernels import threads
    for k in (1, 2, 3):
        with threadpoolctl.threadpool_limits(limits=k, user_api="blas"):
            monkeypatch.delenv("EMBER_CONV_THREADS", raising=False)
            assert threads.gemm_width() == 1
            monkeypatch.setenv("EMBER_CONV_THREADS", "0")
            assert threads.blas_threads() == k
            assert threads.gemm_width() == k


def test_conv_threads_only_from_the_main_thread(monkeypatch):
    """Other threads get width 1: OpenBLAS takes a lower thread count from any thread but
    ignores raising it outside the main thread, so a pin made there could not be undone. A
    nested pass keeps the BLAS pinned until the outer one ends, then restores the setting."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import threading
    from ember.kernels import threads
    monkeypatch.setenv("EMBER_CONV_THREADS", "0")  # the BLAS's count
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        assert threads.gemm_width() == 2
        widths = []
        t = threading.Thread(target=lambda: widths.append(threads.gemm_width()))
        t.start()
        t.join(30)
        assert widths == [1]
        seen = []

        def inner(i):
            seen.append((threads._blas.num_threads, threads.blas_threads()))

        def outer(i):
            if i == 0:
                threads.run_parts(inner, 2, 2)
            seen.append((threads._blas.num_threads, threads.blas_threads()))
        threads.run_parts(outer, 2, 2)
        assert len(seen) == 4 and set(seen) == {(1, 2)}  # pinned; the user's 2 is reported
        assert threads._blas.num_threads == 2 and threads._pinned == 0
