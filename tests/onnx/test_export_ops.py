"""One primitive (or a small composition) at a time through ember.onnx.export, against ember in
onnxruntime: arithmetic with Python numbers, comparisons and logic, rounding, indexing,
shapes, reductions, linear algebra."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from ._export_util import export_and_compare


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


R = np.random.default_rng(0)
X = (R.normal(size=(3, 4)) * 3).astype(np.float32)
I = R.integers(-5, 6, size=(3, 4))
B = R.random((3, 4)) > 0.5

CASES = {
    "scalars": (lambda x: (2 - x) * 0.5 / (x + 1.5) - 3 / (x.abs() + 1) + 2 ** (x / 4), X),
    "pow_sqrt": (lambda x: (x.abs() + 1) ** 1.5 + x.abs().sqrt() + x ** 2, X),
    "trig": (lambda x: x.sin() * x.cos() - (-x).exp().log1p() if hasattr(x, "log1p")
             else x.sin() * x.cos() - x.neg(), X),
    "max_min": (lambda x: ember.maximum(x, 0.5) + ember.minimum(x, x.T.T * 0.3), X),
    "compare": (lambda x: ((x > 0) & (x <= 2)) | (x == x.round()) ^ (x != 1), X),
    "int_compare": (lambda i: (i > 0.5) | (i < -1) | ~(i >= 3), I),
    "where_mask": (lambda x: ember.where(x > 0, x, x * 0.1).masked_fill(x < -2, 7.0), X),
    "clip_scalar": (lambda x: x.clip(-1, 2) + x.clip(min=0) + x.clip(max=0.5), X),
    "clip_tensor": (lambda x: ember.clip(x, x.mean(1, keepdim=True), x.amax(0) * 0.5), X),
    "rounding": (lambda x: x.floor() + x.ceil() * 2 + x.trunc() * 3 + x.sign() * 4 +
                 x.round() * 5 + x.round(1) * 6, X * 1.37),
    "int_rounding": (lambda i: i.floor() + i.sign() + i.abs(), I),
    "cast": (lambda x: x.astype(ember.int64).astype(ember.float32) + x.double().float(), X),
    "floordiv_mod": (lambda x: x // 1.5 + x % 1.5 + (x * 0 - 1) % 2.5, X),
    "int_mod": (lambda i: i % 3 + i % -4, I),
    "isnan_isfinite": (lambda x: ember.where((x / (x - x)).isnan() | ~(1 / x).isfinite(), 1.0,
                                             x), X * np.array([1, 0, 1, 1], np.float32)),
    "any_all": (lambda b: ember.stack([b.any(), b.all(), (b | True).all()]), B),
    "argmax": (lambda x: ember.stack([x.argmax(), x.argmin()]), X),
    "argmax_dim": (lambda x: (x.argmax(1), x.argmin(0, keepdim=True), x.max(0)[1],
                              x.min(-1)[0]), X),
    "one_hot": (lambda i: F.one_hot(i + 5, 11).sum(0), I),
    "slices": (lambda x: (x[1:, ::2], x[::-1, -1], x[..., None, 1:3], x[-2], x[:, -3:-1]), X),
    "int_array_index": (lambda x: (x[np.array([2, 0, 2])], x[:, np.array([[1, 3], [0, 0]])]),
                        X),
    "bool_mask_index": (lambda x: (x[np.array([True, False, True])], x[:, x[0] > 0]), X),
    "two_arrays": (lambda x: x[np.arange(3), np.array([1, 0, 3])], X),
    "mask_2d": (lambda x: x[x > 0.5], X),
    "take_along": (lambda x: x.max(1, keepdim=True)[0] + x.max(1)[0][:, None], X),
    "shapes": (lambda x: (x.reshape(2, 6).T, x.unsqueeze(0).expand(2, 3, 4),
                          x.flatten(), x[:, :1].expand(3, 5), x.permute(1, 0).reshape(-1)), X),
    "cat_stack_pad": (lambda x: (ember.cat([x, x * 2], 1), ember.stack([x, x], -1),
                                 F.pad(x, (1, 2, 0, 1), value=-1.0)), X),
    "reductions": (lambda x: (x.sum(), x.mean(0), x.var(), x.std(1, keepdim=True),
                              x.var(0, unbiased=False), x.prod(1), x.logsumexp(1),
                              x.logsumexp((0, 1), keepdim=True), x.amin((0, 1))), X),
    "int_reductions": (lambda i: (i.sum(1), i.mean(), i.amax(0)), I),
    "bool_sum": (lambda b: b.sum(1), B),
    "matmul": (lambda x: (x @ x.T, x[0] @ x.T, x @ x[0], x[0] @ x[0],
                          x.reshape(3, 2, 2) @ x.reshape(3, 2, 2)), X),
    "linear_3d_no_bias": (lambda x: F.linear(x.reshape(3, 2, 2), ember.tensor(
        np.ones((5, 2), np.float32))), X),
    "layer_norm_plain": (lambda x: F.layer_norm(x, (4,)) + F.layer_norm(x.reshape(3, 2, 2),
                                                                         (2, 2)).reshape(3, 4),
                         X),
    "batch_norm_batch_stats": (lambda x: F.batch_norm(x, None, None, training=True), X),
    "softmax_axes": (lambda x: (F.softmax(x, 0), F.log_softmax(x.reshape(3, 2, 2), 1)), X),
    "float64": (lambda x: (x.double() * 2.5).exp(), X),
}


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_op(name):
    fn, x = CASES[name]
    export_and_compare(Fn(fn), (ember.tensor(x),), atol=1e-5)
