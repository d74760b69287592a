"""Elementwise ONNX ops, activations, comparisons, Clip/Where/Cast.

Each converter computes on NumPy when all its inputs are constants (shape arithmetic stays
eager and exact, integer division truncates as ONNX's does) and with ember primitives
otherwise, so gradients flow through every differentiable input.
"""
from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..ops import discrete as _disc
from ..ops import nn_activation as _act
from ..ops import special as _special
from ._import_registry import array, is_const, register, tensor

_SELU_ALPHA = 1.67326319217681884765625   # the ONNX defaults (float32-exact)
_SELU_GAMMA = 1.05070102214813232421875


def _np_div(a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # C-style truncation, as ONNX
        q = np.abs(a) // np.abs(b)
        return (q * np.sign(a) * np.sign(b)).astype(np.result_type(a, b))
    return a / b


def _same_kind(a, b):
    """Cast a constant operand to the other operand's float dtype (ONNX requires equal types;
    a Python-side float64 constant must not promote a float32 graph)."""
    if isinstance(b, np.ndarray) and not isinstance(a, np.ndarray) and a.dtype.kind == "f" \
            and b.dtype != a.dtype:
        b = b.astype(a.dtype)
    return b


def _binary(op_types, np_fn, ember_op):
    @register(*op_types)
    def conv(n, a, b):
        if is_const(a, b):
            return np.asarray(np_fn(a, b))
        b = _same_kind(a, b)
        a = _same_kind(b, a)
        return ember_op.apply(a, b)
    return conv


_binary(("Add",), np.add, _ops.Add)
_binary(("Sub",), np.subtract, _ops.Sub)
_binary(("Mul",), np.multiply, _ops.Mul)
_binary(("Div",), _np_div, _ops.Div)


@register("Pow")
def _pow(n, a, b):
    if is_const(a, b):
        return np.asarray(np.power(a, b)).astype(a.dtype)
    if isinstance(b, np.ndarray):  # ONNX allows an exponent of another type; the base's wins
        b = b.astype(array(a).dtype)
    return _ops.Pow.apply(a, b)


def _unary(op_type, np_fn, ember_fn):
    @register(op_type)
    def conv(n, x):
        if is_const(x):
            return np.asarray(np_fn(x))
        return ember_fn(x)
    return conv


_unary("Neg", np.negative, lambda x: _ops.Neg.apply(x))
_unary("Abs", np.abs, lambda x: _ops.Abs.apply(x))
_unary("Sqrt", np.sqrt, lambda x: _ops.Sqrt.apply(x))
_unary("Exp", np.exp, lambda x: _ops.Exp.apply(x))
_unary("Log", np.log, lambda x: _ops.Log.apply(x))
_unary("Reciprocal", lambda x: 1 / x, lambda x: 1 / x)
_unary("Relu", lambda x: np.maximum(x, 0), lambda x: _ops.Relu.apply(x))
_unary("Sigmoid", lambda x: 1 / (1 + np.exp(-x)), lambda x: _ops.Sigmoid.apply(x))
_unary("Tanh", np.tanh, lambda x: _ops.Tanh.apply(x))
_unary("Sin", np.sin, lambda x: _ops.Sin.apply(x))
_unary("Cos", np.cos, lambda x: _ops.Cos.apply(x))
_unary("Erf", lambda x: _special.Erf.forward(None, x), lambda x: _special.Erf.apply(x))
for _t, _fn in (("Floor", "floor"), ("Ceil", "ceil"), ("Sign", "sign"), ("Round", "round")):
    _unary(_t, getattr(np, "rint" if _fn == "round" else _fn),
           lambda x, _fn=_fn: _ops.PiecewiseConstant.apply(x, fn=_fn))


@register("Identity")
def _identity(n, x):
    return x


@register("LeakyRelu")
def _leaky(n, x):
    return _act.LeakyRelu.apply(tensor(x), negative_slope=float(n.get("alpha", 0.01)))


@register("Elu")
def _elu(n, x):
    return _act.Elu.apply(tensor(x), alpha=float(n.get("alpha", 1.0)))


@register("Selu")
def _selu(n, x):
    y = _act.Elu.apply(tensor(x), alpha=float(n.get("alpha", _SELU_ALPHA)))
    return y * np.asarray(n.get("gamma", _SELU_GAMMA), array(x).dtype)


@register("PRelu")
def _prelu(n, x, slope):
    """max(0, x) + slope * min(0, x), slope broadcast to x from the right (ONNX's rule;
    PyTorch exports a (C, 1, 1) slope for images)."""
    x = tensor(x)
    return _ops.Where.apply(x.data > 0, x, x * slope)


@register("Softplus")
def _softplus(n, x):
    return _act.Softplus.apply(tensor(x), beta=1.0, threshold=20.0)


@register("HardSigmoid")
def _hard_sigmoid(n, x):
    x = tensor(x)
    dt = x.dtype
    y = x * np.asarray(n.get("alpha", 0.2), dt) + np.asarray(n.get("beta", 0.5), dt)
    return _ops.Clip.apply(y, dt.type(0), dt.type(1))


@register("HardSwish")
def _hard_swish(n, x):
    """x * max(0, min(1, x / 6 + 1 / 2))."""
    x = tensor(x)
    dt = x.dtype
    gate = _ops.Clip.apply(x * np.asarray(1 / 6, dt) + np.asarray(0.5, dt), dt.type(0),
                           dt.type(1))
    return x * gate


def _check_gelu(n):
    if n.get("approximate", "none") not in ("none", "tanh"):
        n.unsupported(f"approximate={n.get('approximate')!r} (expected 'none' or 'tanh')")


@register("Gelu", check=_check_gelu)
def _gelu(n, x):
    return _act.Gelu.apply(tensor(x), approximate=n.get("approximate", "none"))


def _softmax(n, x, op):
    """Opset >= 13: along ``axis`` (default -1). Before 13: x is viewed as 2-D
    (prod(shape[:axis]), prod(shape[axis:])) (default axis 1) and normalised along the rows."""
    x = tensor(x)
    if n.opset >= 13:
        return op.apply(x, axis=int(n.get("axis", -1)))
    axis = int(n.get("axis", 1)) % max(x.ndim, 1)
    shp = tuple(x.shape)
    lead = int(np.prod(shp[:axis], dtype=np.int64))
    return op.apply(x.reshape(lead, -1), axis=1).reshape(shp)


@register("Softmax")
def _softmax_op(n, x):
    return _softmax(n, x, _act.Softmax)


@register("LogSoftmax")
def _log_softmax_op(n, x):
    return _softmax(n, x, _act.LogSoftmax)


@register("Clip")
def _clip(n, x, lo=None, hi=None):
    """Bounds from attributes (opset < 11) or the optional inputs min, max."""
    if n.opset < 11:
        lo, hi = n.get("min"), n.get("max")
    dt = array(x).dtype
    lo = None if lo is None else dt.type(np.asarray(array(lo)).reshape(()))
    hi = None if hi is None else dt.type(np.asarray(array(hi)).reshape(()))
    if is_const(x):
        return np.asarray(np.clip(x, lo, hi))
    return _ops.Clip.apply(x, lo, hi)


@register("Where")
def _where(n, cond, a, b):
    if is_const(cond, a, b):
        return np.asarray(np.where(cond, a, b))
    c = array(cond).astype(bool)
    return _ops.Where.apply(c, _same_kind(b, a), _same_kind(a, b))


def _compare(op_type, np_fn, ember_op):
    @register(op_type)
    def conv(n, a, b):
        if is_const(a, b):
            return np.asarray(np_fn(a, b))
        return ember_op.apply(a, b)   # boolean results: never recorded for backward
    return conv


_compare("Equal", np.equal, _disc.Equal)
_compare("Less", np.less, _disc.Less)
_compare("Greater", np.greater, _disc.Greater)
_compare("LessOrEqual", np.less_equal, _disc.LessEqual)
_compare("GreaterOrEqual", np.greater_equal, _disc.GreaterEqual)
_compare("And", np.logical_and, _disc.BitwiseAnd)
_compare("Or", np.logical_or, _disc.BitwiseOr)
_compare("Xor", np.logical_xor, _disc.BitwiseXor)


@register("Not")
def _not(n, x):
    return np.asarray(np.logical_not(x)) if is_const(x) else _disc.BitwiseNot.apply(x)


@register("Cast")
def _cast(n, x):
    from ._import_proto import np_dtype
    dt = np_dtype(int(n.get("to")))
    if is_const(x):
        return np.asarray(x).astype(dt)
    return tensor(x).astype(dt)


@register("Max", "Min", "Sum", "Mean")
def _variadic(n, *xs):
    """Elementwise Max/Min/Sum/Mean of any number of broadcastable inputs."""
    if is_const(*xs):
        fn = {"Max": np.maximum, "Min": np.minimum}.get(n.op_type, np.add)
        out = xs[0]
        for x in xs[1:]:
            out = fn(out, x)
        return np.asarray(out / len(xs) if n.op_type == "Mean" else out)
    op = {"Max": _ops.Maximum, "Min": _ops.Minimum}.get(n.op_type, _ops.Add)
    out = tensor(xs[0])
    for x in xs[1:]:
        out = op.apply(out, x)
    return out / len(xs) if n.op_type == "Mean" else out
