"""``tf.layers.dense``: a fully connected layer made of Variables (kernel (in, units), bias) in
its own name scope, so TensorBoard draws it as one box."""
from __future__ import annotations

from ... import ops as _ops
from ...graph import build as _b
from . import initializers as _init


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, trainable=True, name=None, reuse=None, **unused):
    """activation(inputs @ kernel + bias); the kernel defaults to Glorot uniform, bias to 0."""
    x = _b.as_value(inputs)
    if x.shape is None or x.shape[-1] is None:
        raise ValueError(f"dense: the last dimension of the inputs must be known, got shape "
                         f"{x.shape} for {x.name!r}")
    graph = x.node.graph
    kinit = _init.get(kernel_initializer) or _init.glorot_uniform_initializer()
    binit = _init.get(bias_initializer) or _init.zeros_initializer()
    with graph.as_default(), graph.name_scope(name or "dense"):
        kernel = _b.Variable(kinit((x.shape[-1], int(units)), x.dtype), trainable=trainable,
                             name="kernel")
        out = _b.apply(_ops.MatMul, x, kernel, name="MatMul")
        if use_bias:
            bias = _b.Variable(binit((int(units),), x.dtype), trainable=trainable, name="bias")
            out = _b.apply(_ops.Add, out, bias, name="BiasAdd")
        if activation is not None:
            out = activation(out)
    return out
