"""Single-operator ONNX graphs (built with onnx.helper) run by ember.onnx.load and by
onnxruntime: attribute forms and opset differences PyTorch's exporter rarely writes."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'ember[onnx]')")
pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'ember[onnx]')")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import ember.onnx  # noqa: E402
from tests.onnx._util import assert_close, run_ort  # noqa: E402

F = TensorProto.FLOAT
rng = np.random.default_rng(0)


def graph(op, inputs, n_out=1, opset=17, inits=(), out_type=F, **attrs):
    """A one-node model: ``inputs`` is a list of (name, array) graph inputs, ``inits`` of
    (name, array) initializers (also node inputs, after the graph inputs; None = omitted)."""
    names = [n for n, _ in inputs] + [("" if a is None else n) for n, a in inits]
    node = helper.make_node(op, names, [f"y{i}" for i in range(n_out)], name=f"the_{op}",
                            **attrs)
    g = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
         for n, a in inputs],
        [helper.make_tensor_value_info(f"y{i}", out_type if i == 0 else F, None)
         for i in range(n_out)],
        [numpy_helper.from_array(a, n) for n, a in inits if a is not None])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def check(model, *xs, atol=1e-5):
    em = ember.onnx.load(model)
    got = em(*xs)
    got = got if isinstance(got, tuple) else (got,)
    ref = run_ort(model, *xs)
    for a, b in zip(got, ref):
        assert_close(a.detach().numpy() if a.requires_grad else a.numpy(), b, atol=atol)
    return got


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("kw", [
    dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 3], pads=[0, 1, 1, 0], strides=[1, 2]),
    dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
    dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 0, 1, 0]),
])
def test_maxpool(kw):
    check(graph("MaxPool", [("x", r(2, 3, 7, 8))], **kw), r(2, 3, 7, 8))


@pytest.mark.parametrize("include", [0, 1])
@pytest.mark.parametrize("kw", [
    dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    dict(kernel_shape=[2, 3], pads=[0, 1, 1, 2], strides=[2, 1]),
    dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2]),
])
def test_average_pool(kw, include):
    check(graph("AveragePool", [("x", r(2, 3, 7, 8))], count_include_pad=include, **kw),
          r(2, 3, 7, 8))


def test_pool_1d_and_global():
    check(graph("MaxPool", [("x", r(2, 3, 9))], kernel_shape=[3], strides=[2], pads=[1, 1]),
          r(2, 3, 9))
    check(graph("GlobalAveragePool", [("x", r(2, 3, 4, 5))]), r(2, 3, 4, 5))
    check(graph("GlobalMaxPool", [("x", r(2, 3, 4, 5))]), r(2, 3, 4, 5))


@pytest.mark.parametrize("kw", [
    dict(pads=[1, 0, 2, 1], strides=[2, 1], dilations=[1, 2]),
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(auto_pad="SAME_LOWER"),
    dict(auto_pad="VALID", group=2),
])
def test_conv_2d(kw):
    g = kw.get("group", 1)
    x, w, b = r(2, 4, 7, 6), r(6, 4 // g, 3, 2), r(6)
    check(graph("Conv", [("x", x)], inits=[("w", w), ("b", b)], kernel_shape=[3, 2], **kw), x)


@pytest.mark.parametrize("kw", [
    dict(strides=[2, 2], output_shape=[10, 9]),
    dict(strides=[2, 1], auto_pad="SAME_UPPER"),
    dict(strides=[2, 2], auto_pad="SAME_LOWER", dilations=[1, 2]),
    dict(strides=[1, 2], pads=[3, 0, 2, 1], output_padding=[0, 1]),   # pads > k - 1: a crop
    dict(group=2, strides=[2, 2], pads=[1, 1, 0, 0])])
def test_conv_transpose(kw):
    x, w, b = r(2, 4, 4, 5), r(4, 6 // kw.get("group", 1), 3, 2), r(6 // kw.get("group", 1) *
                                                                      kw.get("group", 1))
    check(graph("ConvTranspose", [("x", x)], inits=[("w", w), ("b", b)], **kw), x)


def test_conv_1d_without_bias():
    x, w = r(2, 3, 10), r(5, 3, 3)
    check(graph("Conv", [("x", x)], inits=[("w", w)], strides=[2], pads=[2, 1]), x)


@pytest.mark.parametrize("kw", [dict(transA=1, alpha=0.5, beta=2.0), dict(transB=1),
                                dict(alpha=1.5)])
def test_gemm(kw):
    a = r(3, 4) if kw.get("transA") else r(4, 3)
    bm = r(5, 3) if kw.get("transB") else r(3, 5)
    check(graph("Gemm", [("a", a)], inits=[("b", bm), ("c", r(4, 1))], **kw), a)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_axis_rules(op, axis, opset):
    """Before opset 13 the input is flattened to 2-D at ``axis``; from 13 it is one axis."""
    x = r(2, 3, 4)
    check(graph(op, [("x", x)], opset=opset, axis=axis), x)


def test_reshape_zero_and_minus_one_and_allowzero():
    x = r(2, 3, 4)
    check(graph("Reshape", [("x", x)], inits=[("s", np.array([0, -1], np.int64))]), x)
    check(graph("Reshape", [("x", x)], inits=[("s", np.array([-1, 0, 2], np.int64))]), x)
    z = np.zeros((0, 3), np.float32)
    em = ember.onnx.load(graph("Reshape", [("x", z)],
                               inits=[("s", np.array([3, 0], np.int64))], allowzero=1))
    assert em(z).shape == (3, 0)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1], [1000], [1], [1]), ([-1], [-1000], [2], [-1]), ([0, 3], [2, -1], [0, 2], [1, 2]),
    ([5], [0], [2], [-2])])
def test_slice(starts, ends, axes, steps):
    x = r(3, 4, 6)
    ints = lambda v: np.array(v, np.int64)  # noqa: E731
    check(graph("Slice", [("x", x)], inits=[("s", ints(starts)), ("e", ints(ends)),
                                             ("a", ints(axes)), ("p", ints(steps))]), x)


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_unsqueeze_axes_attr_and_input(opset):
    x = r(2, 1, 3)
    axes = np.array([1], np.int64)
    if opset < 13:
        check(graph("Squeeze", [("x", x)], opset=opset, axes=[1]), x)
        check(graph("Unsqueeze", [("x", x)], opset=opset, axes=[0, -1]), x)
    else:
        check(graph("Squeeze", [("x", x)], opset=opset, inits=[("a", axes)]), x)
        check(graph("Unsqueeze", [("x", x)], opset=opset,
                    inits=[("a", np.array([0, -1], np.int64))]), x)


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax"])
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("keep", [0, 1])
def test_reductions(op, opset, keep):
    x = r(2, 3, 4)
    axes_input = opset >= (13 if op == "ReduceSum" else 18)
    if axes_input:
        m = graph(op, [("x", x)], opset=opset, inits=[("a", np.array([-1, 0], np.int64))],
                  keepdims=keep)
    else:
        m = graph(op, [("x", x)], opset=opset, axes=[-1, 0], keepdims=keep)
    check(m, x)
    check(graph(op, [("x", x)], opset=opset, keepdims=keep), x)     # all axes


def test_gather_concat_cast_where_equal_expand():
    x = r(4, 5)
    idx = np.array([[0, -1], [2, 3]], np.int64)
    check(graph("Gather", [("x", x)], inits=[("i", idx)], axis=1), x)
    check(graph("Gather", [("x", x)], inits=[("i", np.array(-2, np.int64))], axis=0), x)
    check(graph("Concat", [("a", x), ("b", r(4, 2))], axis=-1), x, r(4, 2))
    check(graph("Cast", [("x", x)], to=TensorProto.INT64, out_type=TensorProto.INT64), x)
    c = x > 0
    check(graph("Where", [("c", c), ("a", x), ("b", r(4, 5))]), c, x, r(4, 5))
    check(graph("Equal", [("a", idx), ("b", idx.T.copy())], out_type=TensorProto.BOOL),
          idx, idx.T.copy())
    check(graph("Expand", [("x", r(4, 1))], inits=[("s", np.array([2, 1, 3], np.int64))]),
          r(4, 1))


def test_clip_attr_and_inputs_and_misc():
    x = r(3, 4) * 3
    check(graph("Clip", [("x", x)], opset=6, min=-1.0, max=0.5), x)
    lo, hi = np.array(-0.5, np.float32), np.array(1.0, np.float32)
    check(graph("Clip", [("x", x)], opset=13, inits=[("lo", lo), ("hi", hi)]), x)
    check(graph("Clip", [("x", x)], opset=13, inits=[("lo", None), ("hi", hi)]), x)
    check(graph("Split", [("x", x)], n_out=2, opset=13, axis=1,
                inits=[("s", np.array([1, 3], np.int64))]), x)
    check(graph("Pad", [("x", x)], inits=[("p", np.array([1, 0, 0, 2], np.int64)),
                                          ("v", np.array(0.5, np.float32))]), x)
    check(graph("ConstantOfShape", [("s", np.array([2, 3], np.int64))],
                value=numpy_helper.from_array(np.array([1.5], np.float32))),
          np.array([2, 3], np.int64))
    for op in ("Erf", "Sqrt", "Exp", "Log", "Abs", "Neg", "Sigmoid", "Tanh", "Relu"):
        v = np.abs(x) + 0.1 if op in ("Sqrt", "Log") else x
        check(graph(op, [("x", v)]), v)
    check(graph("Pow", [("a", np.abs(x))], inits=[("b", np.array(1.5, np.float32))]),
          np.abs(x))
    check(graph("Gelu", [("x", x)], opset=20, approximate="tanh"), x)


@pytest.mark.parametrize("op,attrs", [
    ("Elu", dict(alpha=0.3)), ("Selu", {}), ("Selu", dict(alpha=1.2, gamma=0.9)),
    ("LeakyRelu", {}), ("LeakyRelu", dict(alpha=0.3)), ("HardSigmoid", dict(alpha=0.3)),
    ("Softplus", {}), ("HardSwish", {}), ("Sin", {}), ("Cos", {}), ("Reciprocal", {}), ("Floor", {}), ("Identity", {}),
    ("Flatten", dict(axis=2)), ("Flatten", dict(axis=0)), ("Transpose", dict(perm=[2, 0, 1])),
    ("Transpose", {}), ("ReduceL2", dict(axes=[1])), ("ReduceMin", dict(axes=[0, 2])),
    ("ReduceProd", dict(axes=[1], keepdims=0)), ("ReduceLogSumExp", dict(axes=[2]))])
def test_more_unary(op, attrs):
    x = r(2, 3, 4) + (0.05 if op == "Reciprocal" else 0)
    opset = 17
    check(graph(op, [("x", x)], opset=opset, **attrs), x)


@pytest.mark.parametrize("op", ["Max", "Min", "Sum", "Mean"])
def test_variadic(op):
    a, b, c = r(2, 3), r(3), r(2, 1)
    check(graph(op, [("a", a), ("b", b), ("c", c)]), a, b, c)


def test_prelu_and_tile():
    x = r(2, 3, 4, 4)
    check(graph("PRelu", [("x", x)], inits=[("s", r(3, 1, 1))]), x)
    check(graph("Tile", [("x", x)], inits=[("t", np.array([1, 2, 1, 3], np.int64))]), x)


def test_resize_nearest_and_instance_norm():
    x = r(2, 3, 4, 5)
    empty = np.zeros(0, np.float32)
    check(graph("Resize", [("x", x)], inits=[("roi", empty),
                                             ("s", np.array([1, 1, 2, 3], np.float32))]), x)
    check(graph("Resize", [("x", x)], inits=[("roi", None), ("s", None),
                                             ("z", np.array([2, 3, 12, 5], np.int64))],
                mode="nearest", coordinate_transformation_mode="asymmetric",
                nearest_mode="floor"), x)
    check(graph("Upsample", [("x", x)], opset=9,
                inits=[("s", np.array([1, 1, 2, 2], np.float32))]), x)
    check(graph("InstanceNormalization", [("x", x)], inits=[("s", r(3)), ("b", r(3))],
                epsilon=1e-3), x)


@pytest.mark.parametrize("axis", [-1, 1])
def test_layer_normalization(axis):
    x = r(2, 3, 4)
    tail = x.shape[axis:] if axis >= 0 else x.shape[axis:]
    check(graph("LayerNormalization", [("x", x)], inits=[("s", r(*tail)), ("b", r(*tail))],
                axis=axis, epsilon=1e-3), x)


def _rnn_model(op, T, B, I, H, D, opset=17, with_lens=False, states=False, **attrs):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    w, rr, b = r(D, G * H, I) * 0.5, r(D, G * H, H) * 0.5, r(D, 2 * G * H) * 0.5
    lens = np.array([T, max(1, T - 2)] + [T] * (B - 2), np.int32)[:B]
    inits = [("W", w), ("R", rr), ("B", b), ("L", lens if with_lens else None)]
    if states:
        inits += [("h0", r(D, B, H))] + ([("c0", r(D, B, H))] if op == "LSTM" else [])
    n_out = 3 if op == "LSTM" else 2
    return graph(op, [("x", r(T, B, I))], n_out=n_out, inits=inits, hidden_size=H,
                 opset=opset, **attrs)


@pytest.mark.parametrize("op,attrs", [
    ("LSTM", dict(direction="bidirectional")), ("LSTM", dict(direction="reverse")),
    ("GRU", dict(direction="bidirectional", linear_before_reset=1)),
    ("GRU", dict(direction="bidirectional")),          # linear_before_reset=0: composed
    ("RNN", dict(direction="forward", activations=["Relu"])),
    ("RNN", dict(direction="bidirectional"))])
@pytest.mark.parametrize("with_lens", [False, True])
def test_recurrent_vs_onnxruntime(op, attrs, with_lens):
    """ONNX gate orders (LSTM iofc, GRU zrh), both GRU reset forms, sequence_lens (padded
    steps give 0, the reverse direction starts at each sequence's end) and initial states."""
    D = 2 if attrs["direction"] == "bidirectional" else 1
    m = _rnn_model(op, 5, 3, 4, 6, D, with_lens=with_lens, states=True, **attrs)
    check(m, r(5, 3, 4))


def test_lstm_layout_1():
    """layout=1 (batch-major X, Y, Y_h, Y_c; onnxruntime has no kernel for it): equal to the
    time-major model on the transposed input."""
    m = _rnn_model("LSTM", 5, 3, 4, 6, 2, opset=14, direction="bidirectional")
    mp = onnx.load_from_string(m)
    mp.graph.node[0].attribute.append(helper.make_attribute("layout", 1))
    mp.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", F, (3, 5, 4)))
    x = r(3, 5, 4)
    y, yh, yc = ember.onnx.load(mp)(x)
    ry, ryh, ryc = run_ort(m, x.transpose(1, 0, 2))
    assert_close(y.detach().numpy(), ry.transpose(2, 0, 1, 3))
    assert_close(yh.detach().numpy(), ryh.transpose(1, 0, 2))
    assert_close(yc.detach().numpy(), ryc.transpose(1, 0, 2))
