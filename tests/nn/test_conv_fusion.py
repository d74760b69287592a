"""Conv2d + ReLU fusion: the fused primitive (Conv2d with relu=True) is gradchecked and
compared with PyTorch; nn.Sequential uses it only in inference, with results bit-identical to
the unfused calls, and never when tracing, dispatch modes, hooks or grad mode could see it."""
import collections

import numpy as np
import pytest

import ember
import ember.kernels as K
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from ember.dispatch import DispatchMode
from ember.ops import elementwise, nn_conv

from ._util import close

torch = pytest.importorskip("torch")


@pytest.fixture(params=K.available())
def impl(request):
    before = K._chosen
    K.use(request.param)
    yield request.param
    K._chosen = before


def _seed(groups=1):
    return nn.Sequential(nn.Conv2d(2, 4, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1, groups=groups), nn.ReLU(),
                         nn.Flatten(), nn.Linear(6 * 4 * 4, 3))


def _input(n=5):
    return ember.Tensor(np.random.default_rng(0).standard_normal((n, 2, 8, 8))
                        .astype(np.float32))


class _Count(DispatchMode):
    def __init__(self):
        self.ops = collections.Counter()

    def __ember_dispatch__(self, op, inputs, attrs):
        self.ops[op.__name__, attrs.get("relu", False)] += 1
        return op.apply(*inputs, **attrs)


@pytest.fixture
def relu_calls(monkeypatch):
    """How many times the Relu primitive runs (counted without a dispatch mode, which would
    itself switch fusion off)."""
    calls = []
    real = elementwise.Relu.forward

    def counted(ctx, a):
        calls.append(a.shape)
        return real(ctx, a)
    monkeypatch.setattr(elementwise.Relu, "forward", staticmethod(counted))
    return calls


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("chunk", [nn_conv.COLS_CHUNK, 100])  # one block; a block per image
def test_inference_fuses_and_is_bit_identical(impl, monkeypatch, relu_calls, groups, chunk):
    monkeypatch.setattr(nn_conv, "COLS_CHUNK", chunk)
    model = _seed(groups)
    x = _input()
    model.eval()
    ref = model(x).data  # grad mode on: the unfused calls
    assert len(relu_calls) == 2
    del relu_calls[:]
    with ember.no_grad():
        out = model(x).data
    assert relu_calls == []  # both ReLUs ran inside their convolutions
    np.testing.assert_array_equal(out, ref)
    pred = ember.Model(model).predict(x.data, batch_size=len(x.data))  # (same GEMM shapes)
    np.testing.assert_array_equal(pred, ref)


def test_no_fusion_under_modes_hooks_or_subclasses(relu_calls):
    model = _seed()
    x = _input(2)
    with ember.no_grad():
        with _Count() as c:  # what tracing, jit and ONNX export see: the unfused ops
            model(x)
        assert c.ops[("Conv2d", False)] == 2 and c.ops[("Relu", False)] == 2
        assert ("Conv2d", True) not in c.ops
        del relu_calls[:]
        seen = []
        h = model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
        model(x)
        h.remove()
        assert seen == [(2, 4, 8, 8)] and len(relu_calls) == 1  # only the hooked pair ran apart

        class MyReLU(nn.ReLU):
            pass
        del relu_calls[:]
        nn.Sequential(nn.Conv2d(2, 3, 3), MyReLU())(x)
        assert len(relu_calls) == 1


def test_training_is_not_fused(relu_calls):
    model = _seed()
    x = _input(2)
    model(x).sum().backward()
    assert len(relu_calls) == 2


def test_trace_and_onnx_export_see_the_unfused_graph():
    onnx = pytest.importorskip("onnx")
    import io
    model = _seed()
    model.eval()
    buf = io.BytesIO()
    with ember.no_grad():
        ember.onnx.export(model, _input(1), buf)
    kinds = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert kinds.count("Conv") == 2 and kinds.count("Relu") == 2


CASES = [  # (N, C, H, W), (O, C/groups, kh, kw), stride, padding, dilation, groups
    ((2, 2, 6, 5), (3, 2, 3, 3), 1, 1, 1, 1),
    ((1, 4, 7, 6), (4, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
]


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CASES)
def test_fused_primitive_gradcheck(impl, xs, ws, stride, padding, dilation, groups):
    rng = np.random.default_rng(3)
    x = ember.Tensor(rng.standard_normal(xs), requires_grad=True)
    w = ember.Tensor(rng.standard_normal(ws) * 0.5, requires_grad=True)
    b = ember.Tensor(rng.standard_normal(ws[0]), requires_grad=True)

    def fn(x, w, b):
        return F.conv2d(x, w, b, stride, padding, dilation, groups, _relu=True)
    assert gradcheck(fn, [x, w, b])


@pytest.mark.parametrize("xs, ws, stride, padding, dilation, groups", CASES)
def test_fused_primitive_matches_torch(impl, xs, ws, stride, padding, dilation, groups):
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in (xs, ws, ws[:1]))
    ex, ew, eb = (ember.Tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ey = F.conv2d(ex, ew, eb, stride, padding, dilation, groups, _relu=True)
    ty = torch.relu(torch.nn.functional.conv2d(tx, tw, tb, stride, padding, dilation, groups))
    close(ey.data, ty.detach().numpy(), what="output")
    g = rng.standard_normal(ty.shape).astype(np.float32)
    ey.backward(ember.Tensor(g))
    ty.backward(torch.tensor(g))
    for e, t, what in ((ex, tx, "x"), (ew, tw, "w"), (eb, tb, "b")):
        close(e.grad.data, t.grad.numpy(), what=f"grad {what}")
