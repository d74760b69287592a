"""ember.onnx.export on whole models: onnx.checker passes and onnxruntime gives ember's
outputs (1e-5), for the README MLP, the seed CNNs, a LeNet, a residual block with batch norm,
activations, pooling variants, Keras-style models and a dynamic batch."""
import numpy as np
import pytest

import ember
import ember.nn as nn

from ._export_util import export_and_compare, onnx, op_types, session


def n_params(model):
    return sum(p.data.size for p in model.parameters())


def test_readme_mlp_names_and_values():
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 10))
    assert n_params(model) == 407_050
    model.train()
    proto = export_and_compare(model, ember.randn(2, 784))
    assert op_types(proto) == ["Gemm", "Relu", "Gemm"]          # eval: no dropout node
    assert sorted(i.name for i in proto.graph.initializer) == \
        ["0.bias", "0.weight", "3.bias", "3.weight"]
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.ir_version == 8 and proto.opset_import[0].version == 17
    w = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(w["0.weight"], model[0].weight.data)
    assert model.training and model[2].training                 # flags restored


def _seed_cnn():
    # issue 12's seed CNN on 28x28 images: conv5x5x32 'same'-pool2-conv5x5x64 'same'-pool2-
    # fc1024-fc10
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(),
                         nn.Linear(1024, 10))


def test_seed_cnn_dynamic_batch():
    model = _seed_cnn()
    assert n_params(model) == 3_274_634
    proto = export_and_compare(model, ember.randn(2, 1, 28, 28),
                               run_args=ember.randn(5, 1, 28, 28),
                               dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa
    assert dims(proto.graph.input[0]) == ["batch", 1, 28, 28]
    assert dims(proto.graph.output[0]) == ["batch", 10]
    assert op_types(proto).count("Conv") == 2 and "Reshape" in op_types(proto)


def test_summary_cnn_164682_params_even_kernel_same_padding():
    # the 164,682-parameter CNN of the summary test: a 2x2 'same' conv pads asymmetrically
    model = nn.Sequential(nn.Conv2d(3, 64, 2, padding="same"), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16384, 10))
    assert n_params(model) == 164_682
    proto = export_and_compare(model, ember.randn(2, 3, 32, 32))
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    pads = next(a for a in conv.attribute if a.name == "pads")
    assert list(pads.ints) == [0, 0, 1, 1]                      # top, left, bottom, right


def test_caffe_lenet():
    model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(800, 500), nn.ReLU(),
                          nn.Linear(500, 10))
    assert n_params(model) == 431_080
    export_and_compare(model, ember.randn(3, 1, 28, 28))


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(y)) + x).relu()


def test_residual_block_batch_norm_running_stats():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), ResBlock(8), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 4))
    model.train()
    for _ in range(3):                  # non-trivial running statistics
        model(ember.randn(4, 3, 8, 8) * 2 + 1)
    rng = np.random.default_rng(0)
    for bn in (model[1].bn1, model[1].bn2):
        bn.weight.data[:] = rng.uniform(0.5, 1.5, 8)
        bn.bias.data[:] = rng.normal(size=8)
    assert not np.allclose(model[1].bn1.running_var.data, 1)
    proto = export_and_compare(model, ember.randn(2, 3, 8, 8),
                               run_args=ember.randn(3, 3, 8, 8),
                               dynamic_axes={"input": [0]})
    types = op_types(proto)
    assert types.count("BatchNormalization") == 2 and "Add" in types
    names = {i.name for i in proto.graph.initializer}
    assert {"1.bn1.running_mean", "1.bn1.running_var", "1.bn2.weight"} <= names
    assert model.training and model[1].bn1.training


def test_batch_norm1d_layer_norm_and_no_running_stats():
    model = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.LayerNorm(5),
                          nn.BatchNorm1d(5, track_running_stats=False, affine=False))
    model[1].running_mean.data[:] = np.arange(5)
    model[1].running_var.data[:] = np.arange(1, 6)
    proto = export_and_compare(model, ember.randn(4, 6))
    assert "BatchNormalization" in op_types(proto) and "LayerNormalization" in op_types(proto)


@pytest.mark.parametrize("act", [nn.PReLU(), nn.PReLU(4, init=0.1), nn.ELU(0.7),
                                 nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Tanh(), nn.GELU(),
                                 nn.GELU("tanh"), nn.Softplus(), nn.Softplus(beta=2.0),
                                 nn.Softmax(dim=1), nn.LogSoftmax(dim=1)],
                         ids=lambda m: type(m).__name__)
def test_activations(act):
    model = nn.Sequential(nn.Conv2d(2, 4, 3), act, nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
                          nn.Softmax(dim=-1))
    if isinstance(act, nn.PReLU):
        act.weight.data[:] = np.linspace(-0.5, 0.5, act.weight.data.size)
    proto = export_and_compare(model, ember.randn(2, 2, 6, 6) * 2)
    if isinstance(act, nn.PReLU):
        assert "PRelu" in op_types(proto)


def test_pooling_and_conv_options():
    model = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2),
                          nn.MaxPool2d(3, stride=2, padding=1),
                          nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                          nn.AvgPool2d(2, stride=1, padding=1), nn.AvgPool2d(2))
    export_and_compare(model, ember.randn(2, 4, 17, 15))


class Mixed(nn.Module):
    """Elementwise arithmetic, reductions, shapes and indexing in one forward."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x, idx):
        e = self.fc(self.emb(idx)).mean(1)                        # (B, 4)
        a = (x * 2 - e) / (x.abs() + 1) + x ** 2
        b = a.exp().log() + (a * a + 1).sqrt() - a.max(1)[0].reshape(-1, 1)
        c = ember.cat([b, a.sum(1, keepdim=True), a.amax(-1, keepdim=True),
                       a.var(1, keepdim=True), a.std(1, keepdim=True)], 1)   # (B, 8)
        d = ember.stack([c, c.clip(-1, 1)], 2).permute(0, 2, 1)      # (B, 2, 8)
        f = ember.where(d > 0, d, d * 0.1)[:, 1, 2:6] + d[..., 0:1].squeeze(-1)[:, None, 0]
        g = d.transpose(1, 2).reshape(d.shape[0], -1)[:, ::3]
        return f.sum(-1), g * e.mean(), x.max(1)[1], (a.logsumexp(1), nn.functional.softmax(a, 1).prod(1))


def test_mixed_ops_several_inputs_and_outputs():
    x = ember.randn(3, 4)
    idx = ember.tensor(np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
    proto = export_and_compare(Mixed(), (x, idx), input_names=["x"],
                               output_names=["f", "g"])
    assert [i.name for i in proto.graph.input] == ["x", "input_1"]
    assert [o.name for o in proto.graph.output] == ["f", "g", "output_2", "output_3",
                                                    "output_4"]
    assert "Gather" in op_types(proto)


def test_mixed_ops_dynamic_batch():
    x, idx = ember.randn(2, 4), ember.tensor(np.array([[1, 2, 3], [4, 5, 6]]))
    x5 = ember.randn(5, 4)
    idx5 = ember.tensor(np.arange(15).reshape(5, 3) % 10)
    export_and_compare(Mixed(), (x, idx), run_args=(x5, idx5),
                       dynamic_axes={"input_0": {0: "n"}, "input_1": {0: "n"}})


def test_keras_sequential_dynamic_batch():
    from ember.keras import layers, models
    model = models.Sequential([
        layers.Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 2)),
        layers.BatchNormalization(), layers.MaxPooling2D(2), layers.Flatten(),
        layers.Dropout(0.3), layers.Dense(16, activation="relu"),
        layers.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    x = np.random.default_rng(1).normal(size=(6, 8, 8, 2)).astype(np.float32)
    model.fit(x, np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]], epochs=1, batch_size=3,
              verbose=0)
    proto = export_and_compare(model, ember.tensor(x[:2]), run_args=ember.tensor(x),
                               dynamic_axes={"input": {0: "batch"}})
    assert "BatchNormalization" in op_types(proto)
    out = proto.graph.output[0].type.tensor_type.shape.dim     # the input's symbol carries over
    assert [d.dim_param or d.dim_value for d in out] == ["batch", 3]


def test_ember_model_subclass_and_path_output(tmp_path):
    class Net(ember.Model):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x).tanh()

    net = Net()
    path = tmp_path / "net.onnx"
    proto = ember.onnx.export(net, ember.randn(2, 3), str(path))
    assert isinstance(proto, onnx.ModelProto)
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]   # no temporary left over
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    got = session(onnx.load(str(path))).run(None, {"input": x})[0]
    net.eval()
    np.testing.assert_allclose(got, net(ember.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    ember.onnx.export(net, ember.randn(2, 3), path)              # a Path replaces the file
    assert [p.name for p in tmp_path.iterdir()] == ["net.onnx"]


def test_returning_an_input_a_parameter_and_a_dict():
    class Echo(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones(3, np.float32))

        def forward(self, x):
            return {"same": x, "w": self.w, "y": x * self.w, "none": None}

    proto = export_and_compare(Echo(), ember.randn(2, 3))
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]


def test_model_on_a_device_exports_host_weights():
    import ember.testing.fake_device  # noqa: F401  (registers the "fake" device type)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 2))
    x = ember.randn(2, 1, 4, 4)
    model.eval()
    want = model(x).detach().numpy()
    model.to("fake")
    proto = ember.onnx.export(model, x.to("fake"), None, dynamic_axes={"input": [0]})
    got = session(proto).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert model[0].weight.device.type == "fake"
