"""Reverse-mode automatic differentiation: walk the recorded graph from the output back to the
leaves, multiplying each node's local gradient by the upstream gradient (its backward rule) and
summing the contributions that reach a tensor along different paths.

Two extension points for code that acts on finished gradients (data-parallel training starts
its all-reduce in them): ``register_post_accumulate_grad_hook(leaf, hook)`` runs ``hook(leaf)``
right after a leaf's ``.grad`` received this backward's gradient, and ``queue_callback(fn)``
(called during a backward, e.g. from such a hook) runs ``fn()`` once when the walk is done.
"""
from _thread import _local  # threading.local (threading.py itself is not needed)
from heapq import heapify, heappop, heappush

import numpy as np

from ..tensor import Tensor
from . import grad_mode as _gm

_new = object.__new__
_ndarray = np.ndarray

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
    The walk orders by creation instead (see :func:`_run`); this is its fallback for tape
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


def _leaf_edges(roots):
    """``id(leaf) -> number of edges into it`` over the graph reachable from ``roots`` (edges
    that need a gradient). Only counted when post-accumulate hooks exist: with the counts the
    walk adds a leaf's gradient to ``.grad`` as soon as its last consumer is walked, so the
    hooks (DDP's all-reduce) fire as early as possible."""
    counts = {}
    seen = set()
    stack = [r for r in roots if r._ctx is not None]
    while stack:
        t = stack.pop()
        k = id(t)
        if k in seen:
            continue
        seen.add(k)
        ctx = t._ctx
        if ctx.parents is None:
            raise RuntimeError(_FREED)
        for p, need in zip(ctx.parents, ctx.needs):
            if need:
                if p._ctx is None:
                    k = id(p)
                    counts[k] = counts.get(k, 0) + 1
                elif id(p) not in seen:
                    stack.append(p)
    return counts


def _live(roots, captured):
    """For ``grad()``: ids of the nodes reachable from ``roots`` that have a tensor of
    ``captured`` (ids) below them; only their rules run, so no hook of a node off the paths
    to the inputs fires (PyTorch's pruning), and nothing below the inputs is computed."""
    live, seen = set(), set()
    stack = [(r, False) for r in roots if r._ctx is not None]
    while stack:
        t, done = stack.pop()
        ctx = t._ctx
        if done:  # every node below t is finished (a DAG; see _topological_order)
            for p, need in zip(ctx.parents, ctx.needs):
                if need and (id(p) in captured or id(p) in live):
                    live.add(id(t))
                    break
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        if ctx.parents is None:  # freed: walked, so that the walk says so
            live.add(id(t))
            continue
        stack.append((t, True))
        for p, need in zip(ctx.parents, ctx.needs):
            if need and p._ctx is not None and id(p) not in seen:
                stack.append((p, False))
    return live


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
    # no graph is recorded while gradients are computed (PyTorch without create_graph): hooks
    # may then update parameters in place (optimizer-in-backward) and build no stray graph
    mode, _gm._enabled = _gm._enabled, False
    try:
        result = _run(roots, root_grads, retain_graph, capture)
        # callbacks may queue more callbacks (PyTorch allows it): run until none is left
        i = 0
        while i < len(cbs):
            cbs[i]()
            i += 1
    finally:
        queues.pop()
        _gm._enabled = mode
    return result


def _run(roots, root_grads, retain_graph, capture):
    """The walk. A node is walked once its gradient is complete, newest node first: a node is
    created after all its inputs, so every consumer of a node is newer than it and has been
    walked before it (the order PyTorch walks in too). Nodes wait on a heap keyed by their
    creation number (``ctx.seq``), entered when the first gradient reaches them, so no pass
    over the graph comes before the walk. A leaf's contributions are summed and added to
    ``.grad`` once: when its last consumer is walked if post-accumulate hooks exist (counted
    first, see :func:`_leaf_edges`), else after the walk."""
    grads = {}    # id(node) -> its gradient so far, for the nodes waiting on the heap
    heap = []     # (-seq, node): the newest waiting node first
    leaves = {}   # id(leaf) -> [leaf, gradient so far, shared (the array is not ours)]
    topo = None   # id(node) -> rank, once a node without a creation number was met
    captured = live = None
    if capture is not None:
        captured = {id(t): None for t in capture}
        live = _live(roots, captured)
    counts = _leaf_edges(roots) if _post_hooks and captured is None else None
    for r, g in zip(roots, root_grads):
        k = id(r)
        if r._ctx is None:  # root gradients are the caller's: a leaf keeps a copy (shared)
            e = leaves.get(k)
            leaves[k] = [r, g, True] if e is None else [r, e[1] + g, False]
        elif k in grads:
            grads[k] = grads[k] + g
        else:
            grads[k] = g
            try:
                heap.append((-r._ctx.seq, r))
            except AttributeError:
                heap.append((0, r))
                topo = {}
    if topo is not None:
        heap, topo = _ranked(heap, ())
    else:
        heapify(heap)
    pop, take = heappop, grads.pop
    t = None  # the next node when it is the only one waiting (a chain): it skips the heap
    if len(heap) == 1 and topo is None:
        t = heap.pop()[1]
        g = take(id(t))
    while True:
        if t is None:
            if not heap:
                break
            t = pop(heap)[1]
            g = take(id(t))
        if captured is not None and id(t) not in live:  # grad(): no input of it below t
            if id(t) in captured:
                captured[id(t)] = _run_hooks(t, g) if t._hooks else g
            t = None
            continue
        ctx = t._ctx
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(_FREED)
        if g.dtype is not t.data.dtype:  # a consumer promoted (float32 * float64): the rule
            g = _as_dtype(g, t.data.dtype)  # runs in its output's dtype (PyTorch casts too)
        if t._hooks:
            g = _run_hooks(t, g)
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
        nt = None  # the one node that started waiting here, while no other node waits
        for p, need, pg in zip(parents, ctx.needs, pgrads):
            if not need:
                continue
            if p._ctx is None:  # a leaf
                k = id(p)
                if pg is not None:
                    e = leaves.get(k)
                    if e is None:  # a pass-through or a view is shared: copied if kept
                        leaves[k] = e = [p, pg, pg is g or pg.base is not None]
                    else:
                        e[1], e[2] = e[1] + pg, False  # a new array: ours
                if counts is not None:
                    n = counts[k] = counts[k] - 1
                    if not n and k in leaves:
                        _leaf_done(leaves.pop(k), captured)
            elif pg is not None:
                if p is nt:
                    ng = ng + pg
                    continue
                k = id(p)
                if k in grads:
                    grads[k] = grads[k] + pg
                elif nt is None and not heap:
                    nt, ng = p, pg
                else:
                    if nt is not None:  # a second one: both wait on the heap
                        grads[id(nt)] = ng
                        heap, topo = _wait(heap, topo, nt, parents)
                        nt = None
                    grads[k] = pg
                    heap, topo = _wait(heap, topo, p, parents)
        if not retain_graph:
            ctx.parents = None
            ctx.vchecks = None
            ctx.__dict__.clear()  # release saved arrays as the walk passes this node
        t, g = nt, ng if nt is not None else None
    if captured is None and not _post_hooks:
        for p, g, shared in leaves.values():  # _accumulate inline for a first gradient
            d = p.data
            if p.grad is None and not shared and not p._hooks and g.dtype is d.dtype and \
                    g.shape == d.shape and g.__class__ is _ndarray:
                gt = _new(Tensor)
                gt.data, gt.grad, gt.requires_grad, gt._ctx, gt._vb, gt._hooks = \
                    g, None, False, None, [0], None
                p.grad = gt
            elif p._hooks:
                _leaf_done([p, g, shared], None)
            else:
                _accumulate(p, g, shared)
        return None
    for e in leaves.values():
        _leaf_done(e, captured)
    if captured is not None:
        return [captured[id(t)] for t in capture]
    return None


def _wait(heap, topo, p, parents):
    """Put node ``p`` on the heap of waiting nodes, keyed by its creation number; the first
    node without one (made by hand) switches the rest of the walk to ranks (:func:`_ranked`,
    over the waiting nodes and ``parents``, the inputs of the node being walked)."""
    if topo is None:
        try:
            heappush(heap, (-p._ctx.seq, p))
            return heap, None
        except AttributeError:
            heap.append((0, p))
            return _ranked(heap, parents)
    heappush(heap, (topo[id(p)], p))
    return heap, topo


def _ranked(heap, more):
    """The waiting nodes keyed by their rank in :func:`_topological_order` of the graph below
    them and the tensors ``more`` (the fallback once a node without a creation number is met);
    returns the new heap and ``id -> rank`` for the nodes entered later."""
    order = _topological_order([t for _, t in heap] + [t for t in more if isinstance(t, Tensor) and t._ctx is not None])
    topo = {id(t): i for i, t in enumerate(order)}
    heap = [(topo[id(t)], t) for _, t in heap]
    heapify(heap)
    return heap, topo


def _leaf_done(e, captured):
    """A leaf's gradient is complete: its hooks, then capture it or add it to ``.grad``.
    ``e`` is the leaf's ``[leaf, gradient, shared]``."""
    t, g, shared = e
    if captured is not None:
        if id(t) in captured:  # (the hooks of leaves grad() does not return do not run)
            captured[id(t)] = _run_hooks(t, g) if t._hooks else g
        return
    if t._hooks:
        g, shared = _run_hooks(t, g), False
    _accumulate(t, g, shared)
    if _post_hooks and id(t) in _post_hooks:
        for hook in tuple(_post_hooks[id(t)]):
            hook(t)


def _as_dtype(g, dtype):
    """``g`` in ``dtype`` (equal dtypes need not be the same object)."""
    return g if g.dtype == dtype else g.astype(dtype)


def _run_hooks(t, g):
    """Tensor ``t``'s hooks on its gradient ``g``; returns the gradient they leave. They get a
    copy of ``g`` in ``t``'s dtype (PyTorch's), because ``g`` may be another tensor's gradient
    too (Add hands both inputs the same array) or the caller's: an in-place edit in a hook
    reaches ``t`` alone. A returned array is copied (it may be the hook owner's)."""
    d = t.data
    g = (np.array(g) if isinstance(g, np.generic) else g).astype(d.dtype)  # a fresh array
    for hook in t._hooks:
        r = hook(_wrap(g))
        if r is not None:
            a = r.data if isinstance(r, Tensor) else np.asarray(r)
            if a is not g:
                if a.shape != d.shape:
                    raise RuntimeError(f"a hook returned a gradient of shape {a.shape} for a "
                                       f"tensor of shape {d.shape}")
                g = a.astype(d.dtype)  # a copy, in t's dtype
    return g


def _wrap(a):
    """A plain tensor around array ``a`` (no copy; Tensor.__init__'s checks skipped)."""
    t = _new(Tensor)
    t.data, t.grad, t.requires_grad, t._ctx, t._vb, t._hooks = a, None, False, None, [0], None
    return t


def _accumulate(t, g, shared):
    d = t.data
    if isinstance(g, np.generic):  # a rule's ufunc on 0-d arrays gave a NumPy scalar: .grad
        g, shared = np.array(g), False  # must be an array that can be changed in place
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
