"""The Caffe layer types ember builds, as ember Modules over ember's ops.

Each layer takes its bottoms as tensors and returns a tuple of tops. Its parameter blobs are
attributes named in ``blob_names``, in Caffe's order (weight then bias; BatchNorm's mean,
variance, factor), which is the order of ``LayerParameter.blobs`` in a .caffemodel and of
the ``param { lr_mult decay_mult }`` entries. ``build(lp, phase, bottom_shapes, rng)`` checks
the layer's settings against its bottoms and creates the blobs with the fillers.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..functions import cat, maximum
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from . import functional as CF
from .errors import CaffeError
from .fillers import fill
from .message import Msg

F = nn.functional
Shape = Tuple[int, ...]


class Layer(Module):
    """Base of the Caffe layers: name, type, blob bookkeeping."""

    type_name = ""
    param_field = None          # the LayerParameter field holding this type's settings
    n_bottoms = (1, 1)          # allowed (min, max) bottoms; max None = any
    n_tops = (1, 1)
    default_loss_weight = 0.0

    def __init__(self, lp: Msg, phase: str):
        super().__init__()
        self.name, self.phase, self.lp = lp.name, phase, lp
        self.blob_names: List[str] = []
        self.learnable: List[bool] = []

    def where(self) -> str:
        return f"{self.lp.where()}: layer '{self.name}' ({self.type_name})"

    def error(self, msg: str) -> CaffeError:
        return CaffeError(f"{self.where()}: {msg}")

    @property
    def p(self) -> Msg:
        return getattr(self.lp, self.param_field) if self.param_field else None

    def add_blob(self, attr: str, array: np.ndarray, learnable: bool = True) -> None:
        if learnable:
            setattr(self, attr, Parameter(np.ascontiguousarray(array, np.float32)))
        else:
            self.register_buffer(attr, Tensor(np.ascontiguousarray(array, np.float32)))
        self.blob_names.append(attr)
        self.learnable.append(learnable)

    def blobs(self) -> List[Tensor]:
        return [getattr(self, a) for a in self.blob_names]

    def share_blobs(self, other: "Layer") -> None:
        """Use ``other``'s blobs (a test net shares the train net's weights by layer name)."""
        mine = [tuple(b.shape) for b in self.blobs()]
        theirs = [tuple(b.shape) for b in other.blobs()]
        if mine != theirs:
            raise self.error(f"shares its name with a layer of the train net whose blobs "
                             f"have shapes {theirs}, but here they are {mine}")
        for attr, learnable in zip(self.blob_names, self.learnable):
            t = getattr(other, attr)
            if learnable:
                setattr(self, attr, t)
            else:
                self.register_buffer(attr, t)

    def filler(self, name: str, default_type: str = "constant", value: float = 0.0) -> Msg:
        p = self.p
        if p is not None and p.has(name):
            return getattr(p, name)
        return Msg("FillerParameter", self.lp.where(), type=default_type, value=value)

    @classmethod
    def build(cls, lp: Msg, phase: str, shapes: List[Shape], rng) -> "Layer":
        layer = cls(lp, phase)
        layer.setup(shapes, rng)
        return layer

    def setup(self, shapes: List[Shape], rng) -> None:
        pass


def _spatial(p: Msg, name: str, h_name: str, w_name: str, default, layer: Layer):
    """Caffe's 'one value, or one per spatial axis, or *_h / *_w' settings."""
    vals = list(getattr(p, name)) if isinstance(getattr(p, name), list) else \
        ([getattr(p, name)] if p.has(name) else [])
    has_hw = p.has(h_name) or p.has(w_name)
    if has_hw:
        if vals:
            raise layer.error(f"give {name} or {h_name}/{w_name}, not both")
        if not (p.has(h_name) and p.has(w_name)):
            raise layer.error(f"{h_name} and {w_name} must be given together")
        return int(getattr(p, h_name)), int(getattr(p, w_name))
    if not vals:
        if default is None:
            raise layer.error(f"{name} is required")
        return default, default
    if len(vals) == 1:
        return int(vals[0]), int(vals[0])
    if len(vals) == 2:
        return int(vals[0]), int(vals[1])
    raise layer.error(f"{name} has {len(vals)} values; 2-D layers take 1 or 2")


def _axis(axis: int, ndim: int, layer: Layer, what="axis") -> int:
    if not -ndim <= axis < ndim:
        raise layer.error(f"{what} {axis} is out of range for a {ndim}-axis bottom")
    return axis % ndim


class Convolution(Layer):
    type_name, param_field = "Convolution", "convolution_param"

    def setup(self, shapes, rng):
        p, shape = self.p, shapes[0]
        if len(shape) != 4:
            raise self.error(f"ember convolves 4-D (N, C, H, W) blobs; the bottom has shape "
                             f"{shape}")
        if p.axis != 1:
            raise self.error("only axis: 1 (channels) is supported")
        if not p.has("num_output") or p.num_output < 1:
            raise self.error("convolution_param needs num_output >= 1")
        self.kernel = _spatial(p, "kernel_size", "kernel_h", "kernel_w", None, self)
        self.stride = _spatial(p, "stride", "stride_h", "stride_w", 1, self)
        self.pad = _spatial(p, "pad", "pad_h", "pad_w", 0, self)
        dil = list(p.dilation)
        self.dilation = (int(dil[0]),) * 2 if len(dil) == 1 else \
            (tuple(int(d) for d in dil) if dil else (1, 1))
        self.group = int(p.group)
        c, o = shape[1], int(p.num_output)
        if c % self.group or o % self.group:
            raise self.error(f"group {self.group} must divide the input channels ({c}) and "
                             f"num_output ({o})")
        wshape = (o, c // self.group) + self.kernel
        self.add_blob("weight", fill(wshape, self.filler("weight_filler"), rng, self.name))
        self.bias_term = bool(p.bias_term)
        if self.bias_term:
            self.add_blob("bias", fill((o,), self.filler("bias_filler"), rng, self.name))

    def forward(self, x):
        return (F.conv2d(x, self.weight, self.bias if self.bias_term else None, self.stride,
                         self.pad, self.dilation, self.group, _name=self.where()),)


class Pooling(Layer):
    type_name, param_field = "Pooling", "pooling_param"

    def setup(self, shapes, rng):
        p, shape = self.p, shapes[0]
        if len(shape) != 4:
            raise self.error(f"pools 4-D (N, C, H, W) blobs; the bottom has shape {shape}")
        if p.pool == "STOCHASTIC":
            raise self.error("pool: STOCHASTIC is not supported (MAX and AVE are)")
        self.method = p.pool
        if p.global_pooling:
            if p.has("kernel_size") or p.has("kernel_h"):
                raise self.error("global_pooling takes no kernel size")
            self.kernel, self.stride, self.pad = tuple(shape[2:]), (1, 1), (0, 0)
        else:
            self.kernel = _spatial(p, "kernel_size", "kernel_h", "kernel_w", None, self)
            self.stride = _spatial(p, "stride", "stride_h", "stride_w", 1, self)
            self.pad = _spatial(p, "pad", "pad_h", "pad_w", 0, self)
        if self.pad[0] >= self.kernel[0] or self.pad[1] >= self.kernel[1]:
            raise self.error(f"pad {self.pad} must be smaller than the kernel {self.kernel}")
        self.ceil = p.round_mode == "CEIL"

    def forward(self, x):
        return (CF.pool2d(x, self.method, self.kernel, self.stride, self.pad, self.ceil),)


class InnerProduct(Layer):
    type_name, param_field = "InnerProduct", "inner_product_param"

    def setup(self, shapes, rng):
        p, shape = self.p, shapes[0]
        if not p.has("num_output") or p.num_output < 1:
            raise self.error("inner_product_param needs num_output >= 1")
        self.axis = _axis(p.axis, len(shape), self)
        k, o = int(np.prod(shape[self.axis:])), int(p.num_output)
        self.transpose = bool(p.transpose)
        wshape = (k, o) if self.transpose else (o, k)
        self.add_blob("weight", fill(wshape, self.filler("weight_filler"), rng, self.name))
        self.bias_term = bool(p.bias_term)
        if self.bias_term:
            self.add_blob("bias", fill((o,), self.filler("bias_filler"), rng, self.name))

    def forward(self, x):
        lead = tuple(x.shape[:self.axis])
        h = x.reshape(int(np.prod(lead)) if lead else 1, -1)
        y = h @ self.weight if self.transpose else h @ self.weight.T
        if self.bias_term:
            y = y + self.bias
        return (y.reshape(lead + (y.shape[1],)),)


class ReLU(Layer):
    type_name, param_field = "ReLU", "relu_param"

    def forward(self, x):
        s = self.p.negative_slope
        return (F.relu(x) if s == 0 else F.leaky_relu(x, s),)


class Sigmoid(Layer):
    type_name, param_field = "Sigmoid", "sigmoid_param"

    def forward(self, x):
        return (F.sigmoid(x),)


class TanH(Layer):
    type_name, param_field = "TanH", "tanh_param"

    def forward(self, x):
        return (F.tanh(x),)


class Dropout(Layer):
    """Inverted dropout as Caffe: survivors scaled by 1 / (1 - ratio) in TRAIN; identity in TEST."""
    type_name, param_field = "Dropout", "dropout_param"

    def setup(self, shapes, rng):
        self.ratio = float(self.p.dropout_ratio)
        if not 0.0 <= self.ratio < 1.0:
            raise self.error(f"dropout_ratio must be in [0, 1), got {self.ratio}")

    def forward(self, x):
        return (F.dropout(x, self.ratio, self.training and self.phase == "TRAIN"),)


class LRN(Layer):
    type_name, param_field = "LRN", "lrn_param"

    def setup(self, shapes, rng):
        p = self.p
        if len(shapes[0]) != 4:
            raise self.error(f"needs a 4-D bottom, got shape {shapes[0]}")
        if p.local_size % 2 == 0:
            raise self.error(f"local_size must be odd, got {p.local_size}")

    def forward(self, x):
        p = self.p
        return (CF.lrn(x, int(p.local_size), float(p.alpha), float(p.beta), float(p.k),
                       p.norm_region),)


class BatchNorm(Layer):
    """Caffe's BatchNorm (no scale/shift: a Scale layer follows). Blobs: the running sums of
    mean and variance and their weight s; the statistics are mean = blob0 / s, var = blob1 / s.
    Each TRAIN step: s <- f s + 1, blob0 <- f blob0 + batch mean,
    blob1 <- f blob1 + m/(m-1) batch variance (f = moving_average_fraction). TRAIN normalises
    with the batch's statistics, TEST (use_global_stats) with the running ones."""
    type_name, param_field = "BatchNorm", "batch_norm_param"

    def setup(self, shapes, rng):
        shape = shapes[0]
        c = shape[1] if len(shape) > 1 else 1
        self.add_blob("mean", np.zeros(c), learnable=False)
        self.add_blob("variance", np.zeros(c), learnable=False)
        self.add_blob("factor", np.zeros(1), learnable=False)
        p = self.p
        self.use_global = p.use_global_stats if p.has("use_global_stats") else \
            self.phase == "TEST"
        self.eps, self.maf = float(p.eps), float(p.moving_average_fraction)

    def forward(self, x):
        c = x.shape[1]
        bshape = (1, c) + (1,) * (x.ndim - 2)
        if self.use_global or not self.training:
            s = float(self.factor.data[0])
            inv = 0.0 if s == 0 else 1.0 / s
            mean = self.mean.data * inv
            var = self.variance.data * inv
            rstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
            return ((x - Tensor(mean.astype(x.dtype).reshape(bshape))) *
                    Tensor(rstd.reshape(bshape)),)
        xd = x.data
        axes = (0,) + tuple(range(2, xd.ndim))
        m = xd.size // c
        bmean, bvar = xd.mean(axis=axes), xd.var(axis=axes)
        self.factor.data[...] = self.factor.data * self.maf + 1
        self.mean.data[...] = self.mean.data * self.maf + bmean
        self.variance.data[...] = self.variance.data * self.maf + bvar * (m / max(m - 1, 1))
        return (F.batch_norm(x, None, None, training=True, eps=self.eps),)


class Scale(Layer):
    """y = x * gamma (+ beta), gamma broadcast over bottom axes [axis, axis + num_axes); with
    two bottoms, gamma is the second bottom."""
    type_name, param_field = "Scale", "scale_param"
    n_bottoms = (1, 2)

    def setup(self, shapes, rng):
        p, shape = self.p, shapes[0]
        self.axis = _axis(p.axis, len(shape), self) if len(shape) else 0
        if len(shapes) == 2:
            sshape = shapes[1]
            if tuple(shape[self.axis:self.axis + len(sshape)]) != tuple(sshape):
                raise self.error(f"scale bottom of shape {sshape} does not match bottom "
                                 f"shape {shape} from axis {self.axis}")
        else:
            end = len(shape) if p.num_axes == -1 else self.axis + p.num_axes
            sshape = tuple(shape[self.axis:end])
            self.add_blob("weight", fill(sshape, self.filler("filler", "constant", 1.0), rng,
                                         self.name))
        self.scale_shape = tuple(sshape)
        self.bshape = (1,) * self.axis + self.scale_shape + \
            (1,) * (len(shape) - self.axis - len(sshape))
        self.bias_term = bool(p.bias_term)
        if self.bias_term:
            self.add_blob("bias", fill(self.scale_shape, self.filler("bias_filler"), rng,
                                       self.name))

    def forward(self, x, scale=None):
        g = self.weight if scale is None else scale
        y = x * g.reshape(self.bshape)
        if self.bias_term:
            y = y + self.bias.reshape(self.bshape)
        return (y,)


class Eltwise(Layer):
    type_name, param_field = "Eltwise", "eltwise_param"
    n_bottoms = (2, None)

    def setup(self, shapes, rng):
        if any(s != shapes[0] for s in shapes):
            raise self.error(f"bottoms must have one shape, got {shapes}")
        coeff = list(self.p.coeff)
        if coeff and (self.p.operation != "SUM" or len(coeff) != len(shapes)):
            raise self.error("coeff needs operation SUM and one value per bottom")
        self.coeff = coeff

    def forward(self, *xs):
        op = self.p.operation
        if op == "SUM":
            out = xs[0] * self.coeff[0] if self.coeff and self.coeff[0] != 1 else xs[0]
            for i, x in enumerate(xs[1:], 1):
                c = self.coeff[i] if self.coeff else 1.0
                out = out + (x if c == 1 else x * c)
        elif op == "PROD":
            out = xs[0]
            for x in xs[1:]:
                out = out * x
        else:
            out = xs[0]
            for x in xs[1:]:
                out = maximum(out, x)
        return (out,)


class Concat(Layer):
    type_name, param_field = "Concat", "concat_param"
    n_bottoms = (1, None)

    def setup(self, shapes, rng):
        p = self.p
        axis = p.concat_dim if p.has("concat_dim") and not p.has("axis") else p.axis
        self.axis = _axis(axis, len(shapes[0]), self)
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(a != b for i, (a, b) in
                                               enumerate(zip(s, shapes[0])) if i != self.axis):
                raise self.error(f"bottoms of shapes {shapes} differ outside axis {self.axis}")

    def forward(self, *xs):
        return (xs[0] if len(xs) == 1 else cat(list(xs), self.axis),)


class Flatten(Layer):
    type_name, param_field = "Flatten", "flatten_param"

    def setup(self, shapes, rng):
        n = len(shapes[0])
        self.start = _axis(self.p.axis, n, self)
        self.end = _axis(self.p.end_axis, n, self, "end_axis")

    def forward(self, x):
        return (x.flatten(self.start, self.end),)


class Softmax(Layer):
    type_name, param_field = "Softmax", "softmax_param"

    def setup(self, shapes, rng):
        self.axis = _axis(self.p.axis, len(shapes[0]), self)

    def forward(self, x):
        return (F.softmax(x, dim=self.axis),)


def _labels(label, outer_inner: int, layer: Layer) -> np.ndarray:
    t = np.asarray(label.data if isinstance(label, Tensor) else label)
    if t.size != outer_inner:
        raise layer.error(f"{t.size} labels for {outer_inner} predictions")
    return t.reshape(-1).astype(np.int64)


class SoftmaxWithLoss(Layer):
    """Mean cross-entropy of softmax(bottom[0]) along ``axis`` against integer labels;
    normalised by the count of non-ignored labels (VALID), all (FULL), the batch size
    (BATCH_SIZE) or 1 (NONE). A second top gives the probabilities."""
    type_name, param_field = "SoftmaxWithLoss", "softmax_param"
    n_bottoms, n_tops = (2, 2), (1, 2)
    default_loss_weight = 1.0

    def setup(self, shapes, rng):
        self.axis = _axis(self.p.axis, len(shapes[0]), self)
        lp = self.lp.loss_param
        norm = lp.normalization
        if lp.has("normalize") and not lp.has("normalization"):
            norm = "VALID" if lp.normalize else "BATCH_SIZE"
        self.norm, self.ignore = norm, lp.ignore_label

    def forward(self, x, label):
        c = x.shape[self.axis]
        perm = [i for i in range(x.ndim) if i != self.axis] + [self.axis]
        z = (x if self.axis == x.ndim - 1 else x.permute(*perm)).reshape(-1, c)
        t = _labels(label, z.shape[0], self)
        ignore = self.ignore if self.ignore is not None else -100
        if self.ignore is None and (t.min() < 0 or t.max() >= c):
            raise self.error(f"labels must be in [0, {c}); got range [{t.min()}, {t.max()}]")
        total = F.cross_entropy(z, Tensor(t), ignore_index=ignore, reduction="sum")
        if self.norm == "VALID":
            n = int((t != ignore).sum()) if self.ignore is not None else t.size
        elif self.norm == "FULL":
            n = t.size
        elif self.norm == "BATCH_SIZE":
            n = int(np.prod(x.shape[:self.axis])) or 1
        else:
            n = 1
        loss = total / float(max(n, 1))
        if len(self.lp.top) > 1:
            return loss, F.softmax(x, dim=self.axis)
        return (loss,)


class Accuracy(Layer):
    """Fraction of predictions whose true class is among the ``top_k`` highest scores
    (a class counts as in the top k when fewer than k scores beat it)."""
    type_name, param_field = "Accuracy", "accuracy_param"
    n_bottoms = (2, 2)

    def setup(self, shapes, rng):
        self.axis = _axis(self.p.axis, len(shapes[0]), self)
        self.k = int(self.p.top_k)
        if self.k > shapes[0][self.axis]:
            raise self.error(f"top_k {self.k} is more than the {shapes[0][self.axis]} classes")

    def forward(self, x, label):
        s = np.moveaxis(np.asarray(x.data), self.axis, -1)
        s = s.reshape(-1, s.shape[-1])
        t = _labels(label, s.shape[0], self)
        keep = np.ones(len(t), bool) if self.p.ignore_label is None else \
            t != self.p.ignore_label
        s, t = s[keep], t[keep]
        if not len(t):
            return (Tensor(np.array(0.0, np.float32)),)
        true = s[np.arange(len(t)), t]
        better = (s > true[:, None]).sum(1)
        return (Tensor(np.array((better < self.k).mean(), np.float32)),)


class Input(Layer):
    """Blobs given to ``Net.forward(name=array)``, of the shapes in ``input_param``."""
    type_name, param_field = "Input", "input_param"
    n_bottoms, n_tops = (0, 0), (1, None)

    def setup(self, shapes, rng):
        sh = [tuple(int(d) for d in s.dim) for s in self.p.shape]
        tops = self.lp.top
        if len(sh) not in (1, len(tops)):
            raise self.error(f"{len(sh)} shapes for {len(tops)} tops (give 1 or one per top)")
        self.shapes = sh * len(tops) if len(sh) == 1 else sh

    def top_shapes(self):
        return self.shapes


LAYERS: Dict[str, type] = {c.type_name: c for c in (
    Convolution, Pooling, InnerProduct, ReLU, Sigmoid, TanH, Dropout, LRN, BatchNorm, Scale,
    Eltwise, Concat, Flatten, Softmax, SoftmaxWithLoss, Accuracy, Input)}


def infer_top_shapes(layer: Layer, shapes: Sequence[Shape]) -> List[Shape]:
    """Top shapes by running the layer once on zeros (batch of at most 2, no gradients,
    TEST behaviour), so every type's shape rule lives in its forward only."""
    n = shapes[0][0] if shapes and shapes[0] else 1
    small = min(n, 2)
    xs = []
    for i, s in enumerate(shapes):
        s2 = (small,) + tuple(s[1:]) if s and s[0] == n else tuple(s)
        is_label = layer.type_name in ("SoftmaxWithLoss", "Accuracy") and i == 1
        xs.append(Tensor(np.zeros(s2, np.int64 if is_label else np.float32)))
    was = layer.training
    layer.eval()
    try:
        with no_grad():
            outs = layer(*xs)
    except CaffeError:
        raise
    except (ValueError, IndexError, TypeError) as e:
        raise layer.error(f"does not fit its bottoms of shapes {list(shapes)}: {e}") from None
    finally:
        layer.train(was)
    return [((n,) + tuple(o.shape[1:])) if o.ndim and o.shape[0] == small and small != n
            else tuple(o.shape) for o in outs]
