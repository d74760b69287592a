"""Module API: registration, traversal, modes, hooks, freezing, state_dict, repr, errors,
BatchNorm running statistics, Dropout statistics, gradient clipping and summary."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.summary import summary


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
        self.scale = nn.Parameter(ember.ones(1))
        self.plain = [nn.Linear(2, 2)]  # a plain list: not registered

    def forward(self, x):
        return self.head(F.relu(self.bn(self.conv(x)))) * self.scale


def test_registration_and_traversal():
    m = Net()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
                     "head.1.weight", "head.1.bias"]
    assert len(list(m.parameters())) == 7
    assert [n for n, _ in m.named_buffers()] == ["bn.running_mean", "bn.running_var",
                                                 "bn.num_batches_tracked"]
    assert [n for n, _ in m.named_children()] == ["conv", "bn", "head"]
    assert [n for n, _ in m.named_modules()] == ["", "conv", "bn", "head", "head.0", "head.1"]
    assert isinstance(m.conv.weight, nn.Parameter) and m.conv.weight.requires_grad
    shared = nn.Linear(2, 2)
    s = nn.Sequential(shared, shared)
    assert len(list(s.parameters())) == 2  # shared parameters counted once


def test_train_eval_apply_zero_grad():
    m = Net()
    assert m.training and m.bn.training
    m.eval()
    assert not m.training and not m.bn.training and not m.head[1].training
    m.train()
    assert m.head[0].training
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    m(ember.randn(2, 1, 4, 4)).sum().backward()
    assert m.conv.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert np.all(m.conv.weight.grad.data == 0)
    m.zero_grad()
    assert m.conv.weight.grad is None


def test_forward_hooks_and_removal():
    m = Net().eval()
    calls = []
    h = m.conv.register_forward_hook(lambda mod, inp, out: calls.append(
        (type(mod).__name__, inp[0].shape, out.shape)))
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 0,))  # replaces the input
    y = m(ember.randn(2, 1, 4, 4))
    assert calls == [("Conv2d", (2, 1, 4, 4), (2, 2, 4, 4))]
    h.remove()
    pre.remove()
    assert np.allclose(y.data, m(ember.zeros(2, 1, 4, 4)).data)
    assert len(calls) == 1  # removed: no new call
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda mod, inp, out: out * 0)  # a returned value replaces output
    assert np.all(lin(ember.randn(3, 2)).data == 0)


def test_freeze_gives_no_grad():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    m[0].requires_grad_(False)
    m(ember.randn(5, 3)).sum().backward()
    assert m[0].weight.grad is None and m[0].bias.grad is None
    assert m[2].weight.grad is not None


def test_state_dict_round_trip_and_in_place_copy():
    ember.manual_seed(1)
    a = Net()
    a(ember.randn(4, 1, 4, 4))  # change the running stats
    ember.manual_seed(2)
    b = Net()
    w_obj = b.conv.weight
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.conv.weight is w_obj  # copied in place, same Parameter object
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va.data, vb.data)
    b.conv.weight.data[...] += 1  # independent storage
    assert not np.array_equal(a.conv.weight.data, b.conv.weight.data)
    x = ember.randn(2, 1, 4, 4)
    a.eval(), b.eval()
    b.load_state_dict({k: v.data.copy() for k, v in a.state_dict().items()})  # arrays work too
    assert np.allclose(a(x).data, b(x).data)


def test_load_state_dict_errors_list_all_problems():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    sd = m.state_dict()
    sd.pop("1.bias")
    sd["extra.weight"] = ember.zeros(1)
    sd["0.weight"] = ember.zeros(5, 3)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Missing key(s): 1.bias" in msg and "Unexpected key(s): extra.weight" in msg
    assert "0.weight: checkpoint has shape (5, 3), model has (4, 3)" in msg
    sd["0.weight"] = ember.zeros(4, 3)
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["1.bias"] and res.unexpected_keys == ["extra.weight"]


def test_repr_tree_like_pytorch():
    m = nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 8, 3, padding=1), act=nn.ReLU(),
                                  fc=nn.Sequential(nn.Flatten(), nn.Linear(8, 2))))
    assert repr(m) == (
        "Sequential(\n"
        "  (conv): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "  (act): ReLU()\n"
        "  (fc): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Linear(in_features=8, out_features=2, bias=True)\n"
        "  )\n"
        ")")
    torch = pytest.importorskip("torch", reason="PyTorch not installed: repr comparison skipped")
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.Linear(8, 2), torch.nn.MaxPool2d(2), torch.nn.Dropout(0.2))
    e = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Linear(8, 2),
                      nn.MaxPool2d(2), nn.Dropout(0.2))
    assert repr(e) == repr(t)


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    s.append(nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear) and len(s[1:]) == 2
    assert s(ember.randn(4, 2)).shape == (4, 1)
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    assert "a" in md and len(list(md.parameters())) == 2 and list(md.keys()) == ["a", "b"]
    with pytest.raises(IndexError, match="out of range"):
        s[5]


def test_batchnorm_running_stats_converge():
    bn = nn.BatchNorm2d(3, momentum=0.1)
    mean = np.array([2.0, -1.0, 0.5])
    std = np.array([3.0, 0.5, 1.0])
    for _ in range(200):
        x = ember.Tensor((np.random.default_rng(_).standard_normal((16, 3, 4, 4)) *
                          std[:, None, None] + mean[:, None, None]).astype(np.float32))
        bn(x)
    assert np.allclose(bn.running_mean.data, mean, atol=0.1)
    assert np.allclose(bn.running_var.data, std ** 2, rtol=0.1)
    assert int(bn.num_batches_tracked.data) == 200
    bn.eval()
    x = ember.Tensor(np.full((2, 3, 2, 2), 2.0, np.float32))
    y = bn(x).data
    expect = (2.0 - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5)
    assert np.allclose(y[0, :, 0, 0], expect, rtol=1e-5, atol=1e-6)


def test_batchnorm_unbiased_running_var_like_torch():
    bn = nn.BatchNorm1d(2, momentum=1.0)
    x = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    bn(ember.Tensor(x))
    assert np.allclose(bn.running_var.data, x.var(0, ddof=1))
    assert np.allclose(bn.running_mean.data, x.mean(0))


def test_dropout_preserves_expected_activation_and_eval_identity():
    d = nn.Dropout(0.3)
    x = ember.ones(200, 500)
    y = d(x).data
    assert abs(y.mean() - 1.0) < 0.01
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert np.allclose(np.unique(y), [0.0, 1 / 0.7])
    d.eval()
    assert d(x) is x
    ember.manual_seed(5)
    a = F.dropout(x, 0.5).data
    ember.manual_seed(5)
    assert np.array_equal(a, F.dropout(x, 0.5).data)  # seeded, repeatable
    # the gradient flows exactly through the kept units, scaled by 1/(1-p)
    xg = ember.ones(50, 40, requires_grad=True)
    yg = F.dropout(xg, 0.25)
    yg.sum().backward()
    np.testing.assert_array_equal(xg.grad.data, yg.data)


def test_bad_shapes_give_clear_errors():
    conv = nn.Conv2d(3, 8, 5)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, kernel_size=\(5, 5\).*input has 4 "
                                         r"channels \(shape \(1, 4, 8, 8\)\).*expects 3"):
        conv(ember.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2d.*too small.*output of 0x0"):
        conv(ember.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected a 4-D input.*unsqueeze"):
        conv(ember.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*input has 5 features"):
        nn.Linear(4, 2)(ember.randn(3, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4\).*has 3 channels"):
        nn.BatchNorm2d(4)(ember.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"MaxPool2d.*too small"):
        nn.MaxPool2d(3)(ember.randn(1, 1, 2, 2))
    with pytest.raises(IndexError, match="out of range for an embedding table of 5 rows"):
        nn.Embedding(5, 2)(ember.tensor([1, 5]))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_conv_output_size_formula():
    for (i, k, s, p, d) in [(32, 5, 1, 0, 1), (32, 3, 2, 1, 1), (15, 3, 2, 2, 2), (7, 2, 3, 0, 1)]:
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        o = (i + 2 * p - d * (k - 1) - 1) // s + 1
        assert conv(ember.randn(1, 1, i, i)).shape == (1, 1, o, o)
    assert nn.Conv2d(1, 1, 4, padding="same")(ember.randn(1, 1, 9, 9)).shape == (1, 1, 9, 9)


def test_clip_grad():
    m = nn.Linear(3, 2)
    m.weight.grad = ember.Tensor(np.full((2, 3), 3.0, np.float32))
    m.bias.grad = ember.Tensor(np.full((2,), 4.0, np.float32))
    total = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    assert np.isclose(float(total), np.sqrt(6 * 9 + 2 * 16))
    new = np.sqrt((m.weight.grad.data ** 2).sum() + (m.bias.grad.data ** 2).sum())
    assert np.isclose(new, 1.0, atol=1e-4)
    nn.utils.clip_grad_value_(m, 0.1)
    assert m.weight.grad.data.max() <= 0.1 + 1e-7


def test_summary_numbers():
    model = nn.Sequential(nn.Conv2d(3, 64, 2, padding="same"), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16384, 10))
    lines = []
    info = summary(model, (3, 32, 32), print_fn=lines.append)
    assert [r["params"] for r in info["layers"]] == [832, 0, 0, 163850]
    assert [r["output_shape"] for r in info["layers"]] == [[-1, 64, 32, 32], [-1, 64, 16, 16],
                                                           [-1, 16384], [-1, 10]]
    assert info.total_params == 164682 and info.trainable_params == 164682
    assert info.non_trainable_params == 0
    assert "Total params: 164,682" in lines[0] and "163,850" in lines[0]
    model[0].requires_grad_(False)
    info = summary(model, (3, 32, 32), print_fn=None)
    assert info.trainable_params == 163850 and info.non_trainable_params == 832
    assert model.training  # mode restored
