"""The fused recurrent primitives: finite-difference gradients (float64) with and without a
padding mask, in both directions, and forward+backward parity with PyTorch's single layers."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.ops.nn_rnn import GRULayer, LSTMLayer, RNNLayer
from tests.conftest import torch_or_skip

GATES = {"lstm": 4, "gru": 3, "rnn": 1, "rnn_relu": 1}


def _inputs(kind, T=3, B=2, I=2, H=3, bias=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    G = GATES[kind]
    arrs = [rng.standard_normal((T, B, I)), rng.standard_normal((B, H))]
    if kind == "lstm":
        arrs.append(rng.standard_normal((B, H)))
    arrs += [rng.standard_normal((G * H, I)) * 0.6, rng.standard_normal((G * H, H)) * 0.6]
    if bias:
        arrs += [rng.standard_normal(G * H) * 0.3, rng.standard_normal(G * H) * 0.3]
    return [ember.Tensor(a.astype(dtype), requires_grad=True) for a in arrs]


def _apply(kind, ts, mask, reverse, bias=True):
    if not bias:
        ts = list(ts) + [None, None]
    if kind == "lstm":
        return LSTMLayer.apply(*ts, mask, reverse=reverse)
    if kind == "gru":
        return GRULayer.apply(*ts, mask, reverse=reverse)
    return RNNLayer.apply(*ts, mask, reverse=reverse, relu=kind == "rnn_relu")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "rnn_relu"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(kind, reverse, masked):
    ts = _inputs(kind, bias=not (masked and reverse))
    # sequence 0 has 3 steps, sequence 1 has 2 (a padded last step)
    mask = np.array([[1, 1], [1, 1], [1, 0]], np.float64) if masked else None
    assert gradcheck(lambda *a: _apply(kind, a, mask, reverse, bias=not (masked and reverse)),
                     ts)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_padding_rows_are_zero_and_get_no_gradient(kind):
    ts = _inputs(kind, T=4, B=2)
    mask = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], np.float64)
    out = _apply(kind, ts, mask, False)
    assert np.all(out.data[2:4, 1] == 0)
    out.sum().backward()
    assert np.all(ts[0].grad.data[2:, 1] == 0)       # padded inputs: exactly no gradient
    # the final state of sequence 1 is its state after its own last (2nd) step
    short = _apply(kind, [ember.Tensor(ts[0].data[:2])] + ts[1:], None, False)
    np.testing.assert_array_equal(out.data[4, 1], short.data[2, 1])


def _torch_layer(torch, kind, ts, reverse):
    """A single-layer torch module holding the weights of ``ts`` in the direction asked."""
    I, H = ts[0].shape[2], ts[1].shape[1]
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    tm = cls(I, H, bidirectional=reverse).double()
    w = ts[-4:]
    sfx = "_reverse" if reverse else ""
    with torch.no_grad():
        for n, t in zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], w):
            getattr(tm, n + sfx).copy_(torch.tensor(t.data))
    return tm


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_torch(kind, reverse):
    torch = torch_or_skip()
    ts = _inputs(kind, T=6, B=3, I=4, H=5, seed=3)
    tm = _torch_layer(torch, kind, ts, reverse)
    H = 5
    out = _apply(kind, ts, None, reverse)
    tx = torch.tensor(ts[0].data, requires_grad=True)
    D = 2 if reverse else 1
    h0 = torch.tensor(np.stack([ts[1].data] * D), requires_grad=True)
    if kind == "lstm":
        c0 = torch.tensor(np.stack([ts[2].data] * D), requires_grad=True)
        y, (hn, cn) = tm(tx, (h0, c0))
        finals = [hn[-1:], cn[-1:]]
    else:
        y, hn = tm(tx, h0)
        finals = [hn[-1:]]
    ref = torch.cat([y[..., H:] if reverse else y] + finals)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), atol=1e-10)
    g = np.random.default_rng(1).standard_normal(ref.shape)
    out.backward(ember.Tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(ts[0].grad.data, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ts[1].grad.data, h0.grad.numpy()[-1], atol=1e-10)
    sfx = "_reverse" if reverse else ""
    for t, n in zip(ts[-4:], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]):
        np.testing.assert_allclose(t.grad.data, getattr(tm, n + sfx).grad.numpy(), atol=1e-10,
                                   err_msg=n)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_gradcheck_single_bias(kind):
    """Keras layers pass one bias (b_hh None): it gets the summed bias's gradient."""
    ts = _inputs(kind)
    ts = ts[:-1] + [None]
    mask = np.array([[1, 1], [1, 0], [1, 0]], np.float64)
    assert gradcheck(lambda *a: _apply(kind, a, mask, True), ts)


def test_blas_thread_count_restored_and_runs_repeatable():
    """Small steps run on one BLAS thread inside the primitive only: the count is restored,
    and the same inputs give bit-identical results."""
    threadpoolctl = pytest.importorskip("threadpoolctl",
                                        reason="pip install threadpoolctl (test extra)")

    def blas_threads():
        return [(i["internal_api"], i["num_threads"])
                for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    before = blas_threads()
    runs = []
    for _ in range(2):
        ts = _inputs("lstm", T=5, B=4, I=3, H=8, dtype=np.float32)
        out = _apply("lstm", ts, None, False)
        out.sum().backward()
        assert blas_threads() == before
        runs.append([out.data] + [t.grad.data for t in ts])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
