"""nn.RNN / LSTM / GRU, the cells, packing and Conv1d/pooling against PyTorch; padding
invariance; errors that name the problem."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                                pad_packed_sequence, pad_sequence)
from tests.conftest import torch_or_skip
from tests.nn._util import close, compare_module

CONFIGS = [dict(), dict(num_layers=2, bidirectional=True, batch_first=True),
           dict(num_layers=3, bias=False), dict(bidirectional=True)]


def _pair(torch, cls, **kw):
    tm = getattr(torch.nn, cls)(4, 5, **kw)
    em = getattr(nn, cls)(4, 5, **kw)
    assert list(em.state_dict()) == list(tm.state_dict())     # names and order
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return em, tm


def _grads_match(em, tm, tol=1e-5):
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        close(p.grad.data, tp[n].grad.numpy(), tol, f"grad of {n}")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", range(len(CONFIGS)))
def test_layer_matches_torch_with_initial_state(cls, cfg):
    torch = torch_or_skip()
    kw = CONFIGS[cfg]
    em, tm = _pair(torch, cls, **kw)
    rng = np.random.default_rng(cfg)
    x = rng.standard_normal((3, 7, 4) if kw.get("batch_first") else (7, 3, 4)).astype(np.float32)
    D = 2 if kw.get("bidirectional") else 1
    hs = [rng.standard_normal((kw.get("num_layers", 1) * D, 3, 5)).astype(np.float32)
          for _ in range(2)]
    ex, tx = ember.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    eh = [ember.Tensor(h, requires_grad=True) for h in hs]
    th = [torch.tensor(h, requires_grad=True) for h in hs]
    if cls == "LSTM":
        ey, (ehn, ecn) = em(ex, tuple(eh))
        ty, (thn, tcn) = tm(tx, tuple(th))
        close(ecn.data, tcn.detach().numpy(), what="c_n")
    else:
        ey, ehn = em(ex, eh[0])
        ty, thn = tm(tx, th[0])
    close(ey.data, ty.detach().numpy(), what="output")
    close(ehn.data, thn.detach().numpy(), what="h_n")
    g = rng.standard_normal(ty.shape).astype(np.float32)
    gh = rng.standard_normal(thn.shape).astype(np.float32)
    ((ey * ember.Tensor(g)).sum() + (ehn * ember.Tensor(gh)).sum()).backward()
    ((ty * torch.tensor(g)).sum() + (thn * torch.tensor(gh)).sum()).backward()
    close(ex.grad.data, tx.grad.numpy(), what="input grad")
    close(eh[0].grad.data, th[0].grad.numpy(), what="h_0 grad")
    if cls == "LSTM":
        close(eh[1].grad.data, th[1].grad.numpy(), what="c_0 grad")
    _grads_match(em, tm)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_packed_multilayer_bidirectional_matches_torch(cls):
    torch = torch_or_skip()
    em, tm = _pair(torch, cls, num_layers=2, bidirectional=True)
    lens = [3, 7, 5, 1]
    x = np.random.default_rng(0).standard_normal((7, 4, 4)).astype(np.float32)
    ex, tx = ember.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ep = pack_padded_sequence(ex, lens, enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lens), enforce_sorted=False)
    np.testing.assert_array_equal(ep.data.data, tp.data.detach().numpy())
    np.testing.assert_array_equal(ep.batch_sizes, tp.batch_sizes.numpy())
    eo, eh = em(ep)
    to, th = tm(tp)
    assert isinstance(eo, PackedSequence)
    close(eo.data.data, to.data.detach().numpy(), what="packed output")
    if cls == "LSTM":
        close(eh[1].data, th[1].detach().numpy(), what="c_n")
        eh, th = eh[0], th[0]
    close(eh.data, th.detach().numpy(), what="h_n")
    ey, el = pad_packed_sequence(eo, batch_first=True)
    ty, tl = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True)
    np.testing.assert_array_equal(el.data, tl.numpy())
    close(ey.data, ty.detach().numpy(), what="padded output")
    rng = np.random.default_rng(1)
    g, gh = (rng.standard_normal(t.shape).astype(np.float32) for t in (ty, th))
    ((ey * ember.Tensor(g)).sum() + (eh * ember.Tensor(gh)).sum()).backward()
    ((ty * torch.tensor(g)).sum() + (th * torch.tensor(gh)).sum()).backward()
    close(ex.grad.data, tx.grad.numpy(), what="input grad")
    _grads_match(em, tm)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_padding_never_leaks(cls):
    """The same sequences padded to 6 or to 11 steps with garbage padding: identical outputs
    and gradients (up to float rounding of sums of different lengths)."""
    m = getattr(nn, cls)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (6, 2, 4)]
    results = []
    for T, fill in ((6, 0.0), (11, 1e3)):
        x = np.full((3, T, 3), fill, np.float32)
        for b, s in enumerate(seqs):
            x[b, :len(s)] = s
        ex = ember.Tensor(x, requires_grad=True)
        m.zero_grad()
        out, h = m(pack_padded_sequence(ex, [6, 2, 4], batch_first=True, enforce_sorted=False))
        y, _ = pad_packed_sequence(out, batch_first=True)
        h = h[0] if cls == "LSTM" else h
        ((y * y).sum() + h.sum()).backward()
        assert np.all(ex.grad.data[1, 2:] == 0) and np.all(ex.grad.data[2, 4:] == 0)
        results.append((y.data, h.data, ex.grad.data[:, :6],
                        [p.grad.data.copy() for p in m.parameters()]))
    (y0, h0, gx0, gp0), (y1, h1, gx1, gp1) = results
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(h0, h1)
    np.testing.assert_allclose(gx0, gx1, rtol=1e-6, atol=1e-6)
    for a, b in zip(gp0, gp1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_torch_state_dict_loads_and_gives_same_outputs():
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = torch.nn.LSTM(6, 8, num_layers=2, bidirectional=True, batch_first=True)
    em = nn.LSTM(6, 8, num_layers=2, bidirectional=True, batch_first=True)
    em.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 9, 6)).astype(np.float32)
    ey, (eh, ec) = em(ember.Tensor(x))
    ty, (th, tc) = tm(torch.tensor(x))
    close(ey.data, ty.detach().numpy(), what="output")
    close(ec.data, tc.detach().numpy(), what="c_n")


def test_default_init_and_dropout_between_layers():
    m = nn.GRU(10, 16, num_layers=2, dropout=0.5)
    for n, p in m.named_parameters():
        assert np.abs(p.data).max() <= 0.25 and np.abs(p.data).max() > 0.2, n
    x = ember.Tensor(np.random.default_rng(0).standard_normal((5, 2, 10)).astype(np.float32))
    m.eval()
    a, b = m(x)[0].data, m(x)[0].data
    np.testing.assert_array_equal(a, b)
    m.train()
    assert not np.allclose(m(x)[0].data, a)    # dropout on layer 1's outputs
    m1 = nn.GRU(10, 16, num_layers=1, dropout=0.5)  # no layer after: dropout unused
    m1.train()
    np.testing.assert_array_equal(m1(x)[0].data, m1(x)[0].data)


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cls):
    torch = torch_or_skip()
    tm, em = getattr(torch.nn, cls)(4, 5), getattr(nn, cls)(4, 5)
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    h = rng.standard_normal((3, 5)).astype(np.float32)
    ex, tx = ember.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if cls == "LSTMCell":
        eh, ec = em(ex, (ember.Tensor(h), ember.Tensor(h)))
        th, tc = tm(tx, (torch.tensor(h), torch.tensor(h)))
        close(ec.data, tc.detach().numpy(), what="c'")
    else:
        eh, th = em(ex, ember.Tensor(h)), tm(tx, torch.tensor(h))
    close(eh.data, th.detach().numpy(), what="h'")
    eh.sum().backward()
    th.sum().backward()
    close(ex.grad.data, tx.grad.numpy(), what="input grad")
    _grads_match(em, tm)
    one = em(ember.Tensor(x[0]))        # unbatched input, zero state
    assert tuple((one[0] if cls == "LSTMCell" else one).shape) == (5,)


def test_unbatched_input_and_relu():
    torch = torch_or_skip()
    em, tm = _pair(torch, "RNN", nonlinearity="relu")
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    ey, eh = em(ember.Tensor(x))
    ty, th = tm(torch.tensor(x))
    assert tuple(ey.shape) == (6, 5) and tuple(eh.shape) == (1, 5)
    close(ey.data, ty.detach().numpy(), what="output")


def test_pad_sequence_and_pack_sequence_match_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)).astype(np.float32) for n in (4, 2, 3)]
    for bf in (False, True):
        for side in ("right", "left"):
            e = pad_sequence([ember.Tensor(s) for s in seqs], batch_first=bf, padding_value=-1,
                             padding_side=side)
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=bf,
                                                padding_value=-1, padding_side=side)
            np.testing.assert_array_equal(e.data, t.numpy())
    ep = pack_sequence([ember.Tensor(s) for s in seqs], enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(ep.data.data, tp.data.detach().numpy())
    np.testing.assert_array_equal(ep.sorted_indices, tp.sorted_indices.numpy())
    np.testing.assert_array_equal(ep.lengths(), [4, 2, 3])


def test_clear_errors():
    m = nn.LSTM(4, 5, num_layers=2)
    with pytest.raises(ValueError, match="input has 3 features.*input_size is 4"):
        m(ember.Tensor(np.zeros((2, 1, 3), np.float32)))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 1, 5\)"):
        m(ember.Tensor(np.zeros((2, 1, 4), np.float32)),
          (ember.Tensor(np.zeros((1, 1, 5))), ember.Tensor(np.zeros((1, 1, 5)))))
    with pytest.raises(ValueError, match="sorted in decreasing order"):
        pack_padded_sequence(ember.Tensor(np.zeros((3, 2, 1))), [1, 3])
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="sigmoid")


CONV = [("Conv1d", (4, 6, 3), dict(stride=2, padding=1)),
        ("Conv1d", (4, 6, 3), dict(padding="same", dilation=2, groups=2)),
        ("Conv1d", (4, 2, 5), dict(bias=False)),
        ("MaxPool1d", (3,), dict(stride=2, padding=1)),
        ("MaxPool1d", (2,), dict()),
        ("AdaptiveAvgPool1d", (4,), dict()), ("AdaptiveAvgPool1d", (1,), dict())]


@pytest.mark.parametrize("cls,args,kw", CONV)
def test_conv1d_and_pooling_match_torch(cls, args, kw):
    torch = torch_or_skip()
    x = np.random.default_rng(0).standard_normal((2, 4, 11)).astype(np.float32)
    compare_module(torch, getattr(nn, cls)(*args, **kw), getattr(torch.nn, cls)(*args, **kw), x)


def test_conv1d_error_names_the_shape():
    with pytest.raises(ValueError, match="3-D input"):
        nn.Conv1d(2, 3, 3)(ember.Tensor(np.zeros((2, 5), np.float32)))
