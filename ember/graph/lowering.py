"""Lowerings: a few hot primitives written as NumPy calls with ``out=`` for generated code.

A lowering is the compiled form of one primitive's forward rule and its backward rule, for the
common configurations only (2-D inputs, floating dtypes, default attributes). It writes into
buffers allocated once, so a replay allocates nothing for these nodes. Every other primitive,
and every other configuration, runs its own rule from ``ember/ops`` (the rules stay the one
definition of each op). ``tests/graph/test_codegen.py`` and ``test_fused_lowerings.py`` run
each lowering against its primitive's ``forward`` and ``backward``, and the lowered training
step against eager training, bit for bit, so they cannot drift apart.

Lowerings fuse across nodes where the writer shows it is safe: in place over a buffer only its
node reads (``w.overwritable``), a Linear's bias add taken into the ReLU or cross-entropy pass
after it (``w.pending``), a Linear's bias-gradient sums made by the backward pass that produced
its gradient (``w.colsum``). With numba (``w.kern``, :mod:`.fused`) the fused passes are the
one-pass kernels of :mod:`._numba_fused`; without it, in-place NumPy calls. Same bits either way.

Interface: ``fits(node)``; ``reads_output`` (whether the backward reads the forward's result);
``forward(w, node, args) -> saved`` writes lines through the
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
    w.owned[v] = b
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


def _zero(w, v) -> str:
    """A bound +0.0 of ``v``'s dtype."""
    return w.em.bind(v.dtype.type(0), "Z")


class Linear:
    """``y = x @ w.T (+ b)`` on 2-D ``x``; backward ``g @ w``, ``g.T @ x``, ``g.sum(0)``.

    The products go straight into their buffers (``matmul(..., out=)``; ``w.T`` and ``g.T`` are
    transposed views that BLAS reads as they are, no copy). The bias add is one in-place pass,
    which a ReLU right after it may take over (one fused pass, :class:`Relu`); the bias
    gradient is one reduction, or the column sums a fused ReLU backward already made."""

    reads_output = False

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
                # a ReLU or a cross-entropy after it may take this add into its own pass
                w.pending[y] = (len(em.lines) - 1, b)
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
                gw = _into(w, next(outs), "multiply", f"{col}, {x}")
                # BLAS adds each product to a +0.0 accumulator: a -0.0 product comes out +0.0
                w.em.emit(f"add({gw}, {_zero(w, n.inputs[0])}, out={gw})")
            else:
                _into(w, next(outs), "matmul", f"{g}.T, {x}")
        if len(needs) > 2 and needs[2] and not _is_none(n.inputs[2]):
            v = next(outs)
            done = w.colsum.get(gn.inputs[1])
            if done is not None:  # summed by the fused ReLU backward that made g
                w.names[v] = done
                if v in w.fetched:
                    w.fresh.add(v)
            elif n.inputs[0].shape[0] == 1:  # the sum of one row: +0.0 + that row (NumPy's)
                row = _flat(w, g)
                w.em.emit(f"{w.local(v)} = add({row}, {_zero(w, n.inputs[0])})")
                w.fresh.add(v)
            else:
                _into(w, v, "add.reduce", f"{g}, 0")
        elif len(needs) > 2 and needs[2]:  # b is None: the grad node still has an output
            v = next(outs)
            w.names[v] = w.em.bind(None, "NONE")


class Relu:
    """``max(x, 0)``; backward ``g * (y > 0)``.

    In place when nothing else reads the input (a Linear's output buffer): with the numba
    kernels the Linear's bias add and the ReLU are one pass (``bias_relu``). The backward
    multiplies the incoming gradient's buffer in place when only it reads that buffer; with the
    kernels that is one pass, which also makes the column sums a Linear's bias gradient needs
    (``relu_grad_colsum``). Same floats as the rule: ``g * 1`` or ``g * 0`` per element."""

    reads_output = True

    def fits(self, n):
        x = n.inputs[0]
        return (not n.attrs and not n.dyn_attrs and _float(x) and _shape(x) is not None and
                n.outputs[0].dtype == x.dtype)

    def forward(self, w, n, args):
        em = w.em
        x, y = n.inputs[0], n.outputs[0]
        zero = em.bind(x.dtype.type(0), "Z")
        if not w.overwritable(x, n):
            return (_into(w, y, "maximum", f"{args[0]}, {zero}"), zero)
        buf = args[0]
        pend = w.pending.pop(x, None)
        if pend is not None and w.kern is not None and _kernel_fits(x):
            em.lines[pend[0]] = None  # the bias add moves into the fused pass
            em.emit(f"{w.kname}.bias_relu({buf}, {pend[1]})")
        else:
            em.emit(f"maximum({buf}, {zero}, out={buf})")
        del w.owned[x]
        w.names[y] = w.owned[y] = buf
        return (buf, zero)

    def backward(self, w, n, gn, saved, g):
        y, zero = saved
        em = w.em
        gv, gy = gn.inputs[1], gn.outputs[0]
        if not w.overwritable(gv, gn) or gy in w.fetched:
            mask = em.buffer(n.outputs[0].shape, np.bool_, "M")
            em.emit(f"greater({y}, {zero}, out={mask})")
            # g * mask: the float loop either way (a bool operand is cast up, exactly)
            _into(w, gy, "multiply", f"{g}, {mask}")
            return
        w.names[gy] = w.owned[gy] = g
        if w.kern is None or not _kernel_fits(gv):
            mask = em.buffer(n.outputs[0].shape, np.bool_, "M")
            em.emit(f"greater({y}, {zero}, out={mask})")
            em.emit(f"multiply({g}, {mask}, out={g})")
            return
        bias = _bias_grad_of(w, gy)
        if bias is None:
            em.emit(f"{w.kname}.relu_grad({g}, {y})")
            return
        b = w.out(bias)
        if b is None:  # handed out (a .grad): a fresh array of this call
            b = w.em.name("gb")
            em.emit(f"{b} = empty({tuple(bias.shape)!r}, {em.bind(bias.dtype, 'DT')})")
        em.emit(f"{w.kname}.relu_grad_colsum({g}, {y}, {b})")
        w.colsum[gy] = b


def _kernel_fits(v) -> bool:
    """A 2-D float32/float64 Value: what the one-pass kernels take."""
    return v.dtype.char in "fd" and _shape(v) is not None and len(v.shape) == 2


def _bias_grad_of(w, gy):
    """The bias-gradient Value of the Linear whose backward is ``gy``'s only reader, or None."""
    rs = w.readers.get(gy, ())
    if len(rs) != 1:
        return None
    r = rs[0]
    fwd = r.attrs.get("forward") if r.kind == "grad" else None
    if fwd is None or fwd not in w.lowered or not isinstance(w.lowered[fwd][0], Linear) or \
            r.inputs[1] is not gy or fwd.inputs[0].shape[0] == 1:
        return None
    needs = r.attrs["needs"]
    if len(needs) < 3 or not needs[2] or _is_none(fwd.inputs[2]):
        return None
    return r.outputs[sum(1 for k in needs[:2] if k)]


class Reshape:
    """A view; backward reshapes the gradient back."""

    reads_output = False

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

    Two branches per call, as the rule has: every target a class (the rule's fast branch: one
    check, no weights, count M; with numba four kernels around NumPy's exp and log, else 11
    NumPy calls), or the general code (ignored rows, a non-finite row max, a bad target's
    error). The backward makes the next Linear's bias-gradient sums in its pass (numba).
    """

    reads_output = False

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
        zv, tv = n.inputs[0], n.inputs[1]
        (m, c), dt = zv.shape, zv.dtype
        mx = em.buffer((m, 1), dt, "MX")
        s = em.buffer((m, c), dt, "S")
        se = em.buffer((m, 1), dt, "SE")
        sm = em.buffer((m, c), dt, "SM")  # exp(z - max) here, exp(logp) in the backward
        idx = em.buffer((m,), np.intp, "IX")
        lv = em.buffer((m,), dt, "LV")
        flat = em.bind(em.ns[s].reshape(-1), "SF")  # a flat view of S, for take
        offs = em.bind(np.arange(m, dtype=np.intp) * c, "OF")
        ign = int(n.attrs.get("ignore_index", -100))
        ddt = em.bind(np.dtype(dt), "DT")
        den = em.bind(dt.type(m), "DEN")
        ce = em.name("ce")
        loss = w.local(n.outputs[0])
        w.fresh.add(n.outputs[0])
        # The common call, as the rule's fast branch: every target a class in [0, C) (one
        # reduction over the targets seen as unsigned: a negative one is huge), so no row is
        # ignored, the weights are 1 and the count is M. The max is used as it is; a row
        # whose max is not finite makes the loss NaN, and then the general code below runs,
        # which replaces it by 0 as the rule does.
        kernel = w.kern is not None and dt.char in "fd" and c >= 1 and m <= 8192
        if kernel:
            # one kernel for the targets' check, the row max and z - max; the sums and the
            # picks in kernels too, NumPy's own exp and log between them
            k = w.kname
            pend = w.pending.get(zv)
            if pend is not None and w.only_reader(zv, n):
                # the Linear's bias add goes into the kernel's pass (first, whatever follows)
                em.lines[pend[0]] = None
                del w.pending[zv]
                em.emit(f"{ce} = {k}.ce_bias_shift({z}, {pend[1]}, {t}, {s}, {ign})")
            else:
                em.emit(f"{ce} = {k}.ce_shift({z}, {t}, {s}, {ign})")
            em.emit(f"if {ce} == 2:")  # a row max of 0: NumPy's max (which zero it keeps)
            em.emit(f"    maximum.reduce({z}, 1, None, {mx}, True)")
            em.emit(f"    subtract({z}, {mx}, out={s}); {ce} = 0")
            em.emit(f"if {ce} == 0:")
            em.emit(f"    {k}.row_sums(exp({s}, out={sm}), {se})")
            em.emit(f"    log({se}, out={se})")
            em.emit(f"    {loss} = asarray({k}.ce_pick({s}, {se}, {t}, {lv}, {den}), {ddt})")
            em.emit(f"{ce} = {ce} == 0")
        elif dt.char not in "fd":  # float16: its counts are inexact past 2048, as the rule says
            em.emit(f"{ce} = False")
        else:
            tu = t if tv.dtype.kind == "u" else \
                f"{t}.view({em.bind(np.dtype(f'u{tv.dtype.itemsize}'), 'DT')})"
            cond = f"maximum.reduce({tu}) < {c}"
            if 0 <= ign < c:  # an ignore_index that is also a class: those rows are ignored
                cond += f" and not equal({t}, {ign}).any()"
            em.emit(f"{ce} = {cond}")
            em.emit(f"if {ce}:")
            em.indent += 1
            em.emit(f"maximum.reduce({z}, 1, None, {mx}, True)")
            em.emit(f"subtract({z}, {mx}, out={s})")
            em.emit(f"add.reduce(exp({s}, out={sm}), 1, None, {se}, True)")
            em.emit(f"subtract({s}, log({se}, out={se}), out={s})")
            em.emit(f"add({t}, {offs}, out={idx})")
            em.emit(f"{loss} = asarray(-add.reduce({flat}.take({idx}, out={lv})) / {den}, "
                    f"{ddt})")
            em.emit(f"{ce} = misfinite({loss})")
            em.indent -= 1
        em.emit(f"if not {ce}:")
        em.indent += 1
        general = self._forward_general(w, n, args, mx, s, se, idx, lv, flat, offs, loss)
        em.indent -= 1
        return (ce, s, sm, idx, general, kernel)

    def _forward_general(self, w, n, args, mx, s, se, idx, lv, flat, offs, loss):
        """Ignored rows (or a non-finite max): the rule's general branch, step by step."""
        em = w.em
        z, t = args[0], args[1]
        zv = n.inputs[0]
        (m, c), dt = zv.shape, zv.dtype
        valid = em.buffer((m,), np.bool_, "VA")
        wy = em.buffer((m,), dt, "WY")
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
        em.emit(f"{loss} = asarray(-add.reduce({lv}) / {d}, {ddt}) if {d} != 0 else {nan}.copy()")
        return (wy, d)

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
        ce, s, sm, idx, (wy, d), kernel = saved
        em = w.em
        zv, tv = n.inputs[0], n.inputs[1]
        gz = gn.outputs[0]
        m, c = zv.shape
        # the rule's arithmetic runs in float64 (its row weights meet a float64 zero term) and
        # is rounded once at the end: the same here, so the result is the same bits
        g64 = em.buffer((m, c), np.float64, "G64")
        f64 = em.bind(np.dtype(np.float64), "F64")
        b = w.out(gz)
        if b is None:
            b = w.local(gz)
            w.fresh.add(gz)
            em.emit(f"{b} = empty({(m, c)!r}, {em.bind(gz.dtype, 'DT')})")
        else:
            w.names[gz] = w.owned[gz] = b
        # the fast branch: dz = (float64(exp(logp)) - onehot(t)) * (g / M), rounded once. The
        # one-hot comes from one comparison with 0..C-1; subtracting it (1.0 at the target,
        # 0.0 elsewhere, exact) is the rule's grad[rows, t] -= 1. The scale is the rule's own
        # g / denom (a float32 number for float32 logits), computed here once when g is the
        # loss's own seed gradient.
        known = em.ns.get(g)
        if isinstance(known, np.ndarray) and known.size == 1 and not known.flags.writeable:
            sc = known / zv.dtype.type(m)  # the constant seed: the rule's number, folded
            # the kernel takes it as float64 (exactly), the float64 product the rule takes
            scale = em.bind(float(sc) if kernel else sc, "SC")
        else:
            scale = f"({g} / {em.bind(zv.dtype.type(m), 'DEN')})"
        t = w.names[tv]
        bias = _bias_grad_of(w, gz) if kernel else None
        if bias is not None:  # the next Linear's bias gradient, summed in the same pass
            gb = w.out(bias)
            if gb is None:  # handed out (a .grad): a fresh array of this call
                gb = w.em.name("gb")
                em.emit(f"{gb} = empty({tuple(bias.shape)!r}, {em.bind(bias.dtype, 'DT')})")
        em.emit(f"if {ce}:")
        em.indent += 1
        em.emit(f"exp({s}, out={sm})")
        if bias is not None:
            em.emit(f"{w.kname}.ce_grad_colsum({sm}, {t}, {scale}, {b}, {gb})")
        elif kernel:
            em.emit(f"{w.kname}.ce_grad({sm}, {t}, {scale}, {b})")
        else:
            oh = em.buffer((m, c), np.bool_, "OH")
            cls = em.bind(np.arange(c, dtype=tv.dtype), "CL")
            em.emit(f"equal({t}[:, None], {cls}, out={oh})")
            em.emit(f"subtract({sm}, {oh}, out={g64}, dtype={f64})")
            em.emit(f"multiply({g64}, {scale}, out={b}, dtype={f64}, casting='same_kind')")
        em.indent -= 1
        em.emit("else:")
        em.indent += 1
        gf = em.bind(em.ns[g64].reshape(-1), "GF")
        em.emit(f"exp({s}, out={sm})")
        em.emit(f"multiply({sm}, {wy}[:, None], out={g64})")
        em.emit(f"{gf}[{idx}] -= {wy}")
        em.emit(f"multiply({g64}, ({g} / {d}) if {d} != 0 else 0, out={b}, dtype={f64}, "
                "casting='same_kind')")
        if bias is not None:
            em.emit(f"add.reduce({b}, 0, None, {gb})")
            w.colsum[gz] = gb
        em.indent -= 1


_TABLE = {nn_layers.Linear: Linear(), ops.Relu: Relu(), ops.Reshape: Reshape(),
          nn_loss.SoftmaxCrossEntropy: SoftmaxCrossEntropy()}


def find(node):
    """The lowering of a primitive node, or None (the node then runs its rule)."""
    low = _TABLE.get(node.op)
    if low is None or not low.fits(node):
        return None
    return low
