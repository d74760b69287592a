"""ONNX's LSTM, GRU and RNN on ember's fused recurrent primitives (``ember.ops.nn_rnn``).

ONNX stacks the gates as LSTM i, o, f, c and GRU z, r, h; the primitives use PyTorch's rows
(LSTM i, f, g, o; GRU r, z, n), so each direction's W (G*H, I), R (G*H, H) and biases are
reordered by one gather (differentiable: the gradient returns to the ONNX-layout parameters).
``sequence_lens`` becomes the primitives' (T, B) padding mask: padded steps output 0 and carry
the state, and the reverse direction starts at each sequence's own last step (onnxruntime's
semantics). A GRU with ``linear_before_reset=0`` (ONNX's default; PyTorch exports 1) has no
fused primitive and is composed step by step from ember ops.
"""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..functions import stack
from ..ops import nn_rnn as _rnn
from ._import_registry import ints, register, tensor

_DEFAULT_ACTS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"],
                 "RNN": ["tanh"]}
#: ONNX gate block k goes to position ... (PyTorch's order)
_BLOCKS = {"LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2], "RNN": [0]}


def _directions(n):
    d = n.get("direction", "forward")
    return {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[d]


def _check(n):
    kind = n.op_type
    if n.get("direction", "forward") not in ("forward", "reverse", "bidirectional"):
        n.unsupported(f"direction={n.get('direction')!r}")
    acts = [a.lower() for a in (n.get("activations") or [])]
    default = _DEFAULT_ACTS[kind]
    per = len(default)
    for i in range(0, len(acts), per):
        group = acts[i:i + per]
        ok = group == default or (kind == "RNN" and group == ["relu"])
        if not ok:
            n.unsupported(f"activations {n.get('activations')} (only the defaults "
                          f"{default}{' or Relu' if kind == 'RNN' else ''} are supported)")
    if n.get("clip") is not None:
        n.unsupported("cell clipping (clip) is not supported")
    if kind == "LSTM":
        if n.get("input_forget", 0):
            n.unsupported("input_forget=1 (coupled input and forget gates) is not supported")
        if len(n.inputs) > 7 and n.inputs[7]:
            n.unsupported("peephole weights (input P) are not supported")


def _rows(kind, H):
    """Row index turning an ONNX gate stack into PyTorch's gate order."""
    return np.concatenate([np.arange(b * H, (b + 1) * H) for b in _BLOCKS[kind]])


def _mask(lens, T, B, dtype):
    if lens is None:
        return None
    lens = np.asarray(ints(lens))
    if lens.shape != (B,):
        raise ValueError(f"sequence_lens has shape {lens.shape}, expected ({B},)")
    if (lens == T).all():
        return None
    return (np.arange(T)[:, None] < lens[None, :]).astype(dtype)


def _run(n, x, W, R, B, lens, h0, c0=None):
    kind = n.op_type
    layout = int(n.get("layout", 0))
    x = tensor(x)
    if layout:                      # (batch, seq, feature) -> time-major
        x = x.permute(1, 0, 2)
    T, Bn, _ = x.shape
    W, R = tensor(W), tensor(R)
    H = int(n.get("hidden_size") or R.shape[-1])
    G = len(_BLOCKS[kind])
    if tuple(W.shape[1:2]) != (G * H,) or tuple(R.shape[1:]) != (G * H, H):
        raise n.error(f"W {tuple(W.shape)} / R {tuple(R.shape)} do not fit {G} gates of "
                      f"hidden_size {H}")
    if layout:
        h0 = None if h0 is None else tensor(h0).permute(1, 0, 2)
        c0 = None if c0 is None else tensor(c0).permute(1, 0, 2)
    acts = [a.lower() for a in (n.get("activations") or [])]
    rows = _rows(kind, H)
    mask = _mask(lens, T, Bn, x.dtype)
    zeros = np.zeros((Bn, H), x.dtype)
    ys, hs, cs = [], [], []
    for d, rev in enumerate(_directions(n)):
        bw = br = None
        if B is not None:
            Bt = tensor(B)
            bw, br = Bt[d, :G * H], Bt[d, G * H:]
        h = zeros if h0 is None else tensor(h0)[d]
        if kind == "GRU" and not int(n.get("linear_before_reset", 0)):
            y, hn = _gru_reset_before(x, W[d], R[d], bw, br, h, mask, rev, H)
        else:
            w_ih, w_hh = W[d, rows], R[d, rows]
            b_ih = None if bw is None else bw[rows]
            b_hh = None if br is None else br[rows]
            if kind == "LSTM":
                c = zeros if c0 is None else tensor(c0)[d]
                out = _rnn.LSTMLayer.apply(x, h, c, w_ih, w_hh, b_ih, b_hh, mask, reverse=rev)
                cs.append(out[T + 1])
            elif kind == "GRU":
                out = _rnn.GRULayer.apply(x, h, w_ih, w_hh, b_ih, b_hh, mask, reverse=rev)
            else:
                relu = acts[d:d + 1] == ["relu"]
                out = _rnn.RNNLayer.apply(x, h, w_ih, w_hh, b_ih, b_hh, mask, reverse=rev,
                                          relu=relu)
            y, hn = out[:T], out[T]
        ys.append(y)
        hs.append(hn)
    Y = stack(ys, 1)                                  # (T, D, B, H)
    Yh = stack(hs, 0)                                 # (D, B, H)
    Yc = stack(cs, 0) if cs else None
    if layout:
        Y = Y.permute(2, 0, 1, 3)                     # (B, T, D, H)
        Yh = Yh.permute(1, 0, 2)
        Yc = None if Yc is None else Yc.permute(1, 0, 2)
    outs = (Y, Yh, Yc) if kind == "LSTM" else (Y, Yh)
    return outs[:max(n.n_outputs, 1)] if n.n_outputs > 1 else outs[0]


def _gru_reset_before(x, w, r, bw, br, h, mask, reverse, H):
    """ONNX's default GRU: h~ = tanh(x W_h^T + (r * h) R_h^T + Wb_h + Rb_h), gates z, r from
    x and h; h' = (1 - z) h~ + z h. Returns (outputs (T, B, H), final state)."""
    T = x.shape[0]
    gx = x.matmul(w.transpose(1, 0))                  # (T, B, 3H), gates z, r, h
    if bw is not None:
        gx = gx + bw
    rzr = r[:2 * H].transpose(1, 0)
    rh = r[2 * H:].transpose(1, 0)
    bzr = None if br is None else br[:2 * H]
    bh = None if br is None else br[2 * H:]
    h = tensor(h)
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        g = gx[t]
        gh = h.matmul(rzr)
        if bzr is not None:
            gh = gh + bzr
        zr = (g[:, :2 * H] + gh).sigmoid()
        z, rr = zr[:, :H], zr[:, H:]
        cand = g[:, 2 * H:] + (rr * h).matmul(rh)
        if bh is not None:
            cand = cand + bh
        cand = cand.tanh()
        hn = cand + z * (h - cand)
        if mask is None:
            h = outs[t] = hn
        else:
            m = mask[t][:, None]
            h = _ops.Where.apply(m != 0, hn, h)
            outs[t] = hn * m
    return stack(outs, 0), h


@register("LSTM", check=_check)
def _lstm(n, x, W, R, B=None, lens=None, h0=None, c0=None, P=None):
    return _run(n, x, W, R, B, lens, h0, c0)


@register("GRU", check=_check)
def _gru(n, x, W, R, B=None, lens=None, h0=None):
    return _run(n, x, W, R, B, lens, h0)


@register("RNN", check=_check)
def _rnn_op(n, x, W, R, B=None, lens=None, h0=None):
    return _run(n, x, W, R, B, lens, h0)
