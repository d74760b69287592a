"""Shared helpers for the nn tests: run the same layer in ember and PyTorch with the same
weights, inputs and upstream gradient, and compare outputs and every gradient."""
import numpy as np

import ember
from ember.autograd import gradcheck


def close(a, b, tol=1e-5, what=""):
    """|a - b| <= tol * max(1, max|b|): absolute 1e-5 relative to the values' scale."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    err = float(np.abs(a - b).max()) if a.size else 0.0
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol} * scale {scale:.3g}"


def copy_torch_to_ember(tm, em):
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


def compare_module(torch, em, tm, x, train=True, tol=1e-5, grad_input=True):
    """Forward + backward of ember module ``em`` and torch module ``tm`` (weights copied from
    torch) on the same input; compares output, input gradient and parameter gradients."""
    copy_torch_to_ember(tm, em)
    em.train(train)
    tm.train(train)
    x = np.asarray(x)
    floating = x.dtype.kind == "f"
    ex = ember.Tensor(x.copy(), requires_grad=grad_input and floating)
    tx = torch.tensor(x.copy(), requires_grad=grad_input and floating)
    ey, ty = em(ex), tm(tx)
    close(ey.data, ty.detach().numpy(), tol, "output")
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(np.float32)
    ey.backward(ember.Tensor(g))
    ty.backward(torch.tensor(g))
    if grad_input and floating:
        close(ex.grad.data, tx.grad.numpy(), tol, "input grad")
    tparams = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        close(p.grad.data, tparams[name].grad.numpy(), tol, f"grad of {name}")
    for name, b in tm.named_buffers():
        if b.dtype.is_floating_point:
            close(em.get_submodule("").state_dict()[name].data, b.numpy(), tol, name)
    return ey


def to_double(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    for b in module.buffers():
        if b.data.dtype.kind == "f":
            b.data = b.data.astype(np.float64)
    return module


def gradcheck_module(module, x, train=True, seed=None, **kw):
    """Finite-difference check (float64) of the module's gradients w.r.t. input and params."""
    to_double(module).train(train)
    ex = ember.Tensor(np.asarray(x, np.float64), requires_grad=True)
    params = [p for p in module.parameters() if p.requires_grad]

    def fn(x, *ps):
        if seed is not None:
            ember.manual_seed(seed)
        return module(x)

    assert gradcheck(fn, [ex] + params, **kw)
