"""Reverse-mode automatic differentiation: walk the recorded graph from the output back to the
leaves, multiplying each node's local gradient by the upstream gradient (its backward rule) and
summing the contributions that reach a tensor along different paths.

Two extension points for code that acts on finished gradients (data-parallel training starts
its all-reduce in them): ``register_post_accumulate_grad_hook(leaf, hook)`` runs ``hook(leaf)``
right after a leaf's ``.grad`` received this backward's gradient, and ``queue_callback(fn)``
(called during a backward, e.g. from such a hook) runs ``fn()`` once when the walk is done.
"""
from _thread import _local  # threading.local (threading.py itself is not needed)
from operator import attrgetter

import numpy as np

from ..tensor import Tensor

_new = object.__new__

_FREED = ("Trying to backward through the graph a second time (its saved values were freed by "
          "the first backward). Pass retain_graph=True to the first backward() if you need to "
          "backward through the same graph again.")


_post_hooks = {}          # id(leaf) -> [hook(leaf)], run after the leaf's .grad is updated


class _Running(_local):
    def __init__(self):
        self.queues = []  # per running backward of this thread (nested: innermost last): fns


_local = _Running()


class _PostHookHandle:
    def __init__(self, key, hook):
        self.key, self.hook = key, hook

    def remove(self):
        hooks = _post_hooks.get(self.key)
        if hooks is not None and self.hook in hooks:
            hooks.remove(self.hook)
            if not hooks:
                del _post_hooks[self.key]


def register_post_accumulate_grad_hook(tensor, hook):
    """Run ``hook(tensor)`` after each backward has added its gradient to ``tensor.grad``
    (a leaf; PyTorch's ``Tensor.register_post_accumulate_grad_hook``). Returns a handle with
    ``.remove()``; the hook also goes when the tensor is garbage-collected."""
    import weakref
    if not tensor.requires_grad or tensor._ctx is not None:
        raise RuntimeError("post-accumulate-grad hooks go on leaf tensors that require grad")
    key = id(tensor)
    if key not in _post_hooks:
        _post_hooks[key] = []
        weakref.finalize(tensor, _post_hooks.pop, key, None)
    _post_hooks[key].append(hook)
    return _PostHookHandle(key, hook)


def queue_callback(fn):
    """Run ``fn()`` when the backward pass that is running now has finished walking the graph
    (after every leaf's ``.grad`` is written). Only valid during a backward."""
    queues = _local.queues
    if not queues:
        raise RuntimeError("queue_callback: no backward pass is running in this thread")
    queues[-1].append(fn)


def _topological_order(roots):
    """Tensors reachable from ``roots`` that need grad, each after every tensor computed from it
    (reverse of a depth-first post-order, done iteratively so deep nets don't hit the recursion limit).
    The walk orders by creation instead (see :func:`_collect`); this is its fallback for tape
    nodes made without a sequence number."""
    order = []
    seen = set()
    append, mark = order.append, seen.add
    stack = [(r, False) for r in roots]
    pop, push = stack.pop, stack.append
    while stack:
        t, done = pop()
        if done:
            append(t)
            continue
        k = id(t)
        if k in seen:
            continue
        mark(k)
        ctx = t._ctx
        if ctx is None:  # a leaf: no inputs to visit first, so it is finished already
            append(t)
            continue
        push((t, True))
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(_FREED)
        for p, need in zip(parents, ctx.needs):
            if need and id(p) not in seen:
                push((p, False))
    order.reverse()
    return order


_seq = attrgetter("_ctx.seq")


def _collect(roots):
    """The nodes (non-leaf tensors) reachable from ``roots``, newest first, and for each leaf
    reached ``id -> [edges into it not walked yet, leaf, gradient so far, shared]``.

    Newest first is a topological order: a node's output is created after all its inputs, so
    every node comes before the nodes that made its inputs (the order PyTorch walks in too).
    A leaf's gradient is complete once its last consumer is walked: the walk counts its edges
    down and accumulates it then, so post-accumulate hooks (DDP) fire as early as possible."""
    nodes = []
    leaves = {}
    seen = set()
    for r in roots:
        k = id(r)
        if r._ctx is None:
            if k not in leaves:
                leaves[k] = [0, r, None, True]
        elif k not in seen:
            seen.add(k)
            nodes.append(r)
    add, keep = seen.add, nodes.append
    try:
        for t in nodes:  # breadth first: the list grows while it is read
            ctx = t._ctx
            for p, need in zip(ctx.parents, ctx.needs):
                if need:
                    k = id(p)
                    if p._ctx is None:
                        e = leaves.get(k)
                        if e is None:
                            leaves[k] = [1, p, None, True]
                        else:
                            e[0] += 1
                    elif k not in seen:
                        add(k)
                        keep(p)
    except TypeError:
        if ctx.parents is None:  # freed by an earlier backward
            raise RuntimeError(_FREED) from None
        raise
    if len(nodes) > 1:
        try:
            nodes.sort(key=_seq, reverse=True)
        except AttributeError:  # a node built by hand without a sequence number
            nodes = [t for t in _topological_order(roots) if t._ctx is not None]
    return nodes, leaves


def _check_versions(t, ctx):
    for box, version, i in ctx.vchecks:
        if box[0] != version:
            which = "its output" if i < 0 else f"input {i}"
            raise RuntimeError(
                f"{ctx.name}: {which} (needed to compute gradients) was modified by an in-place "
                f"operation after it was used (version {version} when saved, now {box[0]}). "
                "Make the change out of place (y = y + 1 instead of y += 1 / add_), or do it "
                "after backward().")


def run_backward(roots, root_grads, retain_graph=False, capture=None):
    """Backpropagate ``root_grads`` (arrays) from ``roots``.

    Without ``capture``, gradients of leaves accumulate into ``leaf.grad``.
    With ``capture`` (a list of tensors), their gradients are returned instead and no ``.grad`` is
    touched (``ember.autograd.grad``).
    """
    queues = _local.queues
    cbs = []
    queues.append(cbs)
    try:
        result = _run(roots, root_grads, retain_graph, capture)
        # callbacks may queue more callbacks (PyTorch allows it): run until none is left
        i = 0
        while i < len(cbs):
            cbs[i]()
            i += 1
    finally:
        queues.pop()
    return result


def _run(roots, root_grads, retain_graph, capture):
    nodes, leaves = _collect(roots)
    grads = {}  # id -> gradient so far, of the nodes not walked yet
    leaf_root = False
    for r, g in zip(roots, root_grads):
        k = id(r)
        if r._ctx is None:  # root gradients are the caller's: a leaf keeps a copy (shared)
            e = leaves[k]
            e[2], e[3] = (g, True) if e[2] is None else (e[2] + g, False)
            leaf_root = True
        else:
            grads[k] = grads[k] + g if k in grads else g
    captured = None
    if capture is not None:
        captured = {id(t): None for t in capture}
    if leaf_root:
        for e in list(leaves.values()):
            if not e[0] and e[2] is not None:  # a root that is a leaf, used by no other root
                _leaf_done(e, captured)
    take = grads.pop
    plain = captured is None  # leaves' gradients go to .grad (not ember.autograd.grad)

    for t in nodes:
        g = take(id(t), None)
        ctx = t._ctx
        parents = ctx.parents
        needs = ctx.needs
        if g is None:  # no gradient reaches this node: its leaves wait for it no longer
            for p, need in zip(parents, needs):
                if need and p._ctx is None:
                    e = leaves[id(p)]
                    e[0] -= 1
                    if not e[0] and e[2] is not None:
                        _leaf_done(e, captured)
            continue
        if t._hooks:
            for hook in t._hooks:
                r = hook(_wrap(g))
                if r is not None:
                    g = r.data if isinstance(r, Tensor) else np.asarray(r)
        if captured is not None and id(t) in captured:
            captured[id(t)] = g
        checks = ctx.vchecks
        if checks:
            for box, version, _ in checks:
                if box[0] != version:
                    _check_versions(t, ctx)  # raises, naming the input
        pgrads = ctx.backward(ctx, g)
        if len(parents) == 1:
            pgrads = (pgrads[0] if pgrads.__class__ is tuple else pgrads,)
        for p, need, pg in zip(parents, needs, pgrads):
            if not need:
                continue
            if p._ctx is None:  # a leaf: complete once its last consumer is walked
                e = leaves[id(p)]
                if pg is not None:
                    eg = e[2]
                    if eg is None:  # a pass-through or a view is shared: copied if kept
                        e[2], e[3] = pg, pg is g or pg.base is not None
                    else:
                        e[2], e[3] = eg + pg, False  # a new array: ours
                n = e[0] - 1
                e[0] = n
                if not n and e[2] is not None:
                    if plain and not p._hooks and not _post_hooks:  # _leaf_done, inline
                        lg, e[2] = e[2], None
                        _accumulate(p, lg, e[3])
                        continue
                    _leaf_done(e, captured)
            elif pg is not None:
                k = id(p)
                grads[k] = grads[k] + pg if k in grads else pg
        if not retain_graph:
            ctx.parents = None
            ctx.vchecks = None
            ctx.__dict__.clear()  # release saved arrays as the walk passes this node
    if captured is not None:
        return [captured[id(t)] for t in capture]
    return None


def _leaf_done(e, captured):
    """A leaf's gradient is complete: its hooks, then capture it or add it to ``.grad``.
    ``e`` is the leaf's ``[0, leaf, gradient, shared]``."""
    t, g = e[1], e[2]
    e[2] = None
    if t._hooks:
        shared = e[3]
        for hook in t._hooks:
            r = hook(_wrap(g))
            if r is not None:
                a = r.data if isinstance(r, Tensor) else np.asarray(r)
                if a is not g:
                    g, shared = a, False  # the hook's array is kept as it is
        e[3] = shared
    if captured is not None:
        if id(t) in captured:
            captured[id(t)] = g
        return
    _accumulate(t, g, e[3])
    if _post_hooks and id(t) in _post_hooks:
        for hook in tuple(_post_hooks[id(t)]):
            hook(t)


def _wrap(a):
    """A plain tensor around array ``a`` (no copy; Tensor.__init__'s checks skipped)."""
    t = _new(Tensor)
    t.data, t.grad, t.requires_grad, t._ctx, t._vb, t._hooks = a, None, False, None, [0], None
    return t


def _accumulate(t, g, shared):
    d = t.data
    if g.dtype is not d.dtype and g.dtype != d.dtype:
        g = g.astype(d.dtype)
        shared = False
    if g.shape != d.shape:
        raise RuntimeError(f"gradient of shape {g.shape} for a tensor of shape {d.shape}")
    if t.grad is None:
        gt = _new(Tensor)  # _wrap, inline
        gt.data, gt.grad, gt.requires_grad, gt._ctx, gt._vb, gt._hooks = \
            g.copy() if shared else g, None, False, None, [0], None
        t.grad = gt
    else:
        t.grad.data += g
