"""A small shared problem: a one-hidden-layer tanh regression with three parameter tensors,
with the same start and data for ember and PyTorch."""
import numpy as np

import ember

RNG = np.random.default_rng(1234)
X = RNG.standard_normal((16, 3))
Y = RNG.standard_normal((16, 1))
W0 = RNG.standard_normal((3, 5)) * 0.5
B0 = RNG.standard_normal((5,)) * 0.1
V0 = RNG.standard_normal((5, 1)) * 0.5
INIT = (W0, B0, V0)


def ember_params(dtype=np.float64):
    return [ember.tensor(a.astype(dtype), requires_grad=True) for a in INIT]


def ember_loss(params, dtype=np.float64):
    w, b, v = params
    x = ember.tensor(X.astype(dtype))
    y = ember.tensor(Y.astype(dtype))
    h = (x @ w + b).tanh()
    r = h @ v - y
    return (r * r).mean()


def torch_params(torch, dtype=None):
    dtype = dtype or torch.float64
    return [torch.tensor(a, dtype=dtype, requires_grad=True) for a in INIT]


def torch_loss(torch, params):
    w, b, v = params
    x = torch.tensor(X, dtype=w.dtype)
    y = torch.tensor(Y, dtype=w.dtype)
    h = torch.tanh(x @ w + b)
    r = h @ v - y
    return (r * r).mean()


def run_ember(opt, params, steps, dtype=np.float64):
    for _ in range(steps):
        opt.zero_grad()
        ember_loss(params, dtype).backward()
        opt.step()


def run_torch(torch, opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        torch_loss(torch, params).backward()
        opt.step()
