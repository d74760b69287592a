"""Every layer and activation: forward and backward equal PyTorch's (float32, copied weights)
in train and eval mode, and a float64 finite-difference gradient check."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from tests.conftest import torch_or_skip
from tests.nn._util import close, compare_module, gradcheck_module

R = np.random.default_rng(0)


def rnd(*shape):
    return R.standard_normal(shape).astype(np.float32)


# (id, ember factory, torch factory (given torch.nn), input shape)
CASES = [
    ("linear", lambda: nn.Linear(5, 3), lambda t: t.Linear(5, 3), (4, 5)),
    ("linear_nobias_3d", lambda: nn.Linear(5, 3, bias=False),
     lambda t: t.Linear(5, 3, bias=False), (2, 4, 5)),
    ("conv_basic", lambda: nn.Conv2d(3, 4, 3), lambda t: t.Conv2d(3, 4, 3), (2, 3, 6, 6)),
    ("conv_stride2_pad1", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
     lambda t: t.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    ("conv_same_k3", lambda: nn.Conv2d(2, 3, 3, padding="same"),
     lambda t: t.Conv2d(2, 3, 3, padding="same"), (2, 2, 5, 6)),
    ("conv_same_k2_even", lambda: nn.Conv2d(2, 3, 2, padding="same"),
     lambda t: t.Conv2d(2, 3, 2, padding="same"), (2, 2, 5, 5)),
    ("conv_valid", lambda: nn.Conv2d(2, 3, (2, 3), padding="valid"),
     lambda t: t.Conv2d(2, 3, (2, 3), padding="valid"), (2, 2, 5, 6)),
    ("conv_dilation2", lambda: nn.Conv2d(2, 3, 3, dilation=2, padding=1),
     lambda t: t.Conv2d(2, 3, 3, dilation=2, padding=1), (2, 2, 7, 7)),
    ("conv_same_dilated", lambda: nn.Conv2d(2, 3, 3, dilation=2, padding="same"),
     lambda t: t.Conv2d(2, 3, 3, dilation=2, padding="same"), (1, 2, 6, 6)),
    ("conv_groups2", lambda: nn.Conv2d(4, 6, 3, groups=2, padding=1),
     lambda t: t.Conv2d(4, 6, 3, groups=2, padding=1), (2, 4, 5, 5)),
    ("conv_depthwise_stride", lambda: nn.Conv2d(3, 3, 3, groups=3, stride=2, bias=False),
     lambda t: t.Conv2d(3, 3, 3, groups=3, stride=2, bias=False), (2, 3, 7, 7)),
    ("conv_rect_stride_pad", lambda: nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
     lambda t: t.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)), (2, 2, 6, 5)),
    ("maxpool2", lambda: nn.MaxPool2d(2), lambda t: t.MaxPool2d(2), (2, 3, 6, 6)),
    ("maxpool2_odd_crop", lambda: nn.MaxPool2d(2), lambda t: t.MaxPool2d(2), (2, 2, 7, 5)),
    ("maxpool3_s2_p1_overlap", lambda: nn.MaxPool2d(3, 2, 1),
     lambda t: t.MaxPool2d(3, 2, 1), (2, 2, 7, 7)),
    ("maxpool2_s1_overlap", lambda: nn.MaxPool2d(2, 1), lambda t: t.MaxPool2d(2, 1),
     (2, 2, 5, 5)),
    ("maxpool_dilated", lambda: nn.MaxPool2d(2, 1, dilation=2),
     lambda t: t.MaxPool2d(2, 1, dilation=2), (1, 2, 6, 6)),
    ("avgpool2", lambda: nn.AvgPool2d(2), lambda t: t.AvgPool2d(2), (2, 3, 6, 6)),
    ("avgpool3_s2_p1", lambda: nn.AvgPool2d(3, 2, 1), lambda t: t.AvgPool2d(3, 2, 1),
     (2, 2, 7, 7)),
    ("avgpool_nopadcount", lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     lambda t: t.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 2, 6, 6)),
    ("adaptive_avg_1", lambda: nn.AdaptiveAvgPool2d(1), lambda t: t.AdaptiveAvgPool2d(1),
     (2, 3, 5, 5)),
    ("adaptive_avg_3_uneven", lambda: nn.AdaptiveAvgPool2d((3, 2)),
     lambda t: t.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
    ("adaptive_max_2_uneven", lambda: nn.AdaptiveMaxPool2d(2),
     lambda t: t.AdaptiveMaxPool2d(2), (2, 2, 5, 5)),
    ("adaptive_max_2", lambda: nn.AdaptiveMaxPool2d(2), lambda t: t.AdaptiveMaxPool2d(2),
     (2, 2, 6, 6)),
    ("flatten", lambda: nn.Flatten(), lambda t: t.Flatten(), (2, 3, 2, 2)),
    ("bn1d", lambda: nn.BatchNorm1d(4), lambda t: t.BatchNorm1d(4), (8, 4)),
    ("bn1d_3d", lambda: nn.BatchNorm1d(3), lambda t: t.BatchNorm1d(3), (4, 3, 5)),
    ("bn2d", lambda: nn.BatchNorm2d(3), lambda t: t.BatchNorm2d(3), (4, 3, 4, 4)),
    ("bn2d_noaffine", lambda: nn.BatchNorm2d(3, affine=False),
     lambda t: t.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
    ("layernorm", lambda: nn.LayerNorm(5), lambda t: t.LayerNorm(5), (3, 5)),
    ("layernorm_2d", lambda: nn.LayerNorm((3, 4)), lambda t: t.LayerNorm((3, 4)), (2, 3, 4)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda t: t.Sigmoid(), (3, 5)),
    ("tanh", lambda: nn.Tanh(), lambda t: t.Tanh(), (3, 5)),
    ("relu", lambda: nn.ReLU(), lambda t: t.ReLU(), (3, 5)),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda t: t.LeakyReLU(0.2), (3, 5)),
    ("prelu_shared", lambda: nn.PReLU(), lambda t: t.PReLU(), (3, 4, 2)),
    ("prelu_channel", lambda: nn.PReLU(4, init=0.1), lambda t: t.PReLU(4, init=0.1),
     (3, 4, 2, 2)),
    ("elu", lambda: nn.ELU(0.7), lambda t: t.ELU(0.7), (3, 5)),
    ("softplus", lambda: nn.Softplus(), lambda t: t.Softplus(), (3, 5)),
    ("softplus_beta_thresh", lambda: nn.Softplus(2.0, 1.5), lambda t: t.Softplus(2.0, 1.5),
     (3, 5)),
    ("gelu", lambda: nn.GELU(), lambda t: t.GELU(), (3, 5)),
    ("gelu_tanh", lambda: nn.GELU("tanh"), lambda t: t.GELU("tanh"), (3, 5)),
    ("softmax", lambda: nn.Softmax(1), lambda t: t.Softmax(1), (3, 5)),
    ("softmax_dim0", lambda: nn.Softmax(0), lambda t: t.Softmax(0), (3, 5)),
    ("log_softmax", lambda: nn.LogSoftmax(1), lambda t: t.LogSoftmax(1), (3, 5)),
    ("identity", lambda: nn.Identity(), lambda t: t.Identity(), (2, 3)),
    ("dropout_eval", lambda: nn.Dropout(0.5), lambda t: t.Dropout(0.5), (3, 5)),
    ("sequential", lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4),
                                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                         nn.Linear(16, 3)),
     lambda t: t.Sequential(t.Conv2d(2, 4, 3, padding=1), t.BatchNorm2d(4), t.ReLU(),
                            t.MaxPool2d(2), t.Flatten(), t.Linear(16, 3)), (3, 2, 4, 4)),
]
IDS = [c[0] for c in CASES]


def _randomize_buffers(torch, tm):
    for name, b in tm.named_buffers():
        if name.endswith("running_mean"):
            b.copy_(torch.randn(b.shape) * 0.5)
        elif name.endswith("running_var"):
            b.copy_(torch.rand(b.shape) + 0.5)


# dropout in training mode is random, so it has no value-for-value torch comparison; its
# statistics and mask/gradient agreement are tested in test_modules.py
TORCH_PAIRS = [(c, t) for c in CASES for t in (True, False) if not (c[0] == "dropout_eval" and t)]


@pytest.mark.parametrize("case,train", TORCH_PAIRS,
                         ids=[f"{c[0]}-{'train' if t else 'eval'}" for c, t in TORCH_PAIRS])
def test_matches_torch(case, train):
    torch = torch_or_skip()
    name, make, tmake, shape = case
    torch.manual_seed(0)
    tm = tmake(torch.nn)
    with torch.no_grad():
        _randomize_buffers(torch, tm)
    compare_module(torch, make(), tm, rnd(*shape), train=train)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "sequential"],
                         ids=[i for i in IDS if i != "sequential"])
def test_gradcheck(case, train):
    name, make, _, shape = case
    m = make()
    seed = 3 if name.startswith("dropout") else None  # same mask on every evaluation
    for mod in m.modules():  # non-trivial running stats for eval mode
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mod.running_mean.data[...] = R.standard_normal(mod.num_features) * 0.5
            mod.running_var.data[...] = R.random(mod.num_features) + 0.5
    x = R.standard_normal(shape)
    if "pool" in name and "avg" not in name:
        x = x + np.arange(x.size).reshape(shape) * 1e-3  # no near-ties within eps
    gradcheck_module(m, x, train=train, seed=seed)


def test_dropout_train_gradcheck():
    gradcheck_module(nn.Dropout(0.3), R.standard_normal((4, 5)), train=True, seed=3)


def test_maxout_matches_manual_and_gradcheck():
    m = nn.Maxout(4, 3, pieces=3)
    x = rnd(5, 4)
    y = m(ember.Tensor(x)).data
    lin = x @ m.weight.data.T + m.bias.data
    close(y, lin.reshape(5, 3, 3).max(-1), what="maxout")
    gradcheck_module(m, R.standard_normal((5, 4)))


def test_embedding_matches_torch():
    torch = torch_or_skip()
    tm = torch.nn.Embedding(7, 3, padding_idx=2)
    em = nn.Embedding(7, 3, padding_idx=2)
    idx = np.array([[0, 2, 6], [2, 2, 1]])
    compare_module(torch, em, tm, idx)
    assert np.all(em.weight.grad.data[2] == 0)
    assert np.all(nn.Embedding(5, 2, padding_idx=0).weight.data[0] == 0)


def test_conv_large_values_match_torch():
    """A bigger conv (the bench's second shape, small batch) in float32."""
    torch = torch_or_skip()
    tm = torch.nn.Conv2d(32, 64, 5)
    compare_module(torch, nn.Conv2d(32, 64, 5), tm, rnd(2, 32, 14, 14), tol=2e-5)


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 3, 0), (3, 2, 1), (2, 1, 0)])
def test_maxpool_ties_route_gradient_like_torch(k, s, p):
    """Windows full of equal values (e.g. zeros after ReLU): the gradient goes to the first
    maximum in row-major order, exactly as PyTorch."""
    torch = torch_or_skip()
    x = np.maximum(R.integers(-1, 2, (2, 2, 6, 6)), 0).astype(np.float32)
    x[0, 0, :3, :3] = 1.0
    compare_module(torch, nn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p), x, tol=1e-6)
