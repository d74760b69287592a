"""ember.onnx.load's contract: what it accepts, how inputs are passed and checked, which
initializers become parameters, and the load-time error for an operator ember lacks."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install 'ember[onnx]')")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import ember  # noqa: E402
import ember.onnx  # noqa: E402

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs,
                          [numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _linear_model():
    """y = x W^T + b, reshaped by an int64 shape initializer, plus a second output."""
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 4)).astype(np.float32), np.ones(3, np.float32)
    nodes = [helper.make_node("Gemm", ["x", "fc.w", "fc.b"], ["h"], name="fc", transB=1),
             helper.make_node("Reshape", ["h", "shape"], ["y"], name="flat"),
             helper.make_node("Add", ["y", "z"], ["s"], name="plus")]
    inputs = [helper.make_tensor_value_info("x", F, ["N", 4]),
              helper.make_tensor_value_info("z", F, [1])]
    outputs = [helper.make_tensor_value_info("y", F, None),
               helper.make_tensor_value_info("s", F, None)]
    inits = [("fc.w", w), ("fc.b", b), ("shape", np.array([-1], np.int64))]
    return _model(nodes, inputs, outputs, inits), w, b


def test_accepts_path_bytes_stream_and_modelproto(tmp_path):
    m, w, b = _linear_model()
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    want = (x @ w.T + b).reshape(-1)
    for src in (m, m.SerializeToString(), str(path), path, io.BytesIO(m.SerializeToString()),
                open(path, "rb")):
        em = ember.onnx.load(src)
        y, s = em(x, np.zeros(1, np.float32))
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-6)
    assert isinstance(em, ember.nn.Module)


def test_parameters_constants_and_state_dict():
    m, w, _ = _linear_model()
    em = ember.onnx.load(m)
    assert list(em.state_dict()) == ["fc.w", "fc.b"]            # the int64 shape is no parameter
    assert em.onnx_names == {"fc.w": "fc.w", "fc.b": "fc.b"}
    np.testing.assert_array_equal(em.fc.w.data, w)
    em.load_state_dict({"fc.w": np.zeros((3, 4), np.float32), "fc.b": np.ones(3, np.float32)})
    y, _ = em(np.ones((2, 4), np.float32), np.zeros(1, np.float32))
    np.testing.assert_array_equal(y.detach().numpy(), np.ones(6, np.float32))


def test_odd_initializer_names_are_sanitized():
    nodes = [helper.make_node("Mul", ["x", "onnx::Mul_7"], ["a"]),
             helper.make_node("Add", ["a", "/blk/w:0"], ["y"])]
    m = _model(nodes, [helper.make_tensor_value_info("x", F, [2])],
               [helper.make_tensor_value_info("y", F, [2])],
               [("onnx::Mul_7", np.full(2, 2, np.float32)), ("/blk/w:0", np.ones(2, np.float32))])
    em = ember.onnx.load(m)
    names = [n for n, _ in em.named_parameters()]
    assert all(n.replace(".", "").replace("_", "").isalnum() for n in names), names
    assert sorted(em.onnx_names.values()) == ["/blk/w:0", "onnx::Mul_7"]
    np.testing.assert_array_equal(em(np.ones(2, np.float32)).detach().numpy(), [3, 3])


def test_inputs_by_keyword_and_clear_errors():
    m, w, b = _linear_model()
    em = ember.onnx.load(m)
    x = np.ones((2, 4), np.float32)
    y1, _ = em(x, np.zeros(1, np.float32))
    y2, _ = em(z=np.zeros(1, np.float32), x=x)
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    with pytest.raises(TypeError, match="missing input"):
        em(x)
    with pytest.raises(TypeError, match="unknown input 'q'"):
        em(x, q=1)
    with pytest.raises(ValueError, match=r"input 'x' must have shape \(N, 4\), got \(2, 5\)"):
        em(np.ones((2, 5), np.float32), np.zeros(1, np.float32))
    y3, _ = em(x.astype(np.float64), np.zeros(1, np.float32))     # cast to the declared float32
    assert y3.dtype == np.float32


def test_unsupported_operator_is_a_load_time_error():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="r"),
             helper.make_node("NonMaxSuppression", ["a", "a"], ["y"], name="nms_1")]
    m = _model(nodes, [helper.make_tensor_value_info("x", F, [2])],
               [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    with pytest.raises(ember.onnx.UnsupportedOperatorError) as e:
        ember.onnx.load(m)
    msg = str(e.value)
    assert "NonMaxSuppression" in msg and "'nms_1'" in msg
    assert "supported operators:" in msg and "Conv" in msg and "LSTM" in msg
    assert e.value.op_type == "NonMaxSuppression" and e.value.node_name == "nms_1"
    assert isinstance(e.value, NotImplementedError)
    # a custom domain is named too
    node = helper.make_node("Relu", ["x"], ["y"], name="custom", domain="com.example")
    m2 = _model([node], [helper.make_tensor_value_info("x", F, [2])],
                [helper.make_tensor_value_info("y", F, None)])
    m2.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="com.example.Relu"):
        ember.onnx.load(m2)


def test_unsupported_attribute_form_is_a_load_time_error():
    w, r = np.zeros((1, 8, 3), np.float32), np.zeros((1, 8, 2), np.float32)
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="lstm0", hidden_size=2,
                            clip=3.0)
    m = _model([node], [helper.make_tensor_value_info("x", F, [4, 1, 3])],
               [helper.make_tensor_value_info("y", F, None)], [("W", w), ("R", r)])
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'lstm0'.*clip"):
        ember.onnx.load(m)
    node = helper.make_node("Pad", ["x", "p"], ["y"], name="refl", mode="reflect")
    m = _model([node], [helper.make_tensor_value_info("x", F, [4])],
               [helper.make_tensor_value_info("y", F, None)], [("p", np.array([1, 1]))])
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'refl'.*reflect"):
        ember.onnx.load(m)


def test_bad_sources():
    with pytest.raises(FileNotFoundError, match="no ONNX file at"):
        ember.onnx.load("/nonexistent/model.onnx")
    with pytest.raises(ember.onnx.OnnxImportError, match="not an ONNX model|no ONNX graph"):
        ember.onnx.load(b"\x00\x01garbage\xff")
    with pytest.raises(TypeError, match="expected a path, bytes"):
        ember.onnx.load(12)
    n = helper.make_node("Relu", ["nope"], ["y"], name="r0")
    m = _model([n], [helper.make_tensor_value_info("x", F, [2])],
               [helper.make_tensor_value_info("y", F, None)])
    with pytest.raises(ember.onnx.OnnxImportError, match="'r0' reads 'nope'"):
        ember.onnx.load(m)


def test_runtime_errors_name_the_node():
    n = helper.make_node("Add", ["x", "c"], ["y"], name="the_add")
    m = _model([n], [helper.make_tensor_value_info("x", F, None)],
               [helper.make_tensor_value_info("y", F, None)], [("c", np.ones(3, np.float32))])
    em = ember.onnx.load(m)
    with pytest.raises(ValueError, match="the_add"):
        em(np.ones(4, np.float32))


def test_shape_subgraph_runs_at_any_batch():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape (PyTorch's x.view(x.size(0), -1))
    is evaluated on each call's input."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    m = _model(nodes, [helper.make_tensor_value_info("x", F, ["N", 2, 3])],
               [helper.make_tensor_value_info("y", F, None)],
               [("zero", np.array(0, np.int64)), ("ax", np.array([0], np.int64)),
                ("minus1", np.array([-1], np.int64))])
    em = ember.onnx.load(m)
    for n in (1, 5):
        assert em(np.ones((n, 2, 3), np.float32)).shape == (n, 6)


def test_import_ember_does_not_import_onnx():
    code = "import sys, ember, ember.onnx; assert 'onnx' not in sys.modules, 'onnx imported'"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_without_onnx_the_error_says_what_to_install():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import ember.onnx\n"
            "try:\n    ember.onnx.load(b'x')\n"
            "except ImportError as e:\n    assert \"pip install 'ember[onnx]'\" in str(e), e\n"
            "else:\n    raise SystemExit('no ImportError')\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
