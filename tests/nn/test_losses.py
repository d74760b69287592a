"""Losses: values and gradients equal PyTorch's for every reduction and option; float64
gradient checks; stability and clear errors for bad targets."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck
from tests.conftest import torch_or_skip
from tests.nn._util import close

R = np.random.default_rng(0)
N, C = 6, 5


def _both(torch, name, ex, tx, *, e_args=(), t_args=(), kw=None, tkw=None):
    """Run loss ``name`` in ember and torch; compare the loss and the input gradient."""
    kw = kw or {}
    tkw = tkw if tkw is not None else kw
    ei = ember.Tensor(ex.copy(), requires_grad=True)
    ti = torch.tensor(ex.copy(), requires_grad=True)
    el = getattr(F, name)(ei, *e_args, **kw)
    tl = getattr(torch.nn.functional, name)(ti, *t_args, **tkw)
    close(el.data, tl.detach().numpy(), what=f"{name} value")
    g = R.standard_normal(tl.shape).astype(np.float32)
    el.backward(ember.Tensor(g))
    tl.backward(torch.tensor(g))
    close(ei.grad.data, ti.grad.numpy(), what=f"{name} grad")


REDS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.5}),
                                     ("huber_loss", {"delta": 0.7})])
def test_regression_losses(name, kw, reduction):
    torch = torch_or_skip()
    x = R.standard_normal((N, 3)).astype(np.float32)
    y = R.standard_normal((N, 3)).astype(np.float32)
    _both(torch, name, x, None, e_args=(ember.Tensor(y),), t_args=(torch.tensor(y),),
          kw=dict(kw, reduction=reduction))


CE_OPTS = [{}, {"label_smoothing": 0.1}, {"weight": "w"}, {"ignore_index": 2},
           {"weight": "w", "label_smoothing": 0.2, "ignore_index": 1}]


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("opts", CE_OPTS, ids=lambda o: "-".join(o) or "plain")
def test_cross_entropy_index_targets(opts, reduction):
    torch = torch_or_skip()
    x = (R.standard_normal((N, C)) * 3).astype(np.float32)
    y = np.array([0, 1, 2, 4, 2, 3])
    w = (R.random(C) + 0.5).astype(np.float32)
    ekw = {k: (ember.Tensor(w) if v == "w" else v) for k, v in opts.items()}
    tkw = {k: (torch.tensor(w) if v == "w" else v) for k, v in opts.items()}
    _both(torch, "cross_entropy", x, None, e_args=(ember.Tensor(y),),
          t_args=(torch.tensor(y),), kw=dict(ekw, reduction=reduction),
          tkw=dict(tkw, reduction=reduction))


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.15}, {"weight": "w"}],
                         ids=["plain", "smooth", "weight"])
def test_cross_entropy_prob_targets(opts, reduction):
    torch = torch_or_skip()
    x = R.standard_normal((N, C)).astype(np.float32)
    p = R.random((N, C)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    w = (R.random(C) + 0.5).astype(np.float32)
    ekw = {k: (ember.Tensor(w) if v == "w" else v) for k, v in opts.items()}
    tkw = {k: (torch.tensor(w) if v == "w" else v) for k, v in opts.items()}
    _both(torch, "cross_entropy", x, None, e_args=(ember.Tensor(p),), t_args=(torch.tensor(p),),
          kw=dict(ekw, reduction=reduction), tkw=dict(tkw, reduction=reduction))


def test_cross_entropy_spatial_targets():
    torch = torch_or_skip()
    x = R.standard_normal((2, C, 3, 4)).astype(np.float32)
    y = R.integers(0, C, (2, 3, 4))
    for red in REDS:
        _both(torch, "cross_entropy", x, None, e_args=(ember.Tensor(y),),
              t_args=(torch.tensor(y),), kw={"reduction": red})


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(weighted, reduction):
    torch = torch_or_skip()
    x = np.log(R.dirichlet(np.ones(C), N)).astype(np.float32)
    y = np.array([0, 1, 2, 4, 2, 3])
    w = (R.random(C) + 0.5).astype(np.float32)
    kw = {"reduction": reduction, "ignore_index": 4}
    _both(torch, "nll_loss", x, None, e_args=(ember.Tensor(y),), t_args=(torch.tensor(y),),
          kw=dict(kw, weight=ember.Tensor(w) if weighted else None),
          tkw=dict(kw, weight=torch.tensor(w) if weighted else None))


@pytest.mark.parametrize("reduction", REDS)
def test_binary_cross_entropy(reduction):
    torch = torch_or_skip()
    p = R.uniform(0.05, 0.95, (N, 3)).astype(np.float32)
    y = (R.random((N, 3)) > 0.5).astype(np.float32)
    w = R.random((N, 3)).astype(np.float32)
    _both(torch, "binary_cross_entropy", p, None, e_args=(ember.Tensor(y),),
          t_args=(torch.tensor(y),), kw={"reduction": reduction, "weight": ember.Tensor(w)},
          tkw={"reduction": reduction, "weight": torch.tensor(w)})


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("pos_weight", [None, "pw"])
def test_bce_with_logits(pos_weight, reduction):
    torch = torch_or_skip()
    z = (R.standard_normal((N, 3)) * 4).astype(np.float32)
    y = R.random((N, 3)).astype(np.float32)
    pw = (R.random(3) + 0.5).astype(np.float32)
    _both(torch, "binary_cross_entropy_with_logits", z, None, e_args=(ember.Tensor(y),),
          t_args=(torch.tensor(y),),
          kw={"reduction": reduction, "pos_weight": ember.Tensor(pw) if pos_weight else None},
          tkw={"reduction": reduction, "pos_weight": torch.tensor(pw) if pos_weight else None})


@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("p,weighted", [(1, False), (2, False), (1, True)])
def test_multi_margin(p, weighted, reduction):
    torch = torch_or_skip()
    x = R.standard_normal((N, C)).astype(np.float32)
    y = np.array([0, 1, 2, 4, 2, 3])
    w = (R.random(C) + 0.5).astype(np.float32)
    _both(torch, "multi_margin_loss", x, None, e_args=(ember.Tensor(y),),
          t_args=(torch.tensor(y),),
          kw={"reduction": reduction, "p": p, "weight": ember.Tensor(w) if weighted else None},
          tkw={"reduction": reduction, "p": p, "weight": torch.tensor(w) if weighted else None})


def test_loss_modules_match_functional():
    x = ember.randn(4, 3)
    y = ember.tensor([0, 2, 1, 1])
    t = ember.rand(4, 3)
    pairs = [(nn.CrossEntropyLoss(label_smoothing=0.1), F.cross_entropy(x, y, label_smoothing=0.1), y),
             (nn.MultiMarginLoss(), F.multi_margin_loss(x, y), y),
             (nn.NLLLoss(), F.nll_loss(x, y), y),
             (nn.MSELoss(reduction="sum"), F.mse_loss(x, t, reduction="sum"), t),
             (nn.L1Loss(), F.l1_loss(x, t), t), (nn.SmoothL1Loss(beta=0.5),
                                                 F.smooth_l1_loss(x, t, beta=0.5), t),
             (nn.HuberLoss(delta=2.0), F.huber_loss(x, t, delta=2.0), t),
             (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits(x, t), t),
             (nn.BCELoss(), F.binary_cross_entropy(x.sigmoid(), t), t)]
    for mod, ref, target in pairs:
        inp = x.sigmoid() if isinstance(mod, nn.BCELoss) else x
        assert np.allclose(mod(inp, target).data, ref.data), type(mod).__name__


# ---- float64 gradient checks ---------------------------------------------------------------
def _g(shape, scale=1.0):
    return ember.Tensor(R.standard_normal(shape) * scale, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x, y: F.mse_loss(x, y), lambda x, y: F.l1_loss(x, y),
    lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), lambda x, y: F.huber_loss(x, y, delta=0.5),
    lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=ember.tensor(
        [2.0, 0.5, 1.0], dtype=np.float64)),
    lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), reduction="sum"),
], ids=["mse", "l1", "smooth_l1", "huber", "bce_logits", "bce"])
def test_gradcheck_pairwise(fn):
    x, y = _g((4, 3)), _g((4, 3))
    assert gradcheck(fn, [x, y])


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2, "ignore_index": 1},
                                {"weight": np.array([1.0, 2.0, 0.5, 1.5])},
                                {"reduction": "none"}, {"reduction": "sum"}])
def test_gradcheck_cross_entropy(kw):
    kw = {k: (ember.Tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    y = ember.tensor([0, 1, 3, 2, 1])
    assert gradcheck(lambda x: F.cross_entropy(x, y, **kw), [_g((5, 4), 2.0)])
    p = ember.Tensor(R.dirichlet(np.ones(4), 5))
    kw.pop("ignore_index", None)
    assert gradcheck(lambda x: F.cross_entropy(x, p, **kw), [_g((5, 4), 2.0)])


def test_gradcheck_nll_and_margin():
    y = ember.tensor([0, 1, 3, 2, 1])
    assert gradcheck(lambda x: F.nll_loss(x, y), [_g((5, 4))])
    assert gradcheck(lambda x: F.multi_margin_loss(x, y, p=2), [_g((5, 4))])
    assert gradcheck(lambda x: F.multi_margin_loss(x, y), [_g((5, 4))])


# ---- stability and errors -----------------------------------------------------------------
def test_cross_entropy_huge_logits_finite():
    x = ember.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(x, ember.tensor([2, 0]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.data).all()
    assert np.isclose(loss.item(), (2e4 + (1e4 + np.log(2))) / 2, rtol=1e-5)
    z = ember.tensor([1e4, -1e4, 50.0], requires_grad=True)
    b = F.binary_cross_entropy_with_logits(z, ember.tensor([0.0, 1.0, 1.0]), reduction="none")
    b.sum().backward()
    assert np.allclose(b.data, [1e4, 1e4, 0.0], atol=1e-6) and np.isfinite(z.grad.data).all()


def test_bad_targets_give_clear_errors():
    x = ember.randn(4, 10)
    with pytest.raises(IndexError, match=r"cross_entropy: target 10 is out of bounds for 10 "
                                         r"classes"):
        F.cross_entropy(x, ember.tensor([1, 2, 10, 0]))
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(4, 10\) needs a "
                                         r"target of shape \(4,\).*\(3,\)"):
        F.cross_entropy(x, ember.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"probability targets must have the input's shape"):
        F.cross_entropy(x, ember.rand(4, 9))
    with pytest.raises(IndexError, match="nll_loss: target -1"):
        F.nll_loss(x, ember.tensor([1, -1, 0, 0]))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 10\) and target shape "
                                         r"\(4, 1\) differ"):
        F.mse_loss(x, ember.randn(4, 1))
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="probabilities in"):
        F.binary_cross_entropy(x, ember.rand(4, 10))
    with pytest.raises(TypeError, match="multi_margin_loss: class-index targets must be int"):
        F.multi_margin_loss(x, ember.tensor([1.0, 2.0, 3.0, 0.0]))


def test_penalties_one_liners():
    m = nn.Linear(3, 2)
    manual = sum((p ** 2).sum() for p in m.parameters())
    assert np.isclose(nn.utils.l2_penalty(m).item(), manual.item())
    assert np.isclose(nn.utils.l1_penalty(m).item(),
                      sum(np.abs(p.data).sum() for p in m.parameters()), rtol=1e-6)
    nn.utils.l2_penalty(m).backward()
    assert np.allclose(m.weight.grad.data, 2 * m.weight.data)
