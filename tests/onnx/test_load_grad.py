"""Gradients through imported graphs: float64 finite-difference checks (ember.autograd.gradcheck)
of the converters that compose several ember ops (or reorder weights) rather than calling one
primitive, with respect to the input and every initializer (Parameter)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'ember[onnx]')")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import ember  # noqa: E402
import ember.onnx  # noqa: E402
from ember.autograd import gradcheck  # noqa: E402

D = TensorProto.DOUBLE
rng = np.random.default_rng(0)


def r(*shape):
    return rng.standard_normal(shape)


def model(op, x, inits=(), n_out=1, opset=17, **attrs):
    names = ["x"] + [("" if a is None else n) for n, a in inits]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], **attrs)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", D, x.shape)],
                          [helper.make_tensor_value_info(f"y{i}", D, None)
                           for i in range(n_out)],
                          [numpy_helper.from_array(a, n) for n, a in inits if a is not None])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return ember.onnx.load(m)


def check(em, x):
    xt = ember.tensor(x, requires_grad=True)
    params = list(em.parameters())
    assert all(p.dtype == np.float64 for p in params)

    def fn(inp, *ps):
        out = em(inp)
        outs = out if isinstance(out, tuple) else (out,)
        return sum(((o * o).sum() for o in outs), ember.tensor(0.0, dtype="float64"))
    assert gradcheck(fn, [xt] + params)


@pytest.mark.parametrize("lbr", [0, 1])
def test_gru_both_reset_forms_with_lengths(lbr):
    T, B, I, H = 4, 2, 3, 2
    inits = [("W", r(2, 3 * H, I)), ("R", r(2, 3 * H, H)), ("B", r(2, 6 * H)),
             ("L", np.array([4, 2], np.int32))]
    em = model("GRU", r(T, B, I), inits, n_out=2, hidden_size=H, direction="bidirectional",
               linear_before_reset=lbr)
    check(em, r(T, B, I))


def test_lstm_weights_in_onnx_layout():
    T, B, I, H = 3, 2, 3, 2
    inits = [("W", r(1, 4 * H, I)), ("R", r(1, 4 * H, H)), ("B", r(1, 8 * H)),
             ("L", None), ("h0", r(1, B, H)), ("c0", r(1, B, H))]
    check(model("LSTM", r(T, B, I), inits, n_out=3, hidden_size=H), r(T, B, I))


@pytest.mark.parametrize("op,kw", [
    ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 0, 1], ceil_mode=1)),
    ("AveragePool", dict(kernel_shape=[2, 2], auto_pad="SAME_LOWER", count_include_pad=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0], ceil_mode=1))])
def test_pooling_general_geometry(op, kw):
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0   # no max ties
    check(model(op, x, **kw), x)


def test_gemm_softmax_layernorm_prelu():
    check(model("Gemm", r(3, 4), [("b", r(3, 5)), ("c", r(4, 5))], transA=1, alpha=0.5,
                beta=2.0), r(3, 4))
    for c in (r(5), r(1), r(4, 1)):          # C broadcast: its gradient keeps its shape
        check(model("Gemm", r(4, 3), [("b", r(5, 3)), ("c", c)], transB=1), r(4, 3))
    check(model("Softmax", r(2, 3, 4), opset=11, axis=1), r(2, 3, 4))
    check(model("LayerNormalization", r(2, 3, 4), [("s", r(3, 4)), ("b", r(3, 4))], axis=1),
          r(2, 3, 4))
    x = rng.uniform(0.2, 1.0, (2, 3, 2, 2)) * rng.choice([-1, 1], (2, 3, 2, 2))
    check(model("PRelu", x, [("a", r(3, 1, 1))]), x)


def test_conv_transpose_with_crop_and_groups():
    x = r(1, 4, 3, 3)
    check(model("ConvTranspose", x, [("w", r(4, 1, 3, 2)), ("b", r(2))], group=2,
                strides=[2, 1], pads=[3, 0, 1, 1], output_padding=[1, 0]), x)
