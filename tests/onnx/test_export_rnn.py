"""Recurrent layers exported as ONNX RNN / LSTM / GRU nodes (gate orders converted), checked
against ember in onnxruntime: batch-first or not, bidirectional, two layers, given states, a
dynamic batch."""
import numpy as np
import pytest

import ember
import ember.nn as nn

from ._export_util import export_and_compare, onnx, op_types


class Head(nn.Module):
    """A recurrent layer followed by a linear read-out of every step and the final state."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn
        d = 2 if rnn.bidirectional else 1
        self.fc = nn.Linear(d * rnn.hidden_size, 3)

    def forward(self, x, *state):
        out, h = self.rnn(x, *state)
        return self.fc(out), h


CASES = [
    ("RNN", dict()), ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("LSTM", dict()), ("LSTM", dict(batch_first=True, bidirectional=True, num_layers=2)),
    ("GRU", dict()), ("GRU", dict(bidirectional=True, num_layers=2)),
    ("LSTM", dict(bias=False)),
]


@pytest.mark.parametrize("kind,kw", CASES, ids=lambda v: v if isinstance(v, str) else
                         "-".join(f"{k}={w}" for k, w in v.items()) or "default")
def test_recurrent_layers(kind, kw):
    rnn = getattr(nn, kind)(4, 5, **kw)
    model = Head(rnn)
    bf = kw.get("batch_first", False)
    shape = (2, 6, 4) if bf else (6, 2, 4)
    proto = export_and_compare(model, ember.randn(*shape))
    nodes = op_types(proto)
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    assert nodes.count(kind) == layers
    names = {i.name for i in proto.graph.initializer}
    assert "rnn.weight_ih_l0" in names and ("rnn.bias_hh_l0" in names) == kw.get("bias", True)


def test_lstm_given_state_dynamic_batch():
    model = Head(nn.LSTM(3, 4, num_layers=2, bidirectional=True))
    h0, c0 = ember.randn(4, 2, 4), ember.randn(4, 2, 4)
    x = ember.randn(5, 2, 3)
    x7, h7, c7 = ember.randn(5, 7, 3), ember.randn(4, 7, 4), ember.randn(4, 7, 4)
    proto = export_and_compare(model, (x, (h0, c0)), run_args=(x7, (h7, c7)),
                               input_names=["x", "h0", "c0"],
                               output_names=["y", "h_n", "c_n"],
                               dynamic_axes={"x": {1: "batch"}, "h0": {1: "batch"},
                                             "c0": {1: "batch"}})
    out = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
           for o in proto.graph.output}
    assert out == {"y": [5, "batch", 3], "h_n": [4, "batch", 4], "c_n": [4, "batch", 4]}


def test_gru_batch_first_dynamic_batch_zero_state_not_baked():
    model = Head(nn.GRU(3, 4, batch_first=True))
    proto = export_and_compare(model, ember.randn(2, 5, 3), run_args=ember.randn(6, 5, 3),
                               dynamic_axes={"input": {0: "batch"}})
    gru = next(n for n in proto.graph.node if n.op_type == "GRU")
    assert len(gru.input) <= 4          # no initial_h: the zeros would bake batch 2
    lbr = next(a.i for a in gru.attribute if a.name == "linear_before_reset")
    assert lbr == 1


def test_gate_order_matches_onnx_reference_formula():
    """The exported LSTM's W really is in ONNX's i, o, f, c order: rebuild it from the
    initializer and the Gather and compare with PyTorch-order blocks."""
    lstm = nn.LSTM(2, 3)
    proto = ember.onnx.export(lstm, ember.randn(4, 1, 2), None)
    gather = next(n for n in proto.graph.node if n.op_type == "Gather")
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t)
              for n in proto.graph.node if n.op_type == "Constant"}
    idx = consts[gather.input[1]]
    w = lstm.weight_ih_l0.data
    i, f, g, o = np.split(w, 4)
    np.testing.assert_array_equal(w[idx], np.concatenate([i, o, f, g]))


def test_keras_lstm_exports():
    from ember.keras import layers, models
    model = models.Sequential([layers.LSTM(4, input_shape=(5, 3)), layers.Dense(2)])
    export_and_compare(model, ember.randn(2, 5, 3), run_args=ember.randn(3, 5, 3),
                       dynamic_axes={"input": {0: "batch"}})
