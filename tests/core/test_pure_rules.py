"""Primitive rules run on arrays alone (the contract a graph executor relies on), every per-call
array is an input of a primitive, and ember/ops knows no Tensor."""
import pathlib
import re

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.dispatch import RecordingMode
from ember.ops.function import Function

R = np.random.default_rng(7)


def _arrays(xs):
    return [x.data if isinstance(x, ember.Tensor) else x for x in xs]


class Snapshot(RecordingMode):
    """Records like RecordingMode, with copies of the input arrays (state buffers such as
    running statistics are overwritten in place afterwards)."""

    def __ember_dispatch__(self, op, inputs, attrs):
        saved = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                 for a in _arrays(inputs)]
        out = super().__ember_dispatch__(op, inputs, attrs)
        self.calls[-1] = (op, inputs, attrs, out, saved)
        return out


def _workload():
    """A mix of layers and ops, recorded with the graph kept (no backward yet)."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(12, 4),
                          nn.LayerNorm(4), nn.GELU())
    emb = nn.Embedding(5, 4)
    x = ember.tensor(R.standard_normal((3, 2, 4, 4)).astype(np.float32))
    idx = ember.tensor(np.array([[0, 2], [4, 1], [3, 3]]))
    y = ember.tensor(np.array([1, 0, 3]))
    with Snapshot() as rec:
        h = model(x) + emb(idx).sum(1)
        loss = F.cross_entropy(h, y) + F.nll_loss(F.log_softmax(h, 1), y) \
            + F.binary_cross_entropy_with_logits(h, (h > 0).float()) \
            + ember.where(h > 0.1, h, h * 0.5).abs().mean() + h[ember.arange(3), y].sum() \
            + F.smooth_l1_loss(h, h.detach() * 0.9) + h.clamp(-0.5, 0.5).std() \
            + F.multi_margin_loss(h, y)
    return rec.calls, loss


def test_every_recorded_rule_runs_on_arrays_alone():
    calls, _ = _workload()
    names = {op.__name__ for op, *_ in calls}
    assert {"Conv2d", "BatchNormTrain", "BatchNormRunningStats", "DropoutMask", "Dropout",
            "Embedding", "SoftmaxCrossEntropy", "GetItem", "Greater", "Where"} <= names
    checked = 0
    for op, inputs, attrs, out, arrays in calls:
        head = out[0] if isinstance(out, tuple) else out
        ctx = op.__new__(op)                     # no parents: a rule must not need them
        node = head._ctx
        ctx.needs = node.needs if node is not None else (True,) * len(inputs)
        res = op.forward(ctx, *arrays, **attrs)
        outs = res if isinstance(res, tuple) else (res,)
        for o, ref in zip(outs, out if isinstance(out, tuple) else (out,)):
            np.testing.assert_allclose(np.asarray(o, dtype=float),
                                       np.asarray(ref.data, dtype=float), rtol=1e-6, atol=1e-7)
        if node is None:
            continue
        g = R.standard_normal(head.shape).astype(head.dtype)
        grads = op.backward(ctx, g)
        ref = node.backward(node, g)             # the eager node, graph not yet walked
        grads = grads if isinstance(grads, tuple) else (grads,)
        ref = ref if isinstance(ref, tuple) else (ref,)
        assert len(grads) == len(inputs), op.__name__
        for a, b, need in zip(grads, ref, ctx.needs):
            if need and b is not None:
                np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=op.__name__)
        checked += 1
    assert checked > 20


def test_per_call_arrays_are_inputs_never_attributes():
    calls, _ = _workload()
    for op, inputs, attrs, out, _ in calls:
        for k, v in attrs.items():
            if isinstance(v, np.ndarray):
                assert v.ndim == 0 and op.__name__ == "Where", (op.__name__, k)
    # the statistics and the dropout state flow through primitives
    ops = [op.__name__ for op, *_ in calls]
    assert ops.index("BatchNormTrain") < ops.index("BatchNormRunningStats")


def test_replayed_dropout_draws_new_masks_from_the_state_it_is_given():
    ember.manual_seed(3)
    x = ember.ones(4, 6)
    with RecordingMode() as rec:
        y1 = F.dropout(x, 0.5)
    (op, inputs, attrs, (mask, state)), = [c for c in rec.calls if c[0].__name__ ==
                                          "DropoutMask"]
    again, _ = op.forward(op.__new__(op), np.asarray(inputs[0]), **attrs)
    np.testing.assert_array_equal(again, mask.data)          # pure: same state, same mask
    new, _ = op.forward(op.__new__(op), state.data, **attrs)
    assert not np.array_equal(new, mask.data)                 # next state, new mask
    ember.manual_seed(3)                                      # eager stream unchanged
    keep = ember.random.get_generator().random((4, 6), dtype=np.float32) >= 0.5
    np.testing.assert_array_equal(y1.data, keep * np.float32(2.0))
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, new)


def test_batch_norm_running_update_is_a_state_primitive():
    bn = nn.BatchNorm1d(3, momentum=None)
    x = ember.tensor(R.standard_normal((8, 3)).astype(np.float32))
    bn(x * 3.0)
    for k in range(2, 4):
        bn(x)
        assert int(bn.num_batches_tracked.item()) == k
    # cumulative average over 3 batches: (3x, x, x)
    mean, var = x.data.mean(0), x.data.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, (3 * mean + 2 * mean) / 3, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data, (9 * var + 2 * var) / 3, rtol=1e-5)


def test_ops_import_no_tensor():
    root = pathlib.Path(ember.__file__).parent / "ops"
    for f in root.glob("*.py"):
        src = f.read_text()
        assert not re.search(r"from \.\.tensor|import Tensor|from \.\.autograd", src), f.name
    assert issubclass(ember.ops.Add, Function)
