"""Caffe layer arithmetic: pooling's rounding, LRN, BatchNorm + Scale, losses, accuracy,
fillers; against PyTorch where it computes the same thing, else against Caffe's formulas."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.caffe import Net, from_text
from ember.caffe import functional as CF
from ember.caffe.fillers import fill
from ember.caffe.message import Msg
from tests.conftest import torch_or_skip


def _t(a, grad=True):
    return ember.Tensor(np.array(a), requires_grad=grad)


@pytest.mark.parametrize("method", ["MAX", "AVE"])
@pytest.mark.parametrize("h, k, s, p", [(7, 3, 2, 0), (6, 3, 2, 1), (5, 2, 2, 1), (8, 2, 2, 0),
                                        (9, 3, 3, 1), (6, 3, 1, 0)])
def test_pooling_rounds_up_like_caffe(method, h, k, s, p):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, h, h + 1)).astype(np.float32)
    g = rng.standard_normal
    ex = _t(x)
    out = CF.pool2d(ex, method, (k, k), (s, s), (p, p), ceil=True)
    tx = torch.tensor(x, requires_grad=True)
    fn = torch.nn.functional.max_pool2d if method == "MAX" else \
        lambda *a, **kw: torch.nn.functional.avg_pool2d(*a, count_include_pad=True, **kw)
    tout = fn(tx, k, s, p, ceil_mode=True)
    assert tuple(out.shape) == tuple(tout.shape)
    assert out.shape[2] == CF.pool_out_size(h, k, s, p)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    up = g(out.shape).astype(np.float32)
    (out * ember.Tensor(up)).sum().backward()
    (tout * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(ex.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_pooling_gradcheck_ave_over_the_edge():
    x = _t(np.random.default_rng(1).standard_normal((1, 2, 6, 5)))
    assert gradcheck(lambda t: CF.pool2d(t, "AVE", (3, 3), (2, 2), (1, 1)), [x])


@pytest.mark.parametrize("size", [3, 5])
def test_lrn_across_channels_vs_torch(size):
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 4, 3)).astype(np.float32)
    ex = _t(x)
    out = CF.lrn(ex, size, alpha=0.3, beta=0.75, k=2.0)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.local_response_norm(tx, size, alpha=0.3, beta=0.75, k=2.0)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-5, atol=1e-6)
    up = rng.standard_normal(x.shape).astype(np.float32)
    (out * ember.Tensor(up)).sum().backward()
    (tout * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(ex.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_lrn_gradcheck_and_within_channel_formula():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4, 5, 5))
    for region in ("ACROSS_CHANNELS", "WITHIN_CHANNEL"):
        assert gradcheck(lambda t: CF.lrn(t, 3, 0.5, 0.75, 1.5, region), [_t(x)])
    # WITHIN_CHANNEL: x / (1 + alpha * mean of x^2 over the zero-padded 3x3 window)^beta
    out = CF.lrn(_t(x, False), 3, 0.5, 0.75, 9.0, "WITHIN_CHANNEL").data
    sq = np.pad(x ** 2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sum(sq[:, :, i:i + 5, j:j + 5] for i in range(3) for j in range(3)) / 9
    np.testing.assert_allclose(out, x / (1 + 0.5 * win) ** 0.75, rtol=1e-12)


BN_NET = '''name: "bn"
layer { name: "in" type: "Input" top: "x" top: "y"
        input_param { shape { dim: 6 dim: 3 dim: 2 dim: 2 } shape { dim: 6 } } }
layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x"
        batch_norm_param { moving_average_fraction: 0.9 eps: 0.001 } }
layer { name: "sc" type: "Scale" bottom: "x" top: "x" scale_param { bias_term: true
        filler { type: "constant" value: 2 } bias_filler { type: "constant" value: 0.5 } } }
layer { name: "pool" type: "Pooling" bottom: "x" top: "p" pooling_param { pool: AVE
        global_pooling: true } }
layer { name: "fl" type: "Flatten" bottom: "p" top: "f" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "f" bottom: "y" top: "loss" }
'''


def test_batchnorm_scale_caffe_statistics():
    param = from_text(BN_NET, "NetParameter")
    train = Net(param, "TRAIN")
    test = Net(param, "TEST", share_with=train)
    assert test.layer("bn").mean is train.layer("bn").mean      # shared by layer name
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((6, 3, 2, 2)).astype(np.float32) for _ in range(2)]
    y = np.array([0, 1, 2, 0, 1, 2])
    for x in xs:
        b = train.forward(x=x, y=y)
    x = xs[-1]
    mu, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    want = 2 * (x - mu[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-3) + 0.5
    np.testing.assert_allclose(b["x"].data, want, rtol=1e-4, atol=1e-5)
    bn = train.layer("bn")
    m = 6 * 2 * 2
    np.testing.assert_allclose(bn.factor.data, [0.9 * 1 + 1])
    np.testing.assert_allclose(bn.mean.data, 0.9 * xs[0].mean((0, 2, 3)) + mu, rtol=1e-5)
    np.testing.assert_allclose(bn.variance.data, 0.9 * xs[0].var((0, 2, 3)) * m / (m - 1)
                               + var * m / (m - 1), rtol=1e-5)
    # TEST uses the running statistics blob / factor
    tb = test.forward(x=x, y=y)
    gm, gv = bn.mean.data / 1.9, bn.variance.data / 1.9
    want = 2 * (x - gm[None, :, None, None]) / np.sqrt(gv[None, :, None, None] + 1e-3) + 0.5
    np.testing.assert_allclose(tb["x"].data, want, rtol=1e-4, atol=1e-5)
    # BatchNorm's blobs are not learned: lr_mult 0, as Caffe forces
    mults = {n: lr for n, _, lr, _ in train.learnable_blobs()}
    assert mults["bn.mean"] == 0 and mults["sc.weight"] == 1


def test_softmax_with_loss_normalizations_vs_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 5, 3, 2)).astype(np.float32)
    y = rng.integers(0, 5, (4, 3, 2))
    y[0, 0, 0] = y[1, 2, 1] = 255
    txt = '''layer { name: "in" type: "Input" top: "x" top: "y" input_param {
              shape { dim: 4 dim: 5 dim: 3 dim: 2 } shape { dim: 4 dim: 3 dim: 2 } } }
             layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l"
                     loss_param { ignore_label: 255 NORM } }
             layer { name: "acc" type: "Accuracy" bottom: "x" bottom: "y" top: "a"
                     accuracy_param { ignore_label: 255 top_k: 2 } }'''
    tx = torch.tensor(x)
    total = torch.nn.functional.cross_entropy(tx, torch.tensor(y), ignore_index=255,
                                              reduction="sum").item()
    for norm, div in (("VALID", 22), ("FULL", 24), ("BATCH_SIZE", 4), ("NONE", 1)):
        net = Net(from_text(txt.replace("NORM", f"normalization: {norm}"), "NetParameter"),
                  "TRAIN")
        ex = ember.Tensor(x.copy(), requires_grad=True)
        b = net.forward(x=ex, y=y)
        assert float(b["l"].data) == pytest.approx(total / div, rel=1e-5)
    net.loss.backward()
    tx.requires_grad_(True)
    torch.nn.functional.cross_entropy(tx, torch.tensor(y), ignore_index=255,
                                      reduction="sum").backward()
    np.testing.assert_allclose(ex.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    # top-2 accuracy over the kept labels
    s = np.moveaxis(x, 1, -1).reshape(-1, 5)
    t = y.reshape(-1)
    keep = t != 255
    top2 = np.argsort(-s[keep], 1)[:, :2]
    want = np.mean([t[keep][i] in top2[i] for i in range(keep.sum())])
    assert float(b["a"].data) == pytest.approx(want)


def test_eltwise_concat_softmax_and_in_place():
    txt = '''layer { name: "in" type: "Input" top: "a" top: "b" input_param {
               shape { dim: 2 dim: 3 } } }
             layer { name: "s" type: "Eltwise" bottom: "a" bottom: "b" top: "s"
                     eltwise_param { operation: SUM coeff: 2 coeff: -1 } }
             layer { name: "m" type: "Eltwise" bottom: "a" bottom: "b" top: "m"
                     eltwise_param { operation: MAX } }
             layer { name: "p" type: "Eltwise" bottom: "a" bottom: "b" top: "p"
                     eltwise_param { operation: PROD } }
             layer { name: "c" type: "Concat" bottom: "s" bottom: "m" top: "c" }
             layer { name: "t" type: "TanH" bottom: "c" top: "c" }
             layer { name: "sm" type: "Softmax" bottom: "c" top: "sm" }'''
    net = Net(from_text(txt, "NetParameter"), "TEST")
    a = np.array([[1., -2, 3], [0, 1, -1]], np.float32)
    b = np.array([[0.5, 4, -3], [2, 1, 1]], np.float32)
    out = net.forward(a=a, b=b)
    np.testing.assert_allclose(out["s"].data, 2 * a - b)
    np.testing.assert_allclose(out["m"].data, np.maximum(a, b))
    np.testing.assert_allclose(out["p"].data, a * b)
    c = np.tanh(np.concatenate([2 * a - b, np.maximum(a, b)], 1))
    np.testing.assert_allclose(out["c"].data, c, rtol=1e-6)        # in place: top = bottom
    e = np.exp(c - c.max(1, keepdims=True))
    np.testing.assert_allclose(out["sm"].data, e / e.sum(1, keepdims=True), rtol=1e-5)
    assert net.outputs == ["p", "sm"]


def test_fillers_follow_caffe():
    rng = np.random.default_rng(6)
    f = lambda **kw: Msg("FillerParameter", **kw)  # noqa: E731
    w = fill((200, 30, 3, 3), f(type="xavier"), rng)          # fan_in = 30*3*3 = 270
    bound = np.sqrt(3 / 270)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    w = fill((200, 30, 3, 3), f(type="xavier", variance_norm="FAN_OUT"), rng)
    assert np.abs(w).max() <= np.sqrt(3 / 1800)
    w = fill((500, 400), f(type="msra"), rng)
    assert w.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    w = fill((100, 1000), f(type="gaussian", std=0.5, sparse=20), rng)
    assert (w != 0).mean() == pytest.approx(20 / 100, abs=0.01)
    assert fill((3,), f(type="constant", value=0.2), rng).tolist() == pytest.approx([0.2] * 3)
    u = fill((10000,), f(type="uniform", min=-2, max=1), rng)
    assert u.min() >= -2 and u.max() <= 1 and u.mean() == pytest.approx(-0.5, abs=0.05)


def test_caffe_default_weight_filler_is_zero():
    """Caffe's FillerParameter defaults to type constant, value 0: no weight_filler, zeros."""
    txt = '''layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 4 } } }
             layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y"
                     inner_product_param { num_output: 3 } }'''
    net = Net(from_text(txt, "NetParameter"), "TEST")
    assert not net.layer("ip").weight.data.any()


def test_transform_mean_file_crop_mirror(tmp_path):
    from ember.caffe.blob import write_binaryproto
    from ember.caffe.transform import DataTransformer
    rng = np.random.default_rng(7)
    imgs = [rng.integers(0, 255, (2, 6, 5)).astype(np.uint8) for _ in range(3)]
    mean = rng.uniform(0, 100, (2, 6, 5)).astype(np.float32)
    write_binaryproto(tmp_path / "mean.binaryproto", mean[None])
    tp = Msg("TransformationParameter", scale=0.5, crop_size=3,
             mean_file=str(tmp_path / "mean.binaryproto"))
    out = DataTransformer(tp, "TEST", (2, 6, 5))(imgs, rng)
    y, x = (6 - 3) // 2, (5 - 3) // 2                    # TEST crops the centre
    want = np.stack([(i[:, y:y + 3, x:x + 3] - mean[:, y:y + 3, x:x + 3]) * 0.5 for i in imgs])
    np.testing.assert_allclose(out, want, rtol=1e-6)
    # TRAIN: random windows and mirrors, always a window of the (mean-subtracted) image
    tp = Msg("TransformationParameter", crop_size=3, mirror=True, mean_value=[10, 20])
    out = DataTransformer(tp, "TRAIN", (2, 6, 5))(imgs * 20, rng)
    mv = np.array([10, 20], np.float32)[:, None, None]
    for o, img in zip(out, imgs * 20):
        v = img.astype(np.float32) - mv
        cands = [c for yy in range(4) for xx in range(3)
                 for c in (v[:, yy:yy + 3, xx:xx + 3], v[:, yy:yy + 3, xx:xx + 3][:, :, ::-1])]
        assert any(np.array_equal(o, c) for c in cands)
    flips = [not any(np.array_equal(o, v[:, yy:yy + 3, xx:xx + 3]) for yy in range(4)
                     for xx in range(3))
             for o, v in zip(out, [i.astype(np.float32) - mv for i in imgs * 20])]
    assert 0 < sum(flips) < len(flips)
    with pytest.raises(Exception, match="mean_file or mean_value, not both"):
        DataTransformer(Msg("TransformationParameter", mean_value=[1.0],
                            mean_file=str(tmp_path / "mean.binaryproto")), "TEST", (2, 6, 5))
