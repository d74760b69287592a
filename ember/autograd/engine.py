"""Reverse-mode automatic differentiation: walk the recorded graph from the output back to the
leaves, multiplying each node's local gradient by the upstream gradient (its backward rule) and
summing the contributions that reach a tensor along different paths.

Two extension points for code that acts on finished gradients (data-parallel training starts
its all-reduce in them): ``register_post_accumulate_grad_hook(leaf, hook)`` runs ``hook(leaf)``
right after a leaf's ``.grad`` received this backward's gradient, and ``queue_callback(fn)``
(called during a backward, e.g. from such a hook) runs ``fn()`` once when the walk is done.
"""
import threading
import weakref

import numpy as np

from ..tensor import Tensor

_new = object.__new__

_FREED = ("Trying to backward through the graph a second time (its saved values were freed by "
          "the first backward). Pass retain_graph=True to the first backward() if you need to "
          "backward through the same graph again.")


_post_hooks = {}          # id(leaf) -> [hook(leaf)], run after the leaf's .grad is updated
_local = threading.local()  # .callbacks: fns queued by the running backward of this thread


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
    cbs = getattr(_local, "callbacks", None)
    if cbs is None:
        raise RuntimeError("queue_callback: no backward pass is running in this thread")
    cbs.append(fn)


def _topological_order(roots):
    """Tensors reachable from ``roots`` that need grad, each after every tensor computed from it
    (reverse of a depth-first post-order, done iteratively so deep nets don't hit the recursion limit)."""
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
    outer = getattr(_local, "callbacks", None)
    _local.callbacks = []
    try:
        result = _run(roots, root_grads, retain_graph, capture)
        # callbacks may queue more callbacks (PyTorch allows it): run until none is left
        cbs = _local.callbacks
        i = 0
        while i < len(cbs):
            cbs[i]()
            i += 1
    finally:
        _local.callbacks = outer
    return result


def _run(roots, root_grads, retain_graph, capture):
    order = _topological_order(roots)
    grads = {}
    for r, g in zip(roots, root_grads):
        k = id(r)
        grads[k] = grads[k] + g if k in grads else g
    # arrays we do not own, never to be stored in a .grad: by id, with a weak reference that
    # tells a live one from a new array that reuses a dead one's id (a false match made
    # every weight gradient of the Keras MLP a copy)
    foreign = {}
    for a in root_grads:
        _mark(foreign, a)
    captured = None
    if capture is not None:
        captured = {id(t): None for t in capture}
    take = grads.pop

    for t in order:
        g = take(id(t), None)
        if g is None:
            continue
        if t._hooks:
            for hook in t._hooks:
                r = hook(_wrap(g))
                if r is not None:
                    g = r.data if isinstance(r, Tensor) else np.asarray(r)
        ctx = t._ctx
        if captured is not None and id(t) in captured:
            captured[id(t)] = g
        if ctx is None:  # a leaf
            if captured is None:
                _accumulate(t, g, _marked(foreign, g))
                if _post_hooks and id(t) in _post_hooks:
                    for hook in tuple(_post_hooks[id(t)]):
                        hook(t)
            continue
        parents = ctx.parents
        if parents is None:
            raise RuntimeError(_FREED)
        checks = ctx.vchecks
        if checks:
            for box, version, _ in checks:
                if box[0] != version:
                    _check_versions(t, ctx)  # raises, naming the input
        pgrads = ctx.backward(ctx, g)
        if len(parents) == 1:
            if pgrads.__class__ is tuple:
                pgrads = pgrads[0]
            if pgrads is not None and ctx.needs[0]:
                if pgrads is g or pgrads.base is not None:
                    _mark(foreign, pgrads)  # a pass-through or a view: copy before keeping
                k = id(parents[0])
                grads[k] = grads[k] + pgrads if k in grads else pgrads
        else:
            for p, need, pg in zip(parents, ctx.needs, pgrads):
                if not need or pg is None:
                    continue
                if pg is g or pg.base is not None:
                    _mark(foreign, pg)  # a pass-through or a view: shared, copy before keeping
                k = id(p)
                if k in grads:
                    grads[k] = grads[k] + pg
                else:
                    grads[k] = pg
        if not retain_graph:
            ctx.parents = None
            ctx.vchecks = None
            ctx.__dict__.clear()  # release saved arrays as the walk passes this node
    if captured is not None:
        return [captured[id(t)] for t in capture]
    return None


def _mark(foreign, a):
    try:
        foreign[id(a)] = weakref.ref(a)
    except TypeError:  # an array type without weak references: keep it alive instead
        foreign[id(a)] = lambda a=a: a


def _marked(foreign, a):
    r = foreign.get(id(a))
    return r is not None and r() is a


def _wrap(a):
    """A plain tensor around array ``a`` (no copy; Tensor.__init__'s checks skipped)."""
    t = _new(Tensor)
    t.data, t.grad, t.requires_grad, t._ctx, t._vb, t._hooks = a, None, False, None, [0], None
    return t


def _accumulate(t, g, shared):
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
        shared = False
    if g.shape != t.data.shape:
        raise RuntimeError(f"gradient of shape {g.shape} for a tensor of shape {t.data.shape}")
    if t.grad is None:
        t.grad = _wrap(g.copy() if shared else g)
    else:
        t.grad.data += g
