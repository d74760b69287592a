"""The shortcuts of the eager call paths behave as the general ones: apply's inline recording as
``_record``, Sequential's direct ``forward`` calls as ``Module.__call__``, the engine's direct
accumulation as ``_leaf_done``."""
import numpy as np
import pytest

import ember
from ember import dispatch, nn
from ember.ops import elementwise as E
from ember.ops import nn_layers as L


def _t(shape, grad=True, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("case", ["relu", "add", "add_const", "linear", "linear_nobias",
                                  "linear_frozen_w"])
def test_inline_record_matches_record(case):
    x, w, b = _t((2, 3)), _t((4, 3), seed=1), _t((4,), seed=2)
    frozen = _t((4, 3), grad=False, seed=1)
    op, inputs = {
        "relu": (E.Relu, (x,)),
        "add": (E.Add, (x, _t((2, 3), seed=3))),
        "add_const": (E.Add, (x, np.float32(2.0))),
        "linear": (L.Linear, (x, w, b)),
        "linear_nobias": (L.Linear, (x, w, None)),
        "linear_frozen_w": (L.Linear, (x, frozen, b)),
    }[case]
    out = op.apply(*inputs)
    ctx = out._ctx
    ref_ctx = op.__new__(op)
    ref = dispatch._record(ref_ctx, op, inputs, out.data)
    assert ctx.needs == ref_ctx.needs
    assert len(ctx.parents) == len(inputs) and all(a is b for a, b in zip(ctx.parents, inputs))
    strip = lambda checks: None if checks is None else [(id(b), v, i) for b, v, i in checks]
    own = [(id(out._vb), v, i) for _, v, i in ctx.vchecks or [] if i < 0]
    ref_own = [(id(ref._vb), v, i) for _, v, i in ref_ctx.vchecks or [] if i < 0]
    assert strip([c for c in ctx.vchecks or [] if c[2] >= 0]) == \
        strip([c for c in ref_ctx.vchecks or [] if c[2] >= 0])
    assert len(own) == len(ref_own)
    assert ctx.seq < ref_ctx.seq  # numbered in creation order


def test_in_place_change_of_an_input_is_still_detected():
    x, w, b = _t((2, 3)), _t((4, 3), seed=1), _t((4,), seed=2)
    y = L.Linear.apply(x, w, b)
    with ember.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="input 1"):
        y.sum().backward()


class _Doubler(nn.Module):
    def forward(self, x):
        return x * 2


class _CallOverride(nn.Module):
    def forward(self, x):
        return x

    def __call__(self, x):  # a module that wraps its own call: Sequential must go through it
        return x + 100


def test_sequential_runs_child_hooks_and_overridden_call():
    seen = []
    d = _Doubler()
    d.register_forward_pre_hook(lambda m, args: seen.append("pre"))
    d.register_forward_hook(lambda m, args, out: out + 1)
    seq = nn.Sequential(d, _CallOverride())
    out = seq(ember.tensor(np.ones(2, np.float32)))
    np.testing.assert_array_equal(out.numpy(), [103.0, 103.0])
    assert seen == ["pre"]


def test_track_modules_sees_sequential_children():
    from ember.nn.module import running_modules, track_modules
    names = []

    class Probe(nn.Module):
        def forward(self, x):
            names.append(tuple(type(m).__name__ for m in running_modules()))
            return x

    seq = nn.Sequential(Probe())
    with track_modules():
        seq(ember.tensor(np.ones(1, np.float32)))
    assert names == [("Sequential", "Probe")]


def test_linear_layer_names_a_feature_mismatch():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*input has 4 features"):
        lin(ember.tensor(np.zeros((1, 4), np.float32)))


def test_leaf_hooks_and_post_hooks_still_run_after_direct_accumulation():
    lin = nn.Linear(3, 2)
    x = _t((1, 3), grad=False)
    calls = []
    lin.weight.register_hook(lambda g: g * 2)
    h = lin.bias.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.numpy().copy()))
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * np.repeat(x.numpy(), 2, 0))
    np.testing.assert_array_equal(calls[0], [1.0, 1.0])
    h.remove()
    lin.zero_grad()
    lin(x).sum().backward()  # no hook left on the bias: the direct path, same gradient
    np.testing.assert_array_equal(lin.bias.grad.numpy(), [1.0, 1.0])
    g = ember.autograd.grad(lin(x).sum(), [lin.bias])[0]  # capture: .grad untouched
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(lin.bias.grad.numpy(), [1.0, 1.0])
