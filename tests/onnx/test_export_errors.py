"""What ember.onnx.export refuses, and how it says so; its arguments and side effects."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd.function import Function

from ._export_util import export_and_compare, onnx, op_types


class Mystery(Function):
    """A primitive the exporter has no ONNX rule for."""

    @staticmethod
    def forward(ctx, a):
        return a * 3

    @staticmethod
    def backward(ctx, g):
        return g * 3


class Inner(nn.Module):
    def forward(self, x):
        return Mystery.apply(x)


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.block = nn.Sequential()
        self.block.inner = Inner()

    def forward(self, x):
        return self.block(self.fc(x))


def test_unsupported_op_names_op_and_layer_and_restores_flags(tmp_path):
    model = Outer()
    model.train()
    model.fc.eval()
    target = tmp_path / "m.onnx"
    with pytest.raises(ember.onnx.ExportError) as e:
        ember.onnx.export(model, ember.randn(2, 3), target)
    err = e.value
    assert isinstance(err, RuntimeError)
    assert err.op == "Mystery" and err.layer == "block.inner"
    assert "'Mystery'" in str(err) and "'block.inner' (Inner)" in str(err)
    assert model.training and model.block.inner.training and not model.fc.training
    assert list(tmp_path.iterdir()) == []                   # nothing written


def test_loss_in_forward_is_named_as_a_loss():
    class WithLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            return nn.functional.cross_entropy(self.fc(x), np.array([0, 1]))

    with pytest.raises(ember.onnx.ExportError, match="SoftmaxCrossEntropy.*a loss"):
        ember.onnx.export(WithLoss(), ember.randn(2, 3), None)


def test_training_form_dropout_is_refused():
    class Always(nn.Module):
        def forward(self, x):
            return nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(ember.onnx.ExportError, match="DropoutMask.*random draw"):
        ember.onnx.export(Always(), ember.randn(2, 3), None)


def test_baked_batch_sized_constant_with_dynamic_axes():
    class Baked(nn.Module):
        def forward(self, x):
            return x + ember.zeros(x.shape[0], 3)

    m = Baked()
    export_and_compare(m, ember.randn(2, 3))                # fixed shapes: fine
    with pytest.raises(ember.onnx.ExportError, match="follows a dynamic axis"):
        ember.onnx.export(m, ember.randn(2, 3), None, dynamic_axes={"input": [0]})


def test_value_read_outside_ops_with_dynamic_axes():
    class Count(nn.Module):
        def forward(self, x):
            return x.sum() / len(x)

    with pytest.raises(ember.onnx.ExportError, match="outside ember's ops"):
        ember.onnx.export(Count(), ember.randn(2, 3), None, dynamic_axes={"input": [0]})


def test_input_values_read_outside_ops():
    class Peek(nn.Module):
        def forward(self, x):
            return x + ember.Tensor(x.data)

    with pytest.raises(ember.onnx.ExportError, match="values of input 'input' outside"):
        ember.onnx.export(Peek(), ember.randn(2, 3), None)

    class Ignore(nn.Module):
        def forward(self, x, y):
            return x * 2

    with pytest.warns(UserWarning, match="input 'input_1' is not read"):
        ember.onnx.export(Ignore(), (ember.randn(2, 3), ember.randn(2)), None)


def test_python_branch_on_the_batch_size():
    class Branch(nn.Module):
        def forward(self, x):
            return x.exp() if x.shape[0] < 3 else x.abs()

    with pytest.raises(ember.onnx.ExportError, match="different ops"):
        ember.onnx.export(Branch(), ember.randn(2, 3), None, dynamic_axes={"input": [0]})


def test_non_tensor_output():
    class Shape(nn.Module):
        def forward(self, x):
            return x * 2, x.shape[0]

    with pytest.raises(ember.onnx.ExportError, match=r"output\[1\] is a int"):
        ember.onnx.export(Shape(), ember.randn(2, 3), None)


def test_bad_arguments():
    m = nn.Linear(3, 2)
    x = ember.randn(2, 3)
    with pytest.raises(ValueError, match="neither inputs"):
        ember.onnx.export(m, x, None, dynamic_axes={"x": [0]})
    with pytest.raises(ValueError, match="out of range"):
        ember.onnx.export(m, x, None, dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match="2 input names"):
        ember.onnx.export(m, x, None, input_names=["a", "b"])
    with pytest.raises(ValueError, match="opset_version 11"):
        ember.onnx.export(m, x, None, opset_version=11)
    with pytest.raises(TypeError, match="path or a binary file"):
        ember.onnx.export(m, x, 42)
    with pytest.raises(ValueError, match="export_params=False"):
        ember.onnx.export(m, x, None, export_params=False)
    with pytest.raises(TypeError):
        ember.onnx.export(m, x, None, training=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ember.onnx.export(m, x, "/nonexistent-dir/m.onnx")


def test_opset_18_and_numpy_input():
    class Red(nn.Module):
        def forward(self, x):
            return x.mean(1) + x.amax(1) - x.amin(1) + x.sum(1)

    proto = export_and_compare(Red(), (np.arange(6, dtype=np.float32).reshape(2, 3),),
                               opset_version=18)
    assert proto.opset_import[0].version == 18
    assert "ReduceMean" in op_types(proto)


def test_binary_stream_and_keyword_args():
    class Kw(nn.Module):
        def forward(self, x, scale=None):
            return x * scale

    buf = io.BytesIO()
    x, s = ember.randn(2, 3), ember.randn(1, 3)
    ember.onnx.export(Kw(), (x, {"scale": s}), buf)
    m = onnx.load_from_string(buf.getvalue())
    assert [i.name for i in m.graph.input] == ["input_0", "input_1"]


def _run(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_import_ember_does_not_import_onnx_and_missing_onnx_is_explained():
    r = _run("import sys, ember, ember.onnx; ember.onnx.ExportError; "
             "assert 'onnx' not in sys.modules, 'onnx imported'")
    assert r.returncode == 0, r.stderr
    r = _run("import sys; sys.modules['onnx'] = None\n"
             "import ember, ember.nn as nn\n"
             "ember.onnx.export(nn.Linear(2, 2), ember.randn(1, 2), None)")
    assert r.returncode != 0
    assert "pip install 'ember[onnx]'" in r.stderr and "ModuleNotFoundError" not in r.stderr
