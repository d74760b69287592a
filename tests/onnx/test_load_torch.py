"""ember.onnx.load on models exported by PyTorch's legacy (TorchScript) exporter
(``torch.onnx.export(..., dynamo=False)``, which needs no onnxscript): outputs equal PyTorch's
to 1e-5 at a batch size other than the export's, gradients equal PyTorch's, fine-tuning works."""
import numpy as np
import pytest

pytest.importorskip("onnx", reason="onnx not installed (pip install 'ember[onnx]')")
torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install -e .[ref])")

import ember  # noqa: E402
import ember.onnx  # noqa: E402
from tests.onnx._util import assert_close, export_torch, run_ort  # noqa: E402


@pytest.fixture(autouse=True)
def _torch_seed():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # tiny models: a second thread only waits on a busy machine
    yield
    torch.set_num_threads(threads)


def _mlp():
    return torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16),
                               torch.nn.Tanh(), torch.nn.Linear(16, 4)).eval()


class CNN(torch.nn.Module):
    """conv/BN/relu/max-pool (ceil_mode), a grouped strided conv, padded avg-pool, flatten by
    ``view(x.size(0), -1)`` (Shape -> Gather -> Concat -> Reshape in the export)."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.c2 = torch.nn.Conv2d(4, 6, 3, stride=2, groups=2)
        self.fc = torch.nn.Linear(96, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.c1(x)))
        x = torch.nn.functional.max_pool2d(x, 2, ceil_mode=True)
        x = torch.nn.functional.avg_pool2d(torch.relu(self.c2(x)), 2, stride=1, padding=1)
        return self.fc(x.view(x.size(0), -1))


def _randomize_bn(bn):
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)


class ResBlock(torch.nn.Module):
    def __init__(self, c=4):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)
        self.head = torch.nn.Linear(c, 3)
        for bn in (self.bn1, self.bn2):
            _randomize_bn(bn)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)) + x)           # the residual add
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1)    # GlobalAveragePool
        return self.head(torch.flatten(y, 1))


class Activations(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 6)
        self.prelu = torch.nn.PReLU(6)
        self.prelu1 = torch.nn.PReLU()
        with torch.no_grad():
            self.prelu.weight.uniform_(0.05, 0.5)

    def forward(self, x):
        F = torch.nn.functional
        x = self.prelu(self.lin(x))
        a = F.elu(x, 0.7) + F.leaky_relu(x, 0.2) + F.selu(x) + self.prelu1(x)
        a = a + F.gelu(x) + F.gelu(x, approximate="tanh") + torch.sigmoid(x) * torch.tanh(x)
        return torch.softmax(a, 1), torch.log_softmax(a, -1)


def test_mlp_outputs_state_dict_and_onnxruntime():
    m = _mlp()
    b = export_torch(torch, m, torch.randn(2, 20))
    em = ember.onnx.load(b)
    assert list(em.state_dict()) == list(m.state_dict())       # PyTorch's own keys
    assert all(isinstance(p, ember.nn.Parameter) for p in em.parameters())
    x = torch.randn(7, 20)
    y = em(x.numpy())
    assert_close(y, m(x))
    assert_close(y, run_ort(b, x.numpy())[0])


class TextModel(torch.nn.Module):
    """Embedding (Gather on a parameter with int64 indices), Conv1d, LayerNorm."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(11, 6)
        self.conv = torch.nn.Conv1d(6, 8, 3, padding=1)
        self.norm = torch.nn.LayerNorm(8)
        self.out = torch.nn.Linear(8, 2)

    def forward(self, idx):
        h = self.conv(self.emb(idx).transpose(1, 2)).transpose(1, 2)
        return self.out(self.norm(torch.relu(h)).mean(1))


@pytest.mark.parametrize("opset", [17, 18])
def test_embedding_conv1d_layernorm(opset):
    """opset 18 moves ReduceMean's axes from an attribute to an input."""
    m = TextModel().eval()
    idx = torch.randint(0, 11, (2, 5))
    b = export_torch(torch, m, idx, opset=opset)
    em = ember.onnx.load(b)
    idx2 = torch.randint(0, 11, (4, 5))
    assert_close(em(idx2.numpy()), m(idx2))
    y = em(idx2.numpy())
    y.sum().backward()
    assert em.emb.weight.grad is not None and em.emb.weight.grad.shape == (11, 6)


def test_initializers_listed_as_inputs():
    """Old-style exports list every initializer as a graph input too; they are not inputs."""
    m = _mlp()
    b = export_torch(torch, m, torch.randn(2, 20), keep_initializers_as_inputs=True)
    em = ember.onnx.load(b)
    assert em.input_names == ["in0"]
    x = torch.randn(3, 20)
    assert_close(em(x.numpy()), m(x))


@pytest.mark.parametrize("mode", ["EVAL", "PRESERVE"])
def test_cnn_dynamic_batch(mode):
    """EVAL folds the batch norm into the conv; PRESERVE keeps a BatchNormalization node,
    whose running statistics are loaded as buffers, not parameters."""
    m = CNN()
    _randomize_bn(m.bn)
    m.eval()
    b = export_torch(torch, m, torch.randn(2, 1, 13, 13),
                     training=getattr(torch.onnx.TrainingMode, mode))
    em = ember.onnx.load(b)
    if mode == "PRESERVE":
        assert {n for n, _ in em.named_buffers()} == {"bn.running_mean", "bn.running_var"}
        assert "bn.weight" in dict(em.named_parameters())
    x = torch.randn(5, 1, 13, 13)
    assert_close(em(x.numpy()), m(x))
    assert_close(em(x[:1].numpy()), m(x[:1]))                   # batch 1 too


def test_untrained_batchnorm_statistics_are_own_buffers():
    """A fresh BN has weight == running_var and bias == running_mean; PyTorch's exporter then
    writes running_var = Identity(weight). The loaded model keeps separate buffers under
    PyTorch's names, and training the weight leaves the statistics alone."""
    m = CNN().eval()
    b = export_torch(torch, m, torch.randn(2, 1, 13, 13),
                     training=torch.onnx.TrainingMode.PRESERVE)
    ops = [n.op_type for n in __import__("onnx").load_from_string(b).graph.node]
    assert "Identity" in ops
    em = ember.onnx.load(b)
    assert {n for n, _ in em.named_buffers()} == {"bn.running_mean", "bn.running_var"}
    assert sorted(em.state_dict()) == sorted(k for k in m.state_dict() if "num_batches" not in k)
    x = np.random.default_rng(0).standard_normal((4, 1, 13, 13)).astype(np.float32)
    em(x).sum().backward()
    with ember.no_grad():
        em.bn.weight += 1.0
    np.testing.assert_array_equal(em.bn.running_var.data, np.ones(4, np.float32))
    m.bn.weight.data += 1.0
    assert_close(em(x), m(torch.tensor(x)))


def test_resnet_block_forward_and_gradients():
    m = ResBlock().eval()
    b = export_torch(torch, m, torch.randn(2, 4, 6, 6), training=torch.onnx.TrainingMode.PRESERVE)
    em = ember.onnx.load(b)
    x = torch.randn(3, 4, 6, 6, requires_grad=True)
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    y, ty = em(ex), m(x)
    assert_close(y, ty)
    g = np.random.default_rng(0).standard_normal(ty.shape).astype(np.float32)
    y.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    assert_close(ex.grad, x.grad)
    tparams = dict(m.named_parameters())
    for name, p in em.named_parameters():
        assert_close(p.grad, tparams[name].grad, atol=1e-4)


@pytest.mark.parametrize("opset", [11, 13, 20])
def test_activations(opset):
    """PReLU (per channel and shared), ELU, LeakyReLU, SELU, GELU (Erf before opset 20, Gelu
    from 20), Softmax/LogSoftmax with the < 13 and >= 13 axis rules."""
    m = Activations().eval()
    b = export_torch(torch, m, torch.randn(3, 6), opset=opset, output_names=["p", "lp"])
    em = ember.onnx.load(b)
    x = torch.randn(5, 6) * 2
    outs = em(x.numpy())
    assert isinstance(outs, tuple) and len(outs) == 2
    for o, r in zip(outs, m(x)):
        assert_close(o, r)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_bidirectional(kind):
    r = getattr(torch.nn, kind)(5, 7, num_layers=2, bidirectional=True, batch_first=True).eval()
    names = ["y", "h", "c"] if kind == "LSTM" else ["y", "h"]
    b = export_torch(torch, r, torch.randn(3, 4, 5), output_names=names)
    em = ember.onnx.load(b)
    ops = {n.op_type for n in __import__("onnx").load_from_string(b).graph.node}
    assert kind in ops
    x = torch.randn(2, 4, 5)
    out, state = r(x)
    ref = (out,) + (tuple(state) if kind == "LSTM" else (state,))
    got = em(x.numpy())
    assert len(got) == len(ref)
    for o, t in zip(got, ref):
        assert_close(o, t)


def test_recurrent_gradients_match_torch():
    r = torch.nn.LSTM(3, 4, bidirectional=True).eval()
    b = export_torch(torch, r, torch.randn(5, 2, 3), dynamic_batch=False, output_names=["y"])
    em = ember.onnx.load(b)
    x = torch.randn(5, 2, 3, requires_grad=True)
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    y = em(ex)
    y = y[0] if isinstance(y, tuple) else y
    ty = r(x)[0]
    assert_close(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(ex.grad, x.grad)
    # the exporter concatenates PyTorch's per-direction weights into ONNX W / R / B
    # initializers (gate order i, o, f, c): compare the gradient of W's forward half
    w = [p for k, p in em.named_parameters() if p.shape == (2, 16, 3)][0]
    perm = np.concatenate([np.arange(b * 4, b * 4 + 4) for b in (0, 3, 1, 2)])  # ifgo -> iofc
    assert_close(w.grad.data[0], r.weight_ih_l0.grad.numpy()[perm], atol=1e-4)


def test_finetuning_reduces_loss_as_in_torch():
    """SGD on the imported CNN (train mode: batch-statistics BN) reduces the loss, step for
    step as the same SGD on the PyTorch original."""
    import copy
    m = CNN()
    _randomize_bn(m.bn)
    m.eval()
    em = ember.onnx.load(export_torch(torch, m, torch.randn(2, 1, 13, 13),
                                      training=torch.onnx.TrainingMode.PRESERVE))
    tm = copy.deepcopy(m).train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 13, 13)).astype(np.float32)
    y = rng.integers(0, 5, 16)
    opt = ember.optim.SGD(em.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    em.train()
    losses, tlosses = [], []
    for _ in range(10):
        loss = ember.nn.functional.cross_entropy(em(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        tloss = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        tlosses.append(tloss.item())
    assert losses[-1] < 0.9 * losses[0], losses
    np.testing.assert_allclose(losses, tlosses, rtol=1e-4, atol=1e-5)
    before = em.bn.running_mean.data.copy()
    em.eval()
    em(x)                                    # eval: running statistics untouched
    np.testing.assert_array_equal(em.bn.running_mean.data, before)
    assert_close(em.bn.running_mean, tm.bn.running_mean)


def test_train_mode_batchnorm_and_dropout_follow_torch():
    """train(): BatchNormalization uses batch statistics and updates the running ones as
    PyTorch's BatchNorm; Dropout drops. eval(): running statistics, dropout off."""
    m = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                            torch.nn.Dropout(0.5), torch.nn.Linear(6, 2))
    _randomize_bn(m[1])
    m.eval()
    b = export_torch(torch, m, torch.randn(4, 8), training=torch.onnx.TrainingMode.PRESERVE)
    em = ember.onnx.load(b)
    assert not em.training
    x = torch.randn(10, 8)
    assert_close(em(x.numpy()), m(x))
    # train mode without the dropout (p=0 in both) to compare batch-norm training exactly
    m2 = torch.nn.Sequential(*list(m)[:3], torch.nn.Linear(6, 2))
    m2[3].load_state_dict(m[4].state_dict())
    b2 = export_torch(torch, m2.eval(), torch.randn(4, 8),
                      training=torch.onnx.TrainingMode.PRESERVE)
    em2 = ember.onnx.load(b2)
    em2.train()
    m2.train()
    assert_close(em2(x.numpy()), m2(x))
    assert_close(em2.state_dict()["1.running_mean"], m2[1].running_mean)
    assert_close(em2.state_dict()["1.running_var"], m2[1].running_var)
    # dropout (exported from train mode: eval exports drop the node): active in train(),
    # identity in eval(), whatever training_mode the exporter baked in
    drop = torch.nn.Sequential(torch.nn.Linear(8, 400), torch.nn.Dropout(0.5)).train()
    b3 = export_torch(torch, drop, torch.randn(2, 8), training=torch.onnx.TrainingMode.PRESERVE)
    assert "Dropout" in {n.op_type for n in __import__("onnx").load_from_string(b3).graph.node}
    ed = ember.onnx.load(b3)
    drop.eval()
    xs = torch.randn(3, 8)
    assert_close(ed(xs.numpy()), drop(xs))
    ed.train()
    yt = ed(xs.numpy()).detach().numpy()
    ref = drop(xs).detach().numpy()
    zero = yt == 0
    assert 0.3 < zero.mean() < 0.7
    np.testing.assert_allclose(yt[~zero], 2 * ref[~zero], rtol=1e-5, atol=1e-6)


def test_training_mode_export_follows_the_module_mode():
    """TrainingMode.TRAINING writes BatchNormalization(training_mode=1) with the running
    statistics as extra outputs; the loaded module's eval()/train() still decide."""
    import copy
    m = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                            torch.nn.Linear(6, 2))
    _randomize_bn(m[1])
    m.train()
    b = export_torch(torch, m, torch.randn(4, 8), training=torch.onnx.TrainingMode.TRAINING)
    ref = copy.deepcopy(m)       # tracing the export ran a training step on m's statistics
    em = ember.onnx.load(b)
    x = torch.randn(10, 8)
    ref.eval()
    assert_close(em(x.numpy()), ref(x))
    ref.train()
    em.train()
    assert_close(em(x.numpy()), ref(x))
    assert_close(em.state_dict()["1.running_mean"], ref[1].running_mean)
    assert_close(em.state_dict()["1.running_var"], ref[1].running_var)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1),
                                dict(stride=2, groups=2, dilation=2), dict(stride=3, padding=2)])
def test_conv_transpose_forward_and_gradients(kw):
    m = torch.nn.ConvTranspose2d(4, 6, (3, 2), **kw).eval()
    x = torch.randn(2, 4, 5, 4, requires_grad=True)
    em = ember.onnx.load(export_torch(torch, m, x.detach()))
    ex = ember.tensor(x.detach().numpy(), requires_grad=True)
    y, ty = em(ex), m(x)
    assert_close(y, ty)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    assert_close(ex.grad, x.grad, atol=1e-4)
    assert_close(em.weight.grad, m.weight.grad, atol=1e-3, rtol=1e-4)
    one = {k: v for k, v in kw.items()}
    m1 = torch.nn.ConvTranspose1d(4, 6, 3, **one).eval()
    x1 = torch.randn(3, 4, 7)
    assert_close(ember.onnx.load(export_torch(torch, m1, x1[:1]))(x1.numpy()), m1(x1))


class UpBlock(torch.nn.Module):
    """InstanceNorm2d -> nearest 2x upsampling (Resize) -> 1x1 conv."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.InstanceNorm2d(3, affine=True)
        self.conv = torch.nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        y = torch.nn.functional.interpolate(self.norm(x), scale_factor=2, mode="nearest")
        return self.conv(y)


@pytest.mark.parametrize("opset", [11, 17])
def test_instance_norm_and_nearest_upsampling(opset):
    m = UpBlock().eval()
    em = ember.onnx.load(export_torch(torch, m, torch.randn(2, 3, 4, 5), opset=opset))
    x = torch.randn(3, 3, 4, 5)
    assert_close(em(x.numpy()), m(x))
    bilinear = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="Resize.*'linear'"):
        ember.onnx.load(export_torch(torch, bilinear, torch.randn(1, 1, 2, 2)))
