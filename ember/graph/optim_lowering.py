"""Optimizer steps written into the generated replay of ``@ember.jit``.

A traced ``optimizer.step()`` becomes straight-line code: per parameter, the same sequence of
in-place ufunc calls the eager step runs (``ember/optim``: ``axpy``/``axpby`` of
``_fused.py``), on ``p.data``, ``p.grad.data`` and the optimizer's own state arrays, all read
live on each call (``load_state_dict`` and schedulers may replace them). Hyperparameters are
read from the param group on each call; the shape of the update (momentum or not, Nesterov...)
is fixed at trace time and checked by a guard: when it no longer holds, or for an optimizer or
configuration without a lowering here, the generated code calls ``optimizer.step()`` itself.
Where the eager step runs a one-pass compiled update (RMSprop: ``_fused.flat_views`` /
``compiled()``: numba present, ``EMBER_KERNELS`` not ``numpy``, contiguous float32/64 above
the size threshold), the lowered step makes the same test on each call and calls the same
kernel, so jitted and eager runs stay bit-identical and the jit is not the slower one.
``tests/graph/test_codegen.py`` checks each lowered update bit for bit against the eager step.
"""
from __future__ import annotations

import numpy as np


def _axpy(em, alpha, x, y, tmp):
    """``y += alpha * x`` as ``_fused.axpy`` computes it."""
    em.emit(f"if {alpha} == 1: add({y}, {x}, out={y})")
    em.emit("else:")
    em.emit(f"    multiply({x}, {alpha}, out={tmp}); add({y}, {tmp}, out={y})")


def _axpby(em, alpha, x, beta, y, tmp):
    """``y = alpha * x + beta * y`` as ``_fused.axpby`` computes it."""
    em.emit(f"multiply({y}, {beta}, out={y})")
    _axpy(em, alpha, x, y, tmp)


class _Scratch:
    """Two scratch buffers per (shape, dtype), shared by the parameters (updated one by one)."""

    def __init__(self, em):
        self.em, self.bufs = em, {}

    def __call__(self, pa, k):
        key = (pa.shape, pa.dtype.str, k)
        if key not in self.bufs:
            self.bufs[key] = self.em.buffer(pa.shape, pa.dtype, "OS")
        return self.bufs[key]


def _params(opt):
    """(group index, param) for every parameter, in the order the eager step visits them."""
    return [(i, p) for i, g in enumerate(opt.param_groups) for p in g["params"]]


def _sgd(em, opt, scratch, grp):
    mom = [g["momentum"] != 0 for g in opt.param_groups]
    shape_of = [(m, g["nesterov"]) for m, g in zip(mom, opt.param_groups)]
    for i, g in enumerate(opt.param_groups):
        if g["weight_decay"] != 0 or g["maximize"]:
            return None
    guard = " and ".join(
        f"({grp}[{i}]['momentum'] != 0) is {m} and bool({grp}[{i}]['nesterov']) is {bool(n)} and "
        f"{grp}[{i}]['weight_decay'] == 0 and not {grp}[{i}]['maximize']"
        for i, (m, n) in enumerate(shape_of))

    from .fused import kernels
    kern = kernels()
    kf = None if kern is None else em.bind(kern, "KF")

    def prelude(i):
        em.emit(f"lr = {grp}[{i}]['lr']")

    def body(i, P, pa):
        G = f"{grp}[{i}]"
        b = scratch(pa, 1)
        if not mom[i]:
            if _one_pass(kern, pa):  # w += g (-lr) in one pass (the same two roundings)
                em.emit(f"if {_fits_kernel(em, pa, ('ga',))}: "
                        f"{kf}.sgd{pa.ndim}(pa, ga, {em.bind(pa.dtype.type, 'C')}(-lr))")
                em.emit("else:")
                em.indent += 1
                _axpy(em, "-lr", "ga", "pa", b)
                em.indent -= 1
                return
            _axpy(em, "-lr", "ga", "pa", b)
            return
        st = "ST"
        em.emit(f"st = {st}.get({P})")
        em.emit("buf = None if st is None else st.get('momentum_buffer')")
        em.emit("if buf is None:")
        em.emit(f"    buf = ga.astype({em.bind(pa.dtype, 'DT')}, copy=True)")
        em.emit(f"    {st}[{P}] = {{'momentum_buffer': buf}}")
        em.emit("else:")
        em.indent += 1
        _axpby(em, f"(1 - {G}['dampening'])", "ga", f"{G}['momentum']", "buf", b)
        em.indent -= 1
        if shape_of[i][1]:
            _axpy(em, "-lr", "ga", "pa", b)
            _axpy(em, f"(-lr * {G}['momentum'])", "buf", "pa", b)
        else:
            _axpy(em, "-lr", "buf", "pa", b)
    return guard, prelude, body


def _rmsprop(em, opt, scratch, grp):
    for g in opt.param_groups:
        if g["weight_decay"] != 0 or g["maximize"] or g["centered"] or g["momentum"] > 0:
            return None
    guard = " and ".join(
        f"{grp}[{i}]['weight_decay'] == 0 and not {grp}[{i}]['maximize'] and not "
        f"{grp}[{i}]['centered'] and not {grp}[{i}]['momentum'] > 0"
        for i in range(len(opt.param_groups)))
    st = "ST"
    from ..optim._fused import compiled, flat_views
    from .fused import kernels
    fv, ck = em.bind(flat_views, "FV"), em.bind(compiled, "CK")
    kern = kernels()
    kf = None if kern is None else em.bind(kern, "KF")
    # the group's numbers in each dtype its 1-D/2-D parameters have (for the one-pass kernel)
    dts = [sorted({p.data.dtype.str for p in g["params"] if _one_pass(kern, p.data)})
           for g in opt.param_groups]

    def prelude(i):
        G = f"{grp}[{i}]"
        em.emit(f"lr, alpha, eps = {G}['lr'], {G}['alpha'], {G}['eps']")
        for d in dts[i]:  # cast as the eager step casts them, again only when one changed
            c = em.bind(np.dtype(d).type, "C")
            h = em.bind([None] * 4, "HP")  # [lr, alpha, eps, their casts] of the last step
            em.emit(f"if {h}[0] is not lr or {h}[1] is not alpha or {h}[2] is not eps: "
                    f"{h}[:] = lr, alpha, eps, ({c}(alpha), {c}(1 - alpha), {c}(eps), {c}(-lr))")
            em.emit(f"k{d[1:]} = {h}[3]")

    def body(i, P, pa):
        b = scratch(pa, 1)
        em.emit(f"st = {st}[{P}]")
        em.emit("st['step'] += 1")
        em.emit("sq = st['square_avg']")
        kernel = _one_pass(kern, pa)
        if kernel:
            # one pass of the same float operations (ember.graph._numba_fused.rmsprop1/2): the
            # same bits as the eager step's passes or its compiled flat update, for any size
            em.emit(f"if {_fits_kernel(em, pa, ('ga', 'sq'))}:")
            em.emit(f"    {kf}.rmsprop{pa.ndim}(pa, ga, sq, *k{pa.dtype.str[1:]})")
            em.emit("else:")
            em.indent += 1
        # the eager step's one compiled pass when it would take it (same test, same floats)
        em.emit(f"fl = {fv}(pa, ga, sq)")
        em.emit("if fl is not None:")
        em.emit("    c = pa.dtype.type")
        em.emit(f"    {ck}().rmsprop(*fl, c(alpha), c(1 - alpha), c(eps), c(-lr))")
        em.emit("else:")
        em.indent += 1
        em.emit(f"multiply(ga, ga, out={b})")
        _axpby(em, "(1 - alpha)", b, "alpha", "sq", b)
        em.emit(f"sqrt(sq, out={b})")
        em.emit(f"add({b}, eps, out={b})")
        em.emit(f"divide(ga, {b}, out={b})")
        _axpy(em, "-lr", b, "pa", b)
        em.indent -= 1
        if kernel:
            em.indent -= 1
    return guard, prelude, body


def _fits_kernel(em, pa, names) -> str:
    """The per-call test that the arrays ``names`` are NumPy arrays of ``pa``'s dtype and shape
    (the one-pass kernels index them by ``pa``'s shape; anything else takes the passes)."""
    dt, sh = em.bind(pa.dtype, "DT"), repr(tuple(pa.shape))
    return " and ".join(f"{a}.__class__ is nd and {a}.dtype is {dt} and {a}.shape == {sh}"
                        for a in names)


def _one_pass(kern, pa) -> bool:
    """Whether the one-pass kernel takes this parameter's update: numba there, a 1-D or 2-D
    float32/float64 NumPy array."""
    return kern is not None and pa.__class__ is np.ndarray and pa.ndim in (1, 2) and \
        pa.dtype.char in "fd"


def _adam(em, opt, scratch, grp):
    for g in opt.param_groups:
        if g["weight_decay"] != 0 or g["maximize"] or g["amsgrad"]:
            return None
    guard = " and ".join(
        f"{grp}[{i}]['weight_decay'] == 0 and not {grp}[{i}]['maximize'] and not "
        f"{grp}[{i}]['amsgrad']" for i in range(len(opt.param_groups)))
    st = "ST"
    em.ns.setdefault("msqrt", __import__("math").sqrt)

    def prelude(i):
        G = f"{grp}[{i}]"
        em.emit(f"lr, (b1, b2), eps = {G}['lr'], {G}['betas'], {G}['eps']")

    def body(i, P, pa):
        b = scratch(pa, 1)
        em.emit(f"st = {st}[{P}]")
        em.emit("st['step'] = t = st['step'] + 1")
        em.emit("m, v = st['exp_avg'], st['exp_avg_sq']")
        _axpby(em, "(1 - b1)", "ga", "b1", "m", b)
        em.emit(f"multiply(ga, ga, out={b})")
        _axpby(em, "(1 - b2)", b, "b2", "v", b)
        em.emit("bc1 = 1 - b1 ** t")
        em.emit("bc2_sqrt = msqrt(1 - b2 ** t)")
        em.emit(f"sqrt(v, out={b})")
        em.emit(f"add({b}, eps * bc2_sqrt, out={b})")
        em.emit(f"divide(m, {b}, out={b})")
        _axpy(em, "(-lr / bc1 * bc2_sqrt)", b, "pa", b)

    def kernel_body(i, P, pa):
        """One pass (``ember.graph._numba_fused.adam1/2``), the passes above as the fallback."""
        em.emit(f"st = {st}[{P}]")
        em.emit("st['step'] = t = st['step'] + 1")
        em.emit("m, v = st['exp_avg'], st['exp_avg_sq']")
        em.emit(f"if {_fits_kernel(em, pa, ('ga', 'm', 'v'))}:")
        c = em.bind(pa.dtype.type, "C")
        em.emit("    bc2_sqrt = msqrt(1 - b2 ** t)")
        em.emit(f"    {kf}.adam{pa.ndim}(pa, ga, m, v, {c}(b1), {c}(1 - b1), {c}(b2), "
                f"{c}(1 - b2), {c}(eps * bc2_sqrt), {c}(-lr / (1 - b1 ** t) * bc2_sqrt))")
        em.emit("else:")
        em.indent += 1
        em.emit("st['step'] = t = t - 1")  # the passes count the step themselves
        body(i, P, pa)
        em.indent -= 1

    from .fused import kernels
    kern = kernels()
    kf = None if kern is None else em.bind(kern, "KF")
    return guard, prelude, (lambda i, P, pa: kernel_body(i, P, pa) if _one_pass(kern, pa)
                            else body(i, P, pa))


def _rules():
    from ..optim import SGD, Adam, RMSprop
    return {SGD: _sgd, RMSprop: _rmsprop, Adam: _adam}


def emit_step(em, opt, kwargs) -> bool:
    """Write ``opt.step()`` into ``em``: lowered when a rule fits, else the call itself."""
    o = em.bind(opt, "OPT")
    rule = _rules().get(type(opt))
    params = _params(opt)
    plain = all(isinstance(p.data, np.ndarray) and p.data.dtype.kind == "f" for _, p in params)
    # the traced step created the state of every parameter (an RMSprop/Adam state is read as is)
    stated = rule is _sgd or all(opt.state.get(p) for _, p in params)
    made = rule(em, opt, _Scratch(em), "PG") if rule is not None and not kwargs and plain \
        and stated else None
    if made is None:
        em.emit(f"{o}.step()")
        return False
    guard, prelude, body = made
    sizes = [len(g["params"]) for g in opt.param_groups]
    em.emit(f"PG, ST = {o}.param_groups, {o}.state")
    em.emit(f"if len(PG) != {len(sizes)} or not ({guard}): {o}.step()")
    em.emit("else:")
    em.indent += 1
    last = None
    for i, p in params:
        if i != last:
            prelude(i)
            last = i
        P = em.bind(p, "P")
        em.emit(f"g = {P}.grad")
        em.emit("if g is not None:")
        em.indent += 1
        em.emit(f"ga, pa = g.data, {P}.data")
        body(i, P, p.data)
        em.emit(f"{P}._vb[0] += 1")
        em.indent -= 1
    em.indent -= 1
    return True

