"""``tf.train`` optimizers: ``minimize(loss)`` adds gradient nodes and one ``assign`` per variable
and slot, grouped into the op you run. The update arithmetic is ordinary graph ops, so the
elementwise-fusion pass turns each variable's update into one kernel.

Update rules (TensorFlow 1's, with its defaults):
  GradientDescent  w -= lr g
  Momentum         a = m a + g;  w -= lr a            (nesterov: w -= lr (g + m a))
  Adam             m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
                   w -= lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps)
  RMSProp          ms = d ms + (1-d) g^2 (ms starts at 1);  mom = mu mom + lr g / sqrt(ms + eps);
                   w -= mom
  Adagrad          acc += g^2 (acc starts at 0.1);  w -= lr g / sqrt(acc)
"""
from __future__ import annotations

import numpy as np

from ... import ops as _ops
from ...graph import build as _b
from ...graph.autodiff import gradients as _gradients
from ...graph.ir import get_default_graph


class Optimizer:
    """Base class: ``compute_gradients``, ``apply_gradients``, ``minimize`` (TF1's names)."""

    def __init__(self, learning_rate, use_locking=False, name=None):
        self.learning_rate = learning_rate
        self._name = name or type(self).__name__.replace("Optimizer", "")
        self._slots: dict = {}

    def compute_gradients(self, loss, var_list=None, **unused) -> list:
        """[(gradient, variable)] for ``var_list`` (default: the trainable variables)."""
        graph = loss.node.graph
        if var_list is None:
            var_list = [v for v in graph.variables if v.trainable]
        if not var_list:
            raise ValueError("No variables to optimize (create tf.Variable s, or pass var_list)")
        grads = _gradients(loss, list(var_list))
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """One op running every variable's update (and ``global_step += 1``)."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable: the loss does not depend "
                             f"on {[v.node.name for _, v in grads_and_vars]}")
        graph = pairs[0][1].node.graph
        updates = []
        with graph.as_default(), graph.name_scope(name or self._name):
            extra = self._prepare(graph)
            for g, v in pairs:
                with graph.name_scope("update_" + v.node.name.replace("/", "_")):
                    updates.extend(self._update(g, v))
            updates.extend(self._finish(extra))
            if global_step is not None:
                updates.append(global_step.assign_add(_b.to_array(1, global_step.dtype)))
            return _b.group(updates, name="update")

    def minimize(self, loss, global_step=None, var_list=None, name=None, **unused):
        """apply_gradients(compute_gradients(loss, var_list)): the training op."""
        return self.apply_gradients(self.compute_gradients(loss, var_list), global_step, name)

    # ---- helpers for subclasses
    def _lr(self, v):
        return _b.as_value(self.learning_rate, v.dtype)

    def _slot(self, v, name, fill=0.0):
        key = (v, name)
        if key not in self._slots:
            graph = v.node.graph
            with graph.name_scope(v.node.name + "/"):
                init = _b.constant(np.full(v.shape, fill, v.dtype), name=name + "/Initializer")
                self._slots[key] = _b.Variable(init, trainable=False, name=name)
        return self._slots[key]

    def get_slot(self, var, name):
        return self._slots.get((var, name))

    def _prepare(self, graph):
        return None

    def _finish(self, extra):
        return []

    def _update(self, g, v):  # pragma: no cover - abstract
        raise NotImplementedError


def _c(x, v):
    return _b.as_value(x, v.dtype)


class GradientDescentOptimizer(Optimizer):
    def _update(self, g, v):
        return [v.assign(v - self._lr(v) * g)]


class MomentumOptimizer(Optimizer):
    def __init__(self, learning_rate, momentum, use_locking=False, name=None,
                 use_nesterov=False):
        super().__init__(learning_rate, use_locking, name)
        self.momentum, self.use_nesterov = momentum, use_nesterov

    def _update(self, g, v):
        acc = self._slot(v, "Momentum")
        a = acc.assign(_c(self.momentum, v) * acc + g)
        step = g + _c(self.momentum, v) * a if self.use_nesterov else a
        return [a, v.assign(v - self._lr(v) * step)]


class AdamOptimizer(Optimizer):
    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking=False, name="Adam"):
        super().__init__(learning_rate, use_locking, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._powers = None

    def _prepare(self, graph):
        if self._powers is None:
            self._powers = tuple(
                _b.Variable(np.float32(b), trainable=False, name=f"beta{i}_power")
                for i, b in ((1, self.beta1), (2, self.beta2)))
        b1p, b2p = self._powers
        self._lr_t = self.learning_rate * _b.apply(_ops.Sqrt, 1 - b2p) / (1 - b1p)
        return self._powers

    def _update(self, g, v):
        m, s = self._slot(v, "Adam"), self._slot(v, "Adam_1")
        b1, b2 = _c(self.beta1, v), _c(self.beta2, v)
        m_t = m.assign(b1 * m + (1 - b1) * g)
        v_t = s.assign(b2 * s + (1 - b2) * (g * g))
        lr_t = _cast(self._lr_t, v)
        upd = lr_t * m_t / (_b.apply(_ops.Sqrt, v_t) + _c(self.epsilon, v))
        return [m_t, v_t, v.assign(v - upd)]

    def _finish(self, powers):
        b1p, b2p = powers
        return [b1p.assign(b1p * self.beta1), b2p.assign(b2p * self.beta2)]


def _cast(x, v):
    return x if x.dtype == v.dtype else _b.apply(_ops.Cast, x, dtype=v.dtype)


class RMSPropOptimizer(Optimizer):
    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False,
                 centered=False, name="RMSProp"):
        super().__init__(learning_rate, use_locking, name)
        if centered:
            raise NotImplementedError("RMSPropOptimizer(centered=True) is not supported")
        self.decay, self.momentum, self.epsilon = decay, momentum, epsilon

    def _update(self, g, v):
        ms, mom = self._slot(v, "RMSProp", 1.0), self._slot(v, "RMSProp_1")
        d = _c(self.decay, v)
        ms_t = ms.assign(d * ms + (1 - d) * (g * g))
        mom_t = mom.assign(_c(self.momentum, v) * mom +
                           self._lr(v) * g / _b.apply(_ops.Sqrt, ms_t + _c(self.epsilon, v)))
        return [ms_t, mom_t, v.assign(v - mom_t)]


class AdagradOptimizer(Optimizer):
    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking=False,
                 name="Adagrad"):
        super().__init__(learning_rate, use_locking, name)
        self.initial = initial_accumulator_value

    def _update(self, g, v):
        acc = self._slot(v, "Adagrad", self.initial)
        acc_t = acc.assign(acc + g * g)
        return [acc_t, v.assign(v - self._lr(v) * g / _b.apply(_ops.Sqrt, acc_t))]


def get_global_step(graph=None):
    graph = graph or get_default_graph()
    steps = graph.get_collection("global_step")
    return steps[0] if steps else None


def get_or_create_global_step(graph=None):
    graph = graph or get_default_graph()
    step = get_global_step(graph)
    if step is None:
        with graph.as_default():
            step = _b.Variable(np.int64(0), trainable=False, name="global_step")
        graph.add_to_collection("global_step", step)
    return step


create_global_step = get_or_create_global_step
