"""TensorFlow 1's graph API on ember: ``import ember.compat.v1 as tf``.

Every op here adds a node of ``ember.graph`` that runs an ``ember.ops`` primitive; nothing is
computed until ``Session.run``. Names, arguments and defaults follow TensorFlow 1.x
(``tf.placeholder``, ``tf.Variable``, ``tf.reduce_sum(x, axis, keepdims)``, ``tf.train.*``...).
"""
from __future__ import annotations

import builtins
import contextlib

import numpy as np

from ... import ops as _ops
from ...graph import Graph, Node, Session, Shape, Value, Variable, get_default_session
from ...graph import build as _b
from ...graph.autodiff import gradients as _gradients
from ...graph.ir import get_default_graph, reset_default_graph
from . import initializers as _init
from .initializers import (constant_initializer, glorot_normal_initializer,
                           glorot_uniform_initializer, ones_initializer, random_normal_initializer,
                           random_uniform_initializer, truncated_normal_initializer,
                           zeros_initializer)

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8 = np.uint8
bool = np.bool_  # noqa: A001 - TensorFlow's name
string = np.object_
Tensor = Value
Operation = Node
TensorShape = Shape
GraphKeys = type("GraphKeys", (), {"GLOBAL_VARIABLES": "variables",
                                   "TRAINABLE_VARIABLES": "trainable_variables",
                                   "SUMMARIES": "summaries"})


# ---- graph, scopes, seeds --------------------------------------------------------------------

def name_scope(name, default_name=None, values=None):
    """Prefix the names of ops built inside with ``name/`` (TensorBoard groups them)."""
    return get_default_graph().name_scope(name or default_name)


def set_random_seed(seed: int) -> None:
    """Graph-level seed: every random op of the default graph becomes repeatable."""
    get_default_graph().seed = int(seed)


@contextlib.contextmanager
def device(name):
    """Accepted and ignored: ember's graph runs where its arrays live (CPU NumPy)."""
    yield


def control_dependencies(control_inputs):
    """Ops created inside run after ``control_inputs`` (ops or tensors); None clears.
    Only new ops get the dependency: read a variable through ``tf.identity(v)`` inside."""
    return get_default_graph().control_dependencies(control_inputs)


def identity(input, name=None) -> Value:  # noqa: A002 - TensorFlow's name
    """A new op whose output is ``input``'s value (the gradient passes through unchanged)."""
    x = _b.as_value(input)
    return _b.apply(_ops.Cast, x, dtype=x.dtype, name=name or "Identity")


# ---- creating tensors ------------------------------------------------------------------------

def placeholder(dtype, shape=None, name=None) -> Value:
    """An input that ``Session.run`` takes from ``feed_dict``; None dims accept any size."""
    return _b.placeholder(dtype, shape, name)


def constant(value, dtype=None, shape=None, name="Const") -> Value:
    return _b.constant(value, dtype, shape, name)


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None) -> Value:
    return _init.RandomNormal(mean, stddev, seed)(_shape(shape), dtype)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None) -> Value:
    return _init.RandomNormal(mean, stddev, seed, truncated=True)(_shape(shape), dtype)


def random_uniform(shape, minval=0, maxval=None, dtype=float32, seed=None, name=None) -> Value:
    return _init.RandomUniform(minval, maxval, seed)(_shape(shape), dtype)


def zeros(shape, dtype=float32, name="zeros") -> Value:
    return _b.constant(np.zeros(_shape(shape), dtype), name=name)


def ones(shape, dtype=float32, name="ones") -> Value:
    return _b.constant(np.ones(_shape(shape), dtype), name=name)


def zeros_like(x, dtype=None, name="zeros_like") -> Value:
    x = convert_to_tensor(x)
    return x * 0 if dtype is None else cast(x, dtype) * 0


def ones_like(x, dtype=None, name="ones_like") -> Value:
    x = convert_to_tensor(x)
    o = _b.ones_like(x)
    return o if dtype is None else cast(o, dtype)


def convert_to_tensor(value, dtype=None, name=None) -> Value:
    return _b.as_value(value, None if dtype is None else np.dtype(dtype))


# ---- variables ----------------------------------------------------------------------------

def assign(ref: Variable, value, name=None) -> Value:
    return ref.assign(value, name=name)


def assign_add(ref: Variable, value, name=None) -> Value:
    return ref.assign_add(value, name=name)


def assign_sub(ref: Variable, value, name=None) -> Value:
    return ref.assign_sub(value, name=name)


def global_variables(scope=None) -> list:
    return list(get_default_graph().variables)


def trainable_variables(scope=None) -> list:
    return [v for v in get_default_graph().variables if v.trainable]


def variables_initializer(var_list, name="init") -> Node:
    return _b.group([v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Node:
    """One op that runs every variable's initializer (of the variables made so far)."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


# ---- math ---------------------------------------------------------------------------------

def _binary(op):
    def f(x, y, name=None):
        return _b.apply(op, x, y, name=name)
    return f


add = _binary(_ops.Add)
subtract = _binary(_ops.Sub)
multiply = _binary(_ops.Mul)
divide = truediv = div = _binary(_ops.Div)
maximum = _binary(_ops.Maximum)
minimum = _binary(_ops.Minimum)
pow = _binary(_ops.Pow)  # noqa: A001


def _unary(op):
    def f(x, name=None):
        return _b.apply(op, x, name=name)
    return f


negative = _unary(_ops.Neg)
abs = _unary(_ops.Abs)  # noqa: A001
exp = _unary(_ops.Exp)
log = _unary(_ops.Log)
sqrt = _unary(_ops.Sqrt)
sin = _unary(_ops.Sin)
cos = _unary(_ops.Cos)
tanh = _unary(_ops.Tanh)
sigmoid = _unary(_ops.Sigmoid)


def square(x, name=None) -> Value:
    x = convert_to_tensor(x)
    return _b.apply(_ops.Mul, x, x, name=name or "Square")


def add_n(inputs, name=None) -> Value:
    total = inputs[0]
    for x in inputs[1:]:
        total = _b.apply(_ops.Add, total, x, name=name or "AddN")
    return total


def matmul(a, b, transpose_a=False, transpose_b=False, name=None) -> Value:
    """a @ b (the last two dims), optionally transposing either first."""
    if transpose_a:
        a = transpose(a)
    if transpose_b:
        b = transpose(b)
    return _b.apply(_ops.MatMul, a, b, name=name)


def transpose(a, perm=None, name=None) -> Value:
    a = convert_to_tensor(a)
    if perm is None and a.shape is not None:
        perm = tuple(range(len(a.shape)))[::-1]
    return _b.apply(_ops.Permute, a, dims=None if perm is None else tuple(perm),
                    name=name or "transpose")


def _reduce(op, label, **extra):
    def f(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
          keep_dims=None):
        if axis is None:
            axis = reduction_indices
        keep = builtins.bool(keepdims if keepdims is not None else keep_dims)
        if isinstance(axis, list):
            axis = tuple(axis)
        return _b.apply(op, input_tensor, axis=axis, keepdims=keep, name=name or label, **extra)
    f.__name__ = label
    return f


reduce_sum = _reduce(_ops.Sum, "Sum")
reduce_mean = _reduce(_ops.Mean, "Mean")
reduce_max = _reduce(_ops.Amax, "Max")
reduce_min = _reduce(_ops.Amax, "Min", minimum=True)
reduce_logsumexp = _reduce(_ops.LogSumExp, "LogSumExp")


def reshape(tensor, shape, name=None) -> Value:
    return _b.apply(_ops.Reshape, tensor, shape=tuple(int(d) for d in shape),
                    name=name or "Reshape")


def argmax(input, axis=None, name=None, dimension=None, output_type=int64) -> Value:  # noqa: A002
    """Index of the largest entry along ``axis`` (TensorFlow's default axis is 0)."""
    axis = dimension if axis is None else axis
    out = _b.apply(_ops.ArgMax, input, axis=0 if axis is None else int(axis), name=name or "ArgMax")
    return out if np.dtype(output_type) == np.int64 else cast(out, output_type)


def argmin(input, axis=None, name=None, dimension=None, output_type=int64) -> Value:  # noqa: A002
    axis = dimension if axis is None else axis
    out = _b.apply(_ops.ArgMax, input, axis=0 if axis is None else int(axis), minimum=True,
                   name=name or "ArgMin")
    return out if np.dtype(output_type) == np.int64 else cast(out, output_type)


def _compare(op):
    def f(x, y, name=None):
        return _b.apply(op, x, y, name=name or op.__name__)
    return f


equal = _compare(_ops.Equal)
not_equal = _compare(_ops.NotEqual)
less = _compare(_ops.Less)
less_equal = _compare(_ops.LessEqual)
greater = _compare(_ops.Greater)
greater_equal = _compare(_ops.GreaterEqual)


def cast(x, dtype, name=None) -> Value:
    x = convert_to_tensor(x)
    if x.dtype == np.dtype(dtype):
        return x
    return _b.apply(_ops.Cast, x, dtype=np.dtype(dtype), name=name or "Cast")


def where(condition, x, y, name=None) -> Value:
    return _b.apply(_ops.Where, condition, x, y, name=name or "Select")


def clip_by_value(t, clip_value_min, clip_value_max, name=None) -> Value:
    t = convert_to_tensor(t)
    return _b.apply(_ops.Clip, t, _b.as_value(clip_value_min, t.dtype),
                    _b.as_value(clip_value_max, t.dtype), name=name or "clip")


def concat(values, axis, name="concat") -> Value:
    return _b.apply(_ops.Concatenate, *values, axis=int(axis), name=name)


def stack(values, axis=0, name="stack") -> Value:
    return _b.apply(_ops.Stack, *values, axis=int(axis), name=name)


def gradients(ys, xs, grad_ys=None, name="gradients", **unused) -> list:
    """Symbolic d(sum ys)/dx for each x in ``xs``: graph tensors (None where unconnected)."""
    return _gradients(ys, xs, grad_ys, name=name)


def group(*inputs, name="group") -> Node:
    """An op that runs all ``inputs`` (fetch it to run the updates it groups)."""
    return _b.group(*inputs, name=name)


def no_op(name="NoOp") -> Node:
    return _b.group(name=name)


# ---- submodules (imported last: they use the functions above) -------------------------------
from . import nn, losses, train, layers, contrib, keras, summary  # noqa: E402

__all__ = [n for n, v in list(globals().items()) if not n.startswith("_") and n not in (
    "annotations", "builtins", "contextlib", "np")]
