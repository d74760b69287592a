"""ONNX RNN / LSTM / GRU nodes for ember's fused recurrent primitives (``ember.ops.nn_rnn``).

One primitive is one direction of one layer over the whole sequence, so it maps to one ONNX
node with ``direction`` forward or reverse. ember's single output, the per-step outputs
followed by the final state(s) as extra time rows ((T+1, B, H); (T+2, B, H) for the LSTM), is
rebuilt by concatenating ONNX's ``Y`` (T, 1, B, H, squeezed), ``Y_h`` and ``Y_c`` (1, B, H).

Weights stay initializers in PyTorch's layout under their own names (``lstm.weight_ih_l0``);
a Gather reorders the gate blocks into ONNX's order, which runtimes fold at load:

- LSTM: PyTorch i, f, g, o -> ONNX i, o, f, c (blocks 0, 3, 1, 2);
- GRU: PyTorch r, z, n -> ONNX z, r, h (blocks 1, 0, 2), with ``linear_before_reset=1``,
  since PyTorch applies the reset gate after the recurrent product (``r * (W_hn h + b_hn)``).

An all-zero initial state made inside the layer is left out (ONNX's default is zeros), so the
graph does not bake the example's batch size. Padding masks (packed sequences) are not
exported.
"""
from __future__ import annotations

import numpy as np

from ..ops import nn_rnn as _rnn
from ._export_ops import rule

_ORDER = {"RNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _reorder(c, i, blocks, H, dt):
    """Input ``i`` (a weight (G*H, K) or bias (G*H,)) with its gate blocks reordered."""
    x = c.inp(i, dt)
    if blocks == list(range(len(blocks))):
        return x
    idx = np.concatenate([np.arange(b * H, (b + 1) * H) for b in blocks]).astype(np.int64)
    return c.b.node("Gather", [x, c.b.const(idx, hint="gate_order")], axis=0)


def _state(c, i, dt):
    """Initial state input ``i`` as (1, B, H), or '' when it is a constant of zeros."""
    if c.is_const(i) and not np.any(c.value(i)):
        return ""
    return c.b.unsqueeze(c.inp(i, dt), [0])


def _recurrent(c, kind, n_states):
    dt = c.out_dtype()
    first_w = 1 + n_states                      # x, state(s), w_ih, w_hh, b_ih, b_hh, mask
    mask = first_w + 4
    if not c.is_none(mask):
        raise c.fail("a padding mask (PackedSequence input) is not exported; export the layer "
                     "on a padded batch")
    H = c.shape(first_w + 1)[1]
    blocks = _ORDER[kind]
    G = len(blocks)
    w = c.b.unsqueeze(_reorder(c, first_w, blocks, H, dt), [0])
    r = c.b.unsqueeze(_reorder(c, first_w + 1, blocks, H, dt), [0])
    biases = []
    for i in (first_w + 2, first_w + 3):
        biases.append(c.b.const(np.zeros(G * H, dt)) if c.is_none(i)
                      else _reorder(c, i, blocks, H, dt))
    bias = "" if c.is_none(first_w + 2) and c.is_none(first_w + 3) else \
        c.b.unsqueeze(c.b.node("Concat", biases, axis=0), [0])
    states = [_state(c, 1 + k, dt) for k in range(n_states)]
    attrs = {"hidden_size": int(H),
             "direction": "reverse" if c.attrs.get("reverse") else "forward"}
    if kind == "RNN":
        attrs["activations"] = ["Relu" if c.attrs.get("relu") else "Tanh"]
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    outs = c.b.node(kind, [c.inp(0, dt), w, r, bias, "", *states], outputs=1 + n_states,
                    **attrs)
    y = c.b.squeeze(outs[0], [1])               # (T, 1, B, H) -> (T, B, H)
    return c.b.node("Concat", [y, *outs[1:]], axis=0)


@rule(_rnn.RNNLayer)
def _rnn_layer(c):
    return _recurrent(c, "RNN", 1)


@rule(_rnn.LSTMLayer)
def _lstm_layer(c):
    return _recurrent(c, "LSTM", 2)


@rule(_rnn.GRULayer)
def _gru_layer(c):
    return _recurrent(c, "GRU", 1)
