"""A jitted call inside eager autograd: the compiled graph as one node of the eager tape.

When a jitted function is called with grad mode on, on tensors (arguments, or parameters it
reads) that require grad, and does not call ``backward()`` itself, its result may be used in an
eager loss. The program is then compiled with its gradient graph (``gradients(outputs, inputs,
grad_ys=<upstream gradients>)``) and split in two phases: the forward phase runs on the call;
the backward phase runs when the eager ``backward()`` reaches the call, in the same run (the
same saved contexts, the same dropout masks), and returns one gradient per input.

On the tape: one :class:`CompiledCall` node whose parents are the inputs needing a gradient;
its output is a hidden 0-d bundle, and each differentiable result is an :class:`Output` node
reading the bundle. An ``Output``'s backward files its upstream gradient with the call and
passes a zero to the bundle; the engine reaches the bundle after every ``Output`` that the loss
depends on (they are computed from it), so the call's backward sees all of them at once.
"""
from __future__ import annotations

import numpy as np

from ..dispatch import _next_seq
from ..ops.function import Function
from ..tensor import Tensor

_new = object.__new__


class CompiledCall(Function):
    """The backward of one jitted call: the compiled backward phase of its run."""

    saves_inputs = False

    @property
    def name(self):
        return f"JitBackward<{self.label}>"

    @staticmethod
    def backward(ctx, g):
        run = ctx.run
        if run is None:  # the run's slots went with the first backward
            raise RuntimeError(f"{ctx.name}: a jitted call's backward runs once; backward() "
                               "through it again (retain_graph=True) is not supported. Call "
                               "the function without ember.jit to backward twice.")
        exe, env, rt, state = run["exe"], run["env"], run["rt"], run["state"]
        for k, (shape, dtype) in enumerate(run["out_specs"]):
            a = run["upstream"][k]
            if a is None:  # a result the loss does not use: its gradient is zero
                a = np.zeros(shape, dtype)
            elif a.dtype != dtype:
                a = a.astype(dtype)
            exe.feed(env, run["n_args"] + k, a)
        exe.run_steps(env, rt, run["phase2"])
        got = exe.finish(env, rt, state, run["grad_fetches"])
        ctx.run = None  # the run's arrays are released with the node
        out = [None] * run["n_parents"]
        for i, a in zip(run["grad_of"], got):
            out[i] = a
        return tuple(out)


class Output(Function):
    """One differentiable result of a jitted call: files its gradient with the call."""

    saves_inputs = False

    @staticmethod
    def backward(ctx, g):
        up = ctx.call_run["upstream"]
        k = ctx.k
        up[k] = g if up[k] is None else up[k] + g
        return (np.zeros((), np.float32),)


def _tensor(data, ctx=None):
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = ctx is not None
    t._ctx = ctx
    t._vb = [0]
    t._hooks = None
    return t


def attach(parents, run, results, diff, label):
    """Tensors for ``results`` (arrays); those at positions ``diff`` on the tape, through one
    :class:`CompiledCall` node over ``parents``."""
    call = _new(CompiledCall)
    call.parents = tuple(parents)
    call.needs = (True,) * len(parents)
    call.vchecks = None
    call.seq = _next_seq()  # creation order, which backward walks by
    call.run = run
    call.label = label
    bundle = _tensor(np.zeros((), np.float32), call)
    out = []
    for i, a in enumerate(results):
        if not isinstance(a, np.ndarray):
            out.append(a)
            continue
        k = diff.get(i)
        if k is None:
            out.append(_tensor(a))
            continue
        o = _new(Output)
        o.parents = (bundle,)
        o.needs = (True,)
        o.vchecks = None
        o.seq = _next_seq()
        o.call_run = run
        o.k = k
        out.append(_tensor(a, o))
    return out
