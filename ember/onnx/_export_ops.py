"""ONNX (opset 17) spellings of ember's primitives, one rule per ``ember.ops`` Function.

A rule gets an :class:`~ember.onnx._export_graph.OpContext` ``c`` and returns the ONNX name
of each output (a name, or a list for multi-output primitives; ``None`` for an output it does
not produce). Inputs are cast to the dtype ember's result has, so ONNX's same-type rule holds
where ember (like PyTorch) mixes a float32 tensor with a Python number.

A rule with ``dynamic_attrs`` resolves those attributes against the dynamic axes itself
(reshape targets); any other attribute that changes with a dynamic axis is an error.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..ops import device as _device
from ..ops import nn_activation as _act
from ..ops import nn_conv as _conv
from ..ops import nn_layers as _lay
from ..ops.reduce import normalize_axis
from ._export_shapes import expand_target, reshape_target

RULES: dict = {}


def rule(*op_classes, dynamic_attrs=()):
    def register(fn):
        fn.dynamic_attrs = tuple(dynamic_attrs)
        for op in op_classes:
            RULES[op] = fn
        return fn
    return register


# ---- elementwise ------------------------------------------------------------------------
_BINARY = {ops.Add: "Add", ops.Sub: "Sub", ops.Mul: "Mul", ops.Div: "Div", ops.Pow: "Pow",
           ops.Maximum: "Max", ops.Minimum: "Min"}
_UNARY = {ops.Neg: "Neg", ops.Abs: "Abs", ops.Exp: "Exp", ops.Log: "Log", ops.Sqrt: "Sqrt",
          ops.Sin: "Sin", ops.Cos: "Cos", ops.Tanh: "Tanh", ops.Sigmoid: "Sigmoid",
          ops.Relu: "Relu", _device.ToDevice: "Identity"}


@rule(*_BINARY)
def _binary(c):
    dt = c.out_dtype()
    return c.b.node(_BINARY[c.op], [c.inp(0, dt), c.inp(1, dt)])


@rule(*_UNARY)
def _unary(c):
    return c.b.node(_UNARY[c.op], [c.inp(0, c.out_dtype())])


@rule(ops.Where)
def _where(c):
    dt = c.out_dtype()
    return c.b.node("Where", [c.inp(0, np.bool_), c.inp(1, dt), c.inp(2, dt)])


@rule(ops.Clip)
def _clip(c):
    dt = c.out_dtype()
    x = c.inp(0, dt)
    if all(c.is_none(i) or (c.is_const(i) and c.value(i).ndim == 0) for i in (1, 2)):
        return c.b.node("Clip", [x, c.inp(1, dt), c.inp(2, dt)])
    if not c.is_none(1):           # tensor bounds: elementwise max/min (as np.clip)
        x = c.b.node("Max", [x, c.inp(1, dt)])
    if not c.is_none(2):
        x = c.b.node("Min", [x, c.inp(2, dt)])
    return x


@rule(ops.PiecewiseConstant)
def _piecewise(c):
    fn, dt = c.attrs.get("fn", "floor"), c.out_dtype()
    x = c.inp(0, dt)
    if fn == "sign":
        return c.b.node("Sign", [x])
    if np.dtype(dt).kind in "iub":
        return c.b.node("Identity", [x])
    if fn in ("floor", "ceil"):
        return c.b.node(fn.capitalize(), [x])
    if fn == "trunc":                 # sign(x) floor(|x|)
        return c.b.node("Mul", [c.b.node("Sign", [x]),
                                c.b.node("Floor", [c.b.node("Abs", [x])])])
    if fn == "round":                 # half to even, as NumPy
        d = int(c.attrs.get("decimals", 0))
        if d == 0:
            return c.b.node("Round", [x])
        s = c.b.const(10.0 ** d, dt)
        return c.b.node("Div", [c.b.node("Round", [c.b.node("Mul", [x, s])]), s])
    raise c.fail(f"unknown rounding {fn!r}")


@rule(ops.Cast)
def _cast(c):
    return c.b.cast(c.inp(0), c.out_dtype())


# ---- comparisons, logic, integer arithmetic ---------------------------------------------
_CMP = {ops.Equal: "Equal", ops.Less: "Less", ops.LessEqual: "LessOrEqual",
        ops.Greater: "Greater", ops.GreaterEqual: "GreaterOrEqual"}


@rule(*_CMP, ops.NotEqual)
def _compare(c):
    dt = c.common_dtype(0, 1)
    if c.op is ops.NotEqual:
        return c.b.node("Not", [c.b.node("Equal", [c.inp(0, dt), c.inp(1, dt)])])
    return c.b.node(_CMP[c.op], [c.inp(0, dt), c.inp(1, dt)])


_LOGIC = {ops.BitwiseAnd: ("And", "BitwiseAnd"), ops.BitwiseOr: ("Or", "BitwiseOr"),
          ops.BitwiseXor: ("Xor", "BitwiseXor"), ops.BitwiseNot: ("Not", "BitwiseNot")}


@rule(*_LOGIC)
def _logic(c):
    dt = c.out_dtype()
    ins = [c.inp(i, dt) for i in range(c.n_inputs)]
    boolean, bitwise = _LOGIC[c.op]
    if np.dtype(dt) == np.bool_:
        return c.b.node(boolean, ins)
    if c.b.opset < 18:
        raise c.fail(f"bitwise ops on {dt} integers need opset 18 (asked: {c.b.opset})")
    return c.b.node(bitwise, ins)


@rule(ops.FloorDivide)
def _floordiv(c):
    dt = c.out_dtype()
    if np.dtype(dt).kind != "f":
        raise c.fail(f"floor division of {dt} integers has no ONNX operator (ONNX's Div "
                     "truncates toward zero); divide floats instead")
    return c.b.node("Floor", [c.b.node("Div", [c.inp(0, dt), c.inp(1, dt)])])


@rule(ops.Remainder)
def _remainder(c):
    dt = c.out_dtype()
    a, b = c.inp(0, dt), c.inp(1, dt)
    if np.dtype(dt).kind in "iu":
        return c.b.node("Mod", [a, b], fmod=0)      # the sign of b, as Python and NumPy
    q = c.b.node("Floor", [c.b.node("Div", [a, b])])
    return c.b.node("Sub", [a, c.b.node("Mul", [q, b])])


@rule(ops.IsNan)
def _isnan(c):
    x = c.inp(0)
    if c.dtype(0).kind != "f":
        x = c.b.cast(x, np.float32)
    return c.b.node("IsNaN", [x])


@rule(ops.IsFinite)
def _isfinite(c):
    x = c.inp(0)
    if c.dtype(0).kind != "f":
        x = c.b.cast(x, np.float32)
    return c.b.node("Not", [c.b.node("Or", [c.b.node("IsInf", [x]), c.b.node("IsNaN", [x])])])


@rule(ops.Any, ops.All)
def _any_all(c):
    x = c.inp(0, np.bool_)
    red = c.b.reduce("ReduceMax" if c.op is ops.Any else "ReduceMin",
                     c.b.cast(x, np.int32), None, keepdims=False)
    return c.b.cast(red, np.bool_)


@rule(ops.ArgMax)
def _argmax(c):
    op = "ArgMin" if c.attrs.get("minimum") else "ArgMax"
    axis, keep = c.attrs.get("axis"), bool(c.attrs.get("keepdims"))
    x = c.inp(0)
    if axis is None:
        y = c.b.node(op, [c.b.node("Reshape", [x, c.b.ints([-1])])], axis=0, keepdims=int(keep))
        return c.b.node("Reshape", [y, c.b.ints([1] * c.ndim(0))]) if keep else y
    return c.b.node(op, [x], axis=int(axis) % max(c.ndim(0), 1), keepdims=int(keep))


@rule(ops.OneHot)
def _one_hot(c):
    dt = c.out_dtype()
    depth = c.b.const(np.int64(c.attrs["num_classes"]))
    values = c.b.const(np.array([0, 1], dt))
    return c.b.node("OneHot", [c.inp(0), depth, values], axis=-1)


def as_index(c, i):
    """Index array input ``i`` as int64 (ONNX Gather takes int32/int64)."""
    return c.inp(i, np.int64) if c.dtype(i) != np.int32 else c.inp(i)


# ---- shapes -----------------------------------------------------------------------------
@rule(ops.Reshape, dynamic_attrs=("shape",))
def _reshape(c):
    target = reshape_target(c.shape(0), c.alt_shape(0), c.out_shape(), c.alt_out_shape(),
                            c.fail)
    return c.b.node("Reshape", [c.inp(0), c.b.ints(target)])


@rule(ops.Permute)
def _permute(c):
    nd = c.ndim(0)
    dims = c.attrs.get("dims")
    perm = list(range(nd))[::-1] if dims is None else [int(d) % nd for d in dims]
    return c.b.node("Transpose", [c.inp(0)], perm=perm)


@rule(ops.Expand, dynamic_attrs=("shape",))
def _expand(c):
    target = expand_target(c.shape(0), c.alt_shape(0), c.out_shape(), c.alt_out_shape(),
                           c.fail)
    return c.b.node("Expand", [c.inp(0), c.b.ints(target)])


@rule(ops.Concatenate)
def _concat(c):
    dt = c.out_dtype()
    axis = int(c.attrs.get("axis", 0)) % len(c.out_shape())
    return c.b.node("Concat", [c.inp(i, dt) for i in range(c.n_inputs)], axis=axis)


@rule(ops.Stack)
def _stack(c):
    dt = c.out_dtype()
    axis = int(c.attrs.get("axis", 0)) % len(c.out_shape())
    parts = [c.b.unsqueeze(c.inp(i, dt), [axis]) for i in range(c.n_inputs)]
    return c.b.node("Concat", parts, axis=axis)


@rule(ops.Pad)
def _pad(c):
    dt = c.out_dtype()
    widths = [tuple(int(v) for v in w) for w in c.attrs["widths"]]
    pads = [w[0] for w in widths] + [w[1] for w in widths]
    value = c.b.const(np.asarray(c.attrs.get("value", 0.0), dt))
    return c.b.node("Pad", [c.inp(0, dt), c.b.ints(pads), value], mode="constant")


# ---- linear algebra and layers ----------------------------------------------------------
@rule(ops.MatMul)
def _matmul(c):
    dt = c.out_dtype()
    return c.b.node("MatMul", [c.inp(0, dt), c.inp(1, dt)])


@rule(_lay.Linear)
def _linear(c):
    dt = c.out_dtype()
    x, w, b = c.inp(0, dt), c.inp(1, dt), c.inp(2, dt)
    if c.ndim(0) == 2:
        return c.b.node("Gemm", [x, w, b], transB=1)
    y = c.b.node("MatMul", [x, c.b.node("Transpose", [w], perm=[1, 0])])
    return y if b == "" else c.b.node("Add", [y, b])


@rule(_lay.Dropout)
def _dropout(c):
    dt = c.out_dtype()
    return c.b.node("Mul", [c.inp(0, dt), c.inp(1, dt)])


@rule(_lay.Embedding)
def _embedding(c):
    return c.b.node("Gather", [c.inp(0), as_index(c, 1)], axis=0)


@rule(_lay.LayerNorm)
def _layer_norm(c):
    dt = c.out_dtype()
    nd = int(c.attrs.get("ndims", 1))
    scale = c.inp(1, dt) if not c.is_none(1) else \
        c.b.const(np.ones(c.shape(0)[-nd:], dt))
    return c.b.node("LayerNormalization", [c.inp(0, dt), scale, c.inp(2, dt)],
                    axis=-nd, epsilon=float(c.attrs.get("eps", 1e-5)))


@rule(_lay.BatchNormTrain)
def _batch_norm_batch_stats(c):
    """Batch statistics (a batch norm without running statistics): the formula spelled out;
    outputs (y, mean, biased var) as ember's primitive."""
    dt = c.out_dtype()
    nd = c.ndim(0)
    axes = [0] + list(range(2, nd))
    bs = [1, -1] + [1] * (nd - 2)
    x = c.inp(0, dt)
    mean = c.b.reduce("ReduceMean", x, axes, keepdims=True)
    xc = c.b.node("Sub", [x, mean])
    var = c.b.reduce("ReduceMean", c.b.node("Mul", [xc, xc]), axes, keepdims=True)
    eps = c.b.const(np.asarray(c.attrs.get("eps", 1e-5), dt))
    y = c.b.node("Div", [xc, c.b.node("Sqrt", [c.b.node("Add", [var, eps])])])
    if not c.is_none(1):
        y = c.b.node("Mul", [y, c.b.node("Reshape", [c.inp(1, dt), c.b.ints(bs)])])
    if not c.is_none(2):
        y = c.b.node("Add", [y, c.b.node("Reshape", [c.inp(2, dt), c.b.ints(bs)])])
    flat = c.b.ints([-1])
    return [y, c.b.node("Reshape", [mean, flat]), c.b.node("Reshape", [var, flat])]


# ---- activations ------------------------------------------------------------------------
@rule(_act.Softmax, _act.LogSoftmax)
def _softmax(c):
    op = "Softmax" if c.op is _act.Softmax else "LogSoftmax"
    return c.b.node(op, [c.inp(0, c.out_dtype())], axis=int(c.attrs.get("axis", -1)))


@rule(_act.LeakyRelu)
def _leaky(c):
    return c.b.node("LeakyRelu", [c.inp(0)], alpha=float(c.attrs.get("negative_slope", 0.01)))


@rule(_act.Elu)
def _elu(c):
    return c.b.node("Elu", [c.inp(0)], alpha=float(c.attrs.get("alpha", 1.0)))


@rule(_act.Softplus)
def _softplus(c):
    """log(1 + e^(beta x)) / beta; above ember's threshold the two agree to rounding."""
    beta, dt = float(c.attrs.get("beta", 1.0)), c.out_dtype()
    x = c.inp(0, dt)
    if beta == 1.0:
        return c.b.node("Softplus", [x])
    bt = c.b.const(np.asarray(beta, dt))
    return c.b.node("Div", [c.b.node("Softplus", [c.b.node("Mul", [x, bt])]), bt])


@rule(_act.Gelu)
def _gelu(c):
    """Opset 17 has no Gelu: x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), or the tanh form."""
    dt = c.out_dtype()
    x = c.inp(0, dt)
    k = lambda v: c.b.const(np.asarray(v, dt))  # noqa: E731
    if c.attrs.get("approximate", "none") == "tanh":
        cube = c.b.node("Mul", [c.b.node("Mul", [x, x]), x])
        inner = c.b.node("Add", [x, c.b.node("Mul", [cube, k(0.044715)])])
        t = c.b.node("Tanh", [c.b.node("Mul", [inner, k(math.sqrt(2.0 / math.pi))])])
    else:
        t = c.b.node("Erf", [c.b.node("Mul", [x, k(1.0 / math.sqrt(2.0))])])
    half_x = c.b.node("Mul", [x, k(0.5)])
    return c.b.node("Mul", [half_x, c.b.node("Add", [t, k(1.0)])])


# ---- reductions -------------------------------------------------------------------------
def _axes(c, axis):
    return list(normalize_axis(axis, c.ndim(0)))


@rule(ops.Sum, ops.Mean)
def _sum_mean(c):
    op = "ReduceSum" if c.op is ops.Sum else "ReduceMean"
    return c.b.reduce(op, c.inp(0, c.out_dtype()), _axes(c, c.attrs.get("axis")),
                      bool(c.attrs.get("keepdims")))


@rule(ops.Amax)
def _amax(c):
    op = "ReduceMin" if c.attrs.get("minimum") else "ReduceMax"
    return c.b.reduce(op, c.inp(0), _axes(c, c.attrs.get("axis")),
                      bool(c.attrs.get("keepdims")))


@rule(ops.Prod)
def _prod(c):
    axis = c.attrs.get("axis")
    return c.b.reduce("ReduceProd", c.inp(0, c.out_dtype()),
                      None if axis is None else _axes(c, axis), bool(c.attrs.get("keepdims")))


@rule(ops.LogSumExp)
def _logsumexp(c):
    """m + log sum exp(x - m), m the max (ReduceLogSumExp is not stable in every runtime)."""
    dt = c.out_dtype()
    x = c.inp(0, dt)
    axes, keep = _axes(c, c.attrs.get("axis")), bool(c.attrs.get("keepdims"))
    m = c.b.reduce("ReduceMax", x, axes, keepdims=True)
    s = c.b.reduce("ReduceSum", c.b.node("Exp", [c.b.node("Sub", [x, m])]), axes, keepdims=True)
    y = c.b.node("Add", [c.b.node("Log", [s]), m])
    return y if keep else c.b.squeeze(y, axes)


@rule(ops.Var, ops.Std)
def _var_std(c):
    dt = c.out_dtype()
    x = c.inp(0, dt)
    axes, keep = _axes(c, c.attrs.get("axis")), bool(c.attrs.get("keepdims"))
    corr = c.attrs.get("correction", 1)
    d = c.b.node("Sub", [x, c.b.reduce("ReduceMean", x, axes, keepdims=True)])
    ss = c.b.reduce("ReduceSum", c.b.node("Mul", [d, d]), axes, keepdims=keep)
    if set(axes) & c.dyn(0):          # the count follows a dynamic axis: read it at run time
        shape = c.b.node("Shape", [x])
        count = c.b.reduce("ReduceProd", c.b.node("Gather", [shape, c.b.ints(axes)], axis=0),
                           None, keepdims=False)
        n = c.b.node("Sub", [c.b.cast(count, dt), c.b.const(np.asarray(corr, dt))])
    else:
        n = c.b.const(np.asarray(math.prod(c.shape(0)[a] for a in axes) - corr, dt))
    var = c.b.node("Div", [ss, n])
    return var if c.op is ops.Var else c.b.node("Sqrt", [var])


# ---- convolution and pooling ------------------------------------------------------------
@rule(_conv.Conv2d)
def _conv2d(c):
    dt = c.out_dtype()
    (pt, pb), (pl, pr) = c.attrs.get("padding", ((0, 0), (0, 0)))
    kh, kw = c.shape(1)[2:]
    return c.b.node("Conv", [c.inp(0, dt), c.inp(1, dt), c.inp(2, dt)],
                    kernel_shape=[kh, kw], strides=list(c.attrs.get("stride", (1, 1))),
                    pads=[pt, pl, pb, pr], dilations=list(c.attrs.get("dilation", (1, 1))),
                    group=int(c.attrs.get("groups", 1)))


def _pool_pads(c):
    ph, pw = c.attrs.get("padding", (0, 0))
    return [ph, pw, ph, pw]


@rule(_conv.MaxPool2d)
def _maxpool(c):
    return c.b.node("MaxPool", [c.inp(0)], kernel_shape=list(c.attrs.get("kernel", (2, 2))),
                    strides=list(c.attrs.get("stride", (2, 2))), pads=_pool_pads(c),
                    dilations=list(c.attrs.get("dilation", (1, 1))))


@rule(_conv.AvgPool2d)
def _avgpool(c):
    return c.b.node("AveragePool", [c.inp(0)],
                    kernel_shape=list(c.attrs.get("kernel", (2, 2))),
                    strides=list(c.attrs.get("stride", (2, 2))), pads=_pool_pads(c),
                    count_include_pad=int(bool(c.attrs.get("count_include_pad", True))))


from . import _export_index, _export_rnn  # noqa: E402,F401  (register their rules)
