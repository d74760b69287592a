"""Lowerings: a few hot primitives written as NumPy calls with ``out=`` for generated code.

A lowering is the compiled form of one primitive's forward rule and its backward rule, for the
common configurations only (2-D inputs, floating dtypes, default attributes). It writes into
buffers allocated once, so a replay allocates nothing for these nodes. Every other primitive,
and every other configuration, runs its own rule from ``ember/ops`` (the rules stay the one
definition of each op). ``tests/graph/test_codegen.py`` runs each lowering against its
primitive's ``forward`` and ``backward`` on random inputs, so they cannot drift apart.

Interface: ``fits(node)``; ``forward(w, node, args) -> saved`` writes lines through the
:class:`~ember.graph.codegen.ProgramWriter` ``w`` and names the node's outputs;
``backward(w, node, gnode, saved, g)`` names the outputs of the grad node ``gnode``.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..ops import nn_layers, nn_loss


def _float(v) -> bool:
    return v.dtype is not None and v.dtype.kind == "f"


def _shape(v):
    return tuple(v.shape) if v.shape is not None and None not in v.shape else None


def _is_none(v) -> bool:
    return v.node.kind == "const" and v.node.attrs.get("value") is None


def _into(w, v, call: str, args: str, prefix="B") -> str:
    """``call(args, out=buffer)``, or a fresh ``call(args)`` when ``v`` is handed out."""
    b = w.out(v, prefix)
    if b is None:
        n = w.local(v)
        w.em.emit(f"{n} = {call}({args})")
        w.fresh.add(v)
        return n
    w.em.emit(f"{call}({args}, out={b})")
    w.names[v] = b
    return b


def _bad_target(idx, c):
    """A target outside [0, c) that is not ignored: the error eager ``F.cross_entropy`` gives
    (its check runs on the traced call only, so the replay checks here)."""
    bad = (idx < 0) | (idx >= c)
    v = int(idx[bad][0]) if np.ndim(idx) else int(idx)
    raise IndexError(f"cross_entropy: target {v} is out of bounds for {c} classes (valid "
                     f"class indices are 0..{c - 1})")


def _flat(w, name: str) -> str:
    """A 1-D view of a one-row array: bound once for a buffer, else made on the call."""
    a = w.em.ns.get(name)
    if isinstance(a, np.ndarray) and any(a is b for b in w.em.buffers):
        return w.em.bind(a.reshape(-1), "BF")
    return f"{name}.reshape(-1)"


class Linear:
    """``y = x @ w.T (+ b)`` on 2-D ``x``; backward ``g @ w``, ``g.T @ x``, ``g.sum(0)``."""

    def fits(self, n):
        x, wv = n.inputs[0], n.inputs[1]
        return (len(n.inputs) == 3 and not n.attrs and not n.dyn_attrs and _float(x) and
                _shape(x) is not None and len(x.shape) == 2 and _shape(wv) is not None and
                x.dtype == wv.dtype and n.outputs[0].dtype == x.dtype and
                (_is_none(n.inputs[2]) or n.inputs[2].dtype == x.dtype))

    def forward(self, w, n, args):
        x, wt, b = args
        em = w.em
        y = n.outputs[0]
        out = _into(w, y, "matmul", f"{x}, {wt}.T")
        if not _is_none(n.inputs[2]):
            if y.shape[0] == 1 and out in em.ns:  # one row: add on flat views (no broadcast)
                flat = em.bind(em.ns[out].reshape(-1), "BF")
                em.emit(f"add({flat}, {b}, out={flat})")
            else:
                em.emit(f"add({out}, {b}, out={out})")
        return (x, wt)

    def backward(self, w, n, gn, saved, g):
        x, wt = saved
        needs = gn.attrs["needs"]
        outs = iter(gn.outputs)
        if needs[0]:
            _into(w, next(outs), "matmul", f"{g}, {wt}")
        if needs[1]:
            if n.inputs[0].shape[0] == 1:  # one row: an outer product, one product per entry
                col = w.em.ns.get(g)
                col = (w.em.bind(col.T, "BT") if any(col is b for b in w.em.buffers) else
                       f"{g}.T") if isinstance(col, np.ndarray) else f"{g}.T"
                _into(w, next(outs), "multiply", f"{col}, {x}")
            else:
                _into(w, next(outs), "matmul", f"{g}.T, {x}")
        if len(needs) > 2 and needs[2] and not _is_none(n.inputs[2]):
            v = next(outs)
            if n.inputs[0].shape[0] == 1:  # the sum of one row is that row (same bits)
                row = _flat(w, g)
                w.em.emit(f"{w.local(v)} = {row}.copy()")
                w.fresh.add(v)
            else:
                _into(w, v, "add.reduce", f"{g}, 0")
        elif len(needs) > 2 and needs[2]:  # b is None: the grad node still has an output
            v = next(outs)
            w.names[v] = w.em.bind(None, "NONE")


class Relu:
    """``max(x, 0)``; backward ``g * (y > 0)``."""

    def fits(self, n):
        x = n.inputs[0]
        return (not n.attrs and not n.dyn_attrs and _float(x) and _shape(x) is not None and
                n.outputs[0].dtype == x.dtype)

    def forward(self, w, n, args):
        zero = w.em.bind(n.inputs[0].dtype.type(0), "Z")
        y = _into(w, n.outputs[0], "maximum", f"{args[0]}, {zero}")
        return (y, zero)

    def backward(self, w, n, gn, saved, g):
        y, zero = saved
        em = w.em
        mask = em.buffer(n.outputs[0].shape, np.bool_, "M")
        em.emit(f"greater({y}, {zero}, out={mask})")
        # g * mask: the float loop either way (a bool operand is cast up, exactly)
        _into(w, gn.outputs[0], "multiply", f"{g}, {mask}")


class Reshape:
    """A view; backward reshapes the gradient back."""

    def fits(self, n):
        return set(n.attrs) <= {"shape"} and not n.dyn_attrs and _shape(n.inputs[0]) is not None

    def forward(self, w, n, args):
        v = n.outputs[0]
        if _shape(v) == _shape(n.inputs[0]) and v not in w.fetched:
            w.names[v] = args[0]  # a reshape to the same shape: the same array will do
            return None
        shape = w.em.bind(n.attrs.get("shape"), "SH")
        w.em.emit(f"{w.local(v)} = {args[0]}.reshape({shape})")
        return None

    def backward(self, w, n, gn, saved, g):
        w.em.emit(f"{w.local(gn.outputs[0])} = {g}.reshape({tuple(n.inputs[0].shape)!r})")


class SoftmaxCrossEntropy:
    """Mean cross-entropy of logits ``z`` (M, C) against integer targets, no class weights, no
    label smoothing (the rule's Q is then one-hot of the valid rows)::

        logp = z - m - log(sum(exp(z - m)));  loss = -sum(valid * logp[i, t_i]) / sum(valid)
        dz = (exp(logp) * valid[:, None] - onehot(t) * valid[:, None]) * g / sum(valid)
    """

    def fits(self, n):
        z, t = n.inputs[0], n.inputs[1]
        a = n.attrs
        return (len(n.inputs) == 3 and _is_none(n.inputs[2]) and not n.dyn_attrs and _float(z)
                and _shape(z) is not None and len(z.shape) == 2 and _shape(t) is not None and
                len(t.shape) == 1 and t.dtype.kind in "iu" and a.get("reduction") == "mean"
                and float(a.get("label_smoothing", 0.0)) == 0.0 and
                n.outputs[0].dtype == z.dtype)

    def forward(self, w, n, args):
        if n.inputs[0].shape[0] == 1:
            return self._forward_row(w, n, args)
        em = w.em
        z, t = args[0], args[1]
        zv = n.inputs[0]
        (m, c), dt = zv.shape, zv.dtype
        mx = em.buffer((m, 1), dt, "MX")
        s = em.buffer((m, c), dt, "S")
        se = em.buffer((m, 1), dt, "SE")
        valid = em.buffer((m,), np.bool_, "VA")
        wy = em.buffer((m,), dt, "WY")
        idx = em.buffer((m,), np.intp, "IX")
        lv = em.buffer((m,), dt, "LV")
        flat = em.bind(em.ns[s].reshape(-1), "SF")  # a flat view of S, for take
        offs = em.bind(np.arange(m, dtype=np.intp) * c, "OF")
        ign = em.bind(np.int64(n.attrs.get("ignore_index", -100)), "IG")
        ddt = em.bind(np.dtype(dt), "DT")
        nan = em.bind(np.asarray(np.nan, dt), "NAN")
        bad = em.bind(_bad_target, "badt")
        # logp into S, as log_softmax: m = max (0 where not finite), s = z - m, s -= log(sum exp)
        em.emit(f"maximum.reduce({z}, 1, None, {mx}, True)")
        em.emit(f"if not misfinite(add.reduce({mx}, None)): "
                f"copyto({mx}, 0, where=~isfinite({mx}))")
        em.emit(f"subtract({z}, {mx}, out={s})")
        em.emit(f"add.reduce(exp({s}), 1, None, {se}, True)")
        em.emit(f"log({se}, out={se})")
        em.emit(f"subtract({s}, {se}, out={s})")
        # the picked log-probabilities of the valid rows
        em.emit(f"not_equal({t}, {ign}, out={valid})")
        em.emit(f"multiply({t}, {valid}, out={idx})")  # where(valid, t, 0)
        em.emit(f"if minimum.reduce({idx}) < 0 or maximum.reduce({idx}) >= {c}: "
                f"{bad}({idx}, {c})")
        em.emit(f"add({idx}, {offs}, out={idx})")
        em.emit(f"copyto({wy}, {valid})")
        em.emit(f"{flat}.take({idx}, out={lv})")
        em.emit(f"multiply({lv}, {wy}, out={lv})")
        d = em.name("den")
        em.emit(f"{d} = add.reduce({wy})")
        loss = w.local(n.outputs[0])
        w.fresh.add(n.outputs[0])
        em.emit(f"{loss} = asarray(-add.reduce({lv}) / {d}, {ddt}) if {d} != 0 else {nan}.copy()")
        return (s, idx, wy, flat, d)

    def _forward_row(self, w, n, args):
        """One row: the target is one number, the sums are of one term (same bits)."""
        em = w.em
        z, t = args[0], args[1]
        zv = n.inputs[0]
        c, dt = zv.shape[1], zv.dtype
        s = em.buffer((c,), dt, "S")
        e = em.buffer((c,), dt, "E")
        ti, mx = em.name("ti"), em.name("mx")
        ign = int(n.attrs.get("ignore_index", -100))
        nan = em.bind(np.asarray(np.nan, dt), "NAN")
        ddt = em.bind(np.dtype(dt), "DT")
        zf = _flat(w, z)
        em.emit(f"{mx} = maximum.reduce({zf})")
        em.emit(f"if not misfinite({mx}): {mx} = 0")
        em.emit(f"subtract({zf}, {mx}, out={s})")
        em.emit(f"{mx} = log(add.reduce(exp({s}, out={e})))")
        em.emit(f"subtract({s}, {mx}, out={s})")
        em.emit(f"{ti} = int({t}[0])")
        em.emit(f"if not 0 <= {ti} < {c} and {ti} != {ign}: {em.bind(_bad_target, 'badt')}"
                f"({ti}, {c})")
        loss = w.local(n.outputs[0])
        w.fresh.add(n.outputs[0])
        em.emit(f"{loss} = asarray(-{s}[{ti}], {ddt}) if {ti} != {ign} else {nan}.copy()")
        return ("row", s, ti, ign)

    def _backward_row(self, w, n, gn, saved, g):
        _, s, ti, ign = saved
        em = w.em
        gz = gn.outputs[0]
        c = n.inputs[0].shape[1]
        g64 = em.buffer((c,), np.float64, "G64")
        em.emit(f"if {ti} != {ign}:")
        em.emit(f"    exp({s}, out={g64})")  # float64, as the rule's arithmetic (see below)
        em.emit(f"    {g64}[{ti}] -= 1.0")
        known = em.ns.get(g)  # the loss's own seed gradient, ones: the scaling is exact
        if not (isinstance(known, np.ndarray) and known.size == 1 and known == 1):
            one = em.bind(np.asarray(1, gz.dtype), "F1")  # the rule's denominator, sum(valid)
            em.emit(f"    if {g} != 1: multiply({g64}, {g} / {one}, out={g64})")
        em.emit("else:")
        em.emit(f"    {g64}.fill(0)")
        b = w.out(gz)
        if b is None:
            out = w.local(gz)
            w.fresh.add(gz)
            em.emit(f"{out} = {g64}.astype({em.bind(gz.dtype, 'DT')}).reshape(1, {c})")
        else:
            flat = em.bind(em.ns[b].reshape(-1), "BF")
            em.emit(f"copyto({flat}, {g64}, casting='same_kind')")
            w.names[gz] = b

    def backward(self, w, n, gn, saved, g):
        if saved[0] == "row":
            return self._backward_row(w, n, gn, saved, g)
        s, idx, wy, flat, d = saved
        em = w.em
        gz = gn.outputs[0]
        # the rule's arithmetic runs in float64 (its row weights meet a float64 zero term) and
        # is rounded once at the end: the same here, so the result is the same bits
        m, c = n.inputs[0].shape
        sm = em.buffer((m, c), gz.dtype, "SM")
        g64 = em.buffer((m, c), np.float64, "G64")
        flat = em.bind(em.ns[g64].reshape(-1), "GF")
        em.emit(f"exp({s}, out={sm})")
        em.emit(f"multiply({sm}, {wy}[:, None], out={g64})")
        em.emit(f"{flat}[{idx}] -= {wy}")
        em.emit(f"multiply({g64}, ({g} / {d}) if {d} != 0 else 0, out={g64})")
        b = w.out(gz)
        if b is None:
            w.em.emit(f"{w.local(gz)} = {g64}.astype({em.bind(gz.dtype, 'DT')})")
            w.fresh.add(gz)
        else:
            w.em.emit(f"copyto({b}, {g64}, casting='same_kind')")
            w.names[gz] = b


_TABLE = {nn_layers.Linear: Linear(), ops.Relu: Relu(), ops.Reshape: Reshape(),
          nn_loss.SoftmaxCrossEntropy: SoftmaxCrossEntropy()}


def find(node):
    """The lowering of a primitive node, or None (the node then runs its rule)."""
    low = _TABLE.get(node.op)
    if low is None or not low.fits(node):
        return None
    return low
