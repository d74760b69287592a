"""A Caffe net (``NetParameter``) as an ember Module for one phase.

Layers run in file order over named blobs: each takes its ``bottom`` blobs and writes its
``top`` blobs, so an in-place layer (top = bottom) simply rebinds the name. Layers are kept or
dropped by their ``include`` / ``exclude`` rules against the net state (phase, level,
stages), as Caffe does. The loss is sum(loss_weight * top) over the tops with a weight
(loss layers weigh their first top 1 by default). A test net built with ``share_with`` uses
the train net's blobs for every layer of the same name, so it sees the weights being trained.
"""
import os
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..nn.module import Module
from ..tensor import Tensor
from . import data_layer  # noqa: F401  (registers the Data layer)
from .errors import CaffeError
from .layers import LAYERS, Input, infer_top_shapes
from .message import Msg, read_text


def state_meets_rule(rule: Msg, phase: str, level: int, stages) -> bool:
    if rule.phase is not None and rule.phase != phase:
        return False
    if rule.min_level is not None and level < rule.min_level:
        return False
    if rule.max_level is not None and level > rule.max_level:
        return False
    return all(s in stages for s in rule.stage) and not any(s in stages for s in rule.not_stage)


def layer_included(lp: Msg, phase: str, level: int = 0, stages=()) -> bool:
    if len(lp.include) and len(lp.exclude):
        raise CaffeError(f"{lp.where()}: layer '{lp.name}' has both include and exclude rules "
                         f"(Caffe allows one kind)")
    if len(lp.include):
        return any(state_meets_rule(r, phase, level, stages) for r in lp.include)
    return not any(state_meets_rule(r, phase, level, stages) for r in lp.exclude)


def _legacy_inputs(param: Msg) -> Optional[Msg]:
    """The deprecated ``input:`` / ``input_shape`` / ``input_dim`` fields as an Input layer."""
    if not len(param.input):
        return None
    names = list(param.input)
    if len(param.input_shape):
        shapes = [list(s.dim) for s in param.input_shape]
    elif len(param.input_dim):
        dims = list(param.input_dim)
        if len(dims) != 4 * len(names):
            raise CaffeError(f"{param.where('input_dim')}: input_dim needs 4 values per input")
        shapes = [dims[4 * i:4 * i + 4] for i in range(len(names))]
    else:
        raise CaffeError(f"{param.where('input')}: input blobs need input_shape or input_dim")
    ip = Msg("InputParameter", param.where("input"),
             shape=[Msg("BlobShape", dim=s) for s in shapes])
    return Msg("LayerParameter", param.where("input"), name="input", type="Input",
               top=names, input_param=ip)


def _module_name(i, name):
    return f"{i}_" + re.sub(r"\W", "_", name or "layer")


class Net(Module):
    """One phase of a Caffe net. ``forward(**inputs)`` runs it and returns every blob by name;
    ``loss`` is the weighted loss of the last forward; ``outputs`` names the blobs no layer
    consumed (Caffe's net outputs, in Caffe's sorted order)."""

    def __init__(self, param: Msg, phase: str = "TRAIN", level: int = 0, stages=(),
                 share_with: Optional["Net"] = None, rng: Optional[np.random.Generator] = None):
        super().__init__()
        from .. import random as erandom
        if len(param.layers):
            raise CaffeError(f"{param.where('layers')}: this net uses Caffe's old V1 'layers' "
                             f"format; upgrade it to 'layer' (Caffe's upgrade_net_proto_text)")
        self.name, self.phase, self.param = param.name, phase, param
        init_rng = erandom.get_generator()
        self.rng = rng if rng is not None else np.random.default_rng(
            init_rng.integers(0, 2**63 - 1))
        self.layers = []
        self.loss_weights: List[Tuple[int, str, float]] = []   # (layer index, top, weight)
        self.blob_shapes: Dict[str, Tuple[int, ...]] = {}
        self.specs: Dict[int, List[Tuple[float, float]]] = {}  # id(blob) -> [(lr, decay)]
        shared_names: Dict[str, Tensor] = {}
        lps = [_legacy_inputs(param)] if len(param.input) else []
        lps += [lp for lp in param.layer if layer_included(lp, phase, level, stages)]
        seen, available = {}, []
        for lp in lps:
            where = f"{lp.where()}: layer '{lp.name}'"
            cls = LAYERS.get(lp.type)
            if cls is None:
                raise CaffeError(f"{lp.where('type')}: layer '{lp.name}' has unknown type "
                                 f"'{lp.type}'; supported types: {', '.join(sorted(LAYERS))}")
            if not lp.name:
                raise CaffeError(f"{lp.where()}: a {lp.type} layer has no name")
            if lp.name in seen:
                raise CaffeError(f"{where}: a second layer named '{lp.name}' in the "
                                 f"{phase} net (first at {seen[lp.name]})")
            seen[lp.name] = lp.where()
            lo, hi = cls.n_bottoms
            nb = len(lp.bottom)
            if nb < lo or (hi is not None and nb > hi):
                want = f"{lo}" if lo == hi else f"{lo} to {hi if hi is not None else 'any'}"
                raise CaffeError(f"{where} ({lp.type}) takes {want} bottoms, got {nb}")
            lo, hi = cls.n_tops
            nt = len(lp.top)
            if nt < lo or (hi is not None and nt > hi):
                want = f"{lo}" if lo == hi else f"{lo} to {hi if hi is not None else 'any'}"
                raise CaffeError(f"{where} ({lp.type}) makes {want} tops, got {nt}")
            for b in lp.bottom:
                if b not in self.blob_shapes:
                    raise CaffeError(f"{lp.where('bottom')}: layer '{lp.name}' reads blob "
                                     f"'{b}', which no earlier layer of the {phase} net makes "
                                     f"(blobs so far: {', '.join(self.blob_shapes) or 'none'})")
            shapes = [self.blob_shapes[b] for b in lp.bottom]
            layer = cls.build(lp, phase, shapes, init_rng)
            i = len(self.layers)
            self._share(layer, lp, share_with, shared_names)
            tops = layer.top_shapes() if hasattr(layer, "top_shapes") else \
                infer_top_shapes(layer, shapes)
            for b in lp.bottom:
                if b in available:
                    available.remove(b)
            for t, s in zip(lp.top, tops):
                self.blob_shapes[t] = tuple(s)
                if t not in available:
                    available.append(t)
            lw = list(lp.loss_weight)
            if lw and len(lw) != nt:
                raise CaffeError(f"{lp.where('loss_weight')}: layer '{lp.name}' has {len(lw)} "
                                 f"loss_weight values for {nt} tops")
            if not lw:
                lw = [layer.default_loss_weight] + [0.0] * (nt - 1)
            for t, w in zip(lp.top, lw):
                if w:
                    self.loss_weights.append((i, t, float(w)))
            self.layers.append(layer)
            self.add_module(_module_name(i, lp.name), layer)
        self.outputs = sorted(available)
        self.train(phase == "TRAIN")
        self.loss: Optional[Tensor] = None

    def _share(self, layer, lp, share_with, shared_names):
        """Blob sharing: with the train net by layer name, and by ``param { name }``."""
        if share_with is not None:
            other = share_with.layer(lp.name)
            if other is not None and other.type_name == layer.type_name and layer.blob_names:
                layer.share_blobs(other)
        specs = list(lp.param)
        blobs = layer.blobs()
        if len(specs) > len(blobs):
            raise CaffeError(f"{lp.where('param')}: layer '{lp.name}' has {len(specs)} param "
                             f"entries but {len(blobs)} blobs")
        for j, (attr, learnable) in enumerate(zip(layer.blob_names, layer.learnable)):
            spec = specs[j] if j < len(specs) else None
            lr = spec.lr_mult if spec is not None else 1.0
            decay = spec.decay_mult if spec is not None else 1.0
            blob = getattr(layer, attr)
            if spec is not None and spec.name:
                owner = shared_names.get(spec.name)
                if owner is None:
                    shared_names[spec.name] = blob
                else:
                    if tuple(owner.shape) != tuple(blob.shape):
                        raise CaffeError(f"{spec.where('name')}: shared param '{spec.name}' "
                                         f"has shape {tuple(owner.shape)} here "
                                         f"{tuple(blob.shape)}")
                    if learnable:
                        setattr(layer, attr, owner)
                    else:
                        layer.register_buffer(attr, owner)
                    continue
            if id(blob) not in self.specs:
                self.specs[id(blob)] = (lr if learnable else 0.0, decay if learnable else 0.0)

    # ---- lookups ------------------------------------------------------------------------
    def layer(self, name: str):
        for layer in self.layers:
            if layer.name == name:
                return layer
        return None

    def learnable_blobs(self) -> List[Tuple[str, Tensor, float, float]]:
        """Every distinct blob in net order: (layer.blob name, tensor, lr_mult, decay_mult);
        Caffe's learnable_params (its solverstate keeps one history per entry)."""
        out, seen = [], set()
        for layer in self.layers:
            for attr in layer.blob_names:
                t = getattr(layer, attr)
                if id(t) in seen:
                    continue
                seen.add(id(t))
                lr, decay = self.specs.get(id(t), (1.0, 1.0))
                out.append((f"{layer.name}.{attr}", t, lr, decay))
        return out

    def data_layers(self):
        return [l for l in self.layers if l.type_name == "Data"]

    # ---- running ------------------------------------------------------------------------
    def forward(self, **inputs) -> Dict[str, Tensor]:
        blobs: Dict[str, Tensor] = {}
        losses = []
        loss_at = {}
        for i, t, w in self.loss_weights:
            loss_at.setdefault(i, []).append((t, w))
        for i, layer in enumerate(self.layers):
            lp = layer.lp
            if layer.type_name == "Data":
                tops = layer.next_batch(self.rng)
            elif isinstance(layer, Input):
                tops = []
                for t, s in zip(lp.top, layer.shapes):
                    if t not in inputs:
                        raise CaffeError(f"{lp.where()}: net input '{t}' (shape {s}) was not "
                                         f"given; call forward({t}=array)")
                    v = inputs[t]
                    tops.append(v if isinstance(v, Tensor) else Tensor(np.asarray(v)))
            else:
                bots = [blobs[b] for b in lp.bottom]
                pd = list(lp.propagate_down)
                if pd:
                    bots = [b if keep else b.detach() for b, keep in zip(bots, pd)]
                tops = layer(*bots)
            for t, v in zip(lp.top, tops):
                blobs[t] = v
            for t, w in loss_at.get(i, ()):
                losses.append(blobs[t] * w if w != 1 else blobs[t])
        total = None
        for v in losses:
            v = v.sum() if v.ndim else v
            total = v if total is None else total + v
        self.loss = total
        return blobs

    @classmethod
    def from_prototxt(cls, path, phase: str = "TEST", **kwargs) -> "Net":
        """Build a net from a prototxt file (paths inside are relative to the working dir)."""
        return cls(read_text(os.fspath(path), "NetParameter"), phase, **kwargs)

    def extra_repr(self):
        return f"name={self.name!r}, phase={self.phase}, layers={len(self.layers)}"
