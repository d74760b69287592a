"""ember.device, Tensor.to/cpu/cuda, device= on creation functions, ember.cuda, the errors."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.testing import fake_device


def test_device_objects_follow_pytorch():
    d = ember.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert repr(d) == "device(type='cuda', index=1)"
    assert repr(ember.device("cpu")) == "device(type='cpu')"
    assert ember.device("cuda", 0) == ember.device("cuda:0") == "cuda:0"
    assert ember.device("cuda") != ember.device("cuda:0")  # as PyTorch
    assert ember.device(ember.device("fake:0")) == "fake:0"
    assert len({ember.device("cpu"), ember.device("cpu")}) == 1
    with pytest.raises(RuntimeError, match="unknown device type 'tpu'"):
        ember.device("tpu")
    with pytest.raises(RuntimeError, match="invalid device string"):
        ember.device("cuda:x")


def test_cpu_tensor_to():
    x = ember.tensor([1.0, 2.0])
    assert x.device == ember.device("cpu") and x.device.type == "cpu"
    assert x.to("cpu") is x and x.cpu() is x  # was: "data type 'cpu' not understood"
    assert x.to(ember.float64).dtype == np.float64
    assert x.to("cpu", ember.float16).dtype == np.float16
    assert x.to(device="cpu", dtype="float64").dtype == np.float64
    assert x.to(ember.zeros(1, dtype=ember.float64)).dtype == np.float64
    y = x.to("cpu", copy=True)
    assert y is not x and np.array_equal(y.numpy(), x.numpy())
    with pytest.raises(TypeError, match="neither a device"):
        x.to("banana")


def test_cuda_without_gpu_says_how_to_install_cupy():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    assert ember.cuda.device_count() == 0
    for make in (lambda: ember.tensor([1.0]).to("cuda"), lambda: ember.tensor([1.0]).cuda(),
                 lambda: ember.zeros(2, device="cuda:0"), lambda: nn.Linear(2, 2).cuda()):
        with pytest.raises(RuntimeError, match="pip install cupy"):
            make()


def test_tensors_on_the_fake_device_refuse_the_host():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], device="fake")
    assert x.device == ember.device("fake:0") and isinstance(x.data, fake_device.FakeArray)
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()
    with pytest.raises(TypeError):
        np.asarray(x)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x.data)
    with pytest.raises(fake_device.DeviceMixError):
        x.data + np.ones(2)
    with pytest.raises(fake_device.DeviceMixError):
        np.concatenate([x.data, np.ones((1, 2))])
    np.testing.assert_array_equal(x.cpu().numpy(), [[1, 2], [3, 4]])
    assert x.cpu().device.type == "cpu"


def test_mixing_devices_names_both():
    a = ember.ones(3, device="fake")
    b = ember.ones(3)
    with pytest.raises(RuntimeError, match="same device.*fake:0 and cpu"):
        a + b
    with pytest.raises(RuntimeError, match="cpu and fake:0"):
        b * a
    with pytest.raises(RuntimeError, match="matmul"):
        ember.ones(3, 3) @ ember.ones(3, device="fake")


def test_creation_functions_take_device():
    ember.manual_seed(3)
    ref = ember.randn(2, 3)
    ember.manual_seed(3)
    made = [ember.randn(2, 3, device="fake"), ember.zeros(2, device="fake"),
            ember.ones(2, 2, device="fake"), ember.empty(3, device="fake"),
            ember.full((2,), 7.0, device="fake"), ember.arange(4, device="fake"),
            ember.linspace(0, 1, 3, device="fake"), ember.eye(2, device="fake"),
            ember.rand(2, device="fake"), ember.randint(0, 5, (3,), device="fake"),
            ember.randperm(4, device="fake"), ember.tensor([1, 2], device="fake"),
            ember.as_tensor(np.ones(2), device="fake")]
    assert all(t.device.type == "fake" for t in made)
    # random draws are made on the host: one seed, the same values on every device
    np.testing.assert_array_equal(made[0].cpu().numpy(), ref.numpy())
    x = made[1]
    for t in (ember.zeros_like(x), ember.ones_like(x), ember.full_like(x, 2),
              ember.randn_like(x), ember.rand_like(x), ember.empty_like(x)):
        assert t.device == x.device
    assert ember.zeros_like(x, device="cpu").device.type == "cpu"
    assert ember.tensor(x).device == x.device  # a tensor's device is kept


def test_to_device_is_differentiable():
    w = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    wd = w.to("fake")
    assert wd.grad_fn is not None and wd.device.type == "fake"
    (wd * wd).sum().backward()
    assert w.grad.device.type == "cpu"
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0, 6.0])


def test_module_to_moves_parameters_buffers_and_grads_in_place():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    w = m[0].weight
    m(ember.randn(5, 3)).sum().backward()
    assert m.to("fake") is m
    assert m[0].weight is w  # same Parameter objects
    for t in list(m.parameters()) + list(m.buffers()):
        assert t.device.type == "fake"
    assert w.grad.device.type == "fake"
    assert m[1].num_batches_tracked.dtype == np.int64
    m.half()
    assert w.dtype == np.float16 and m[1].running_mean.dtype == np.float16
    assert m[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    m.float().cpu()
    assert w.dtype == np.float32 and w.device.type == "cpu"
    m.double()
    assert m[1].running_var.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        m.to(ember.int64)


def test_optimizer_state_follows_load_state_dict_to_the_device():
    # the rule: build the optimizer after moving the model (as PyTorch), or load its state
    # afterwards: load_state_dict puts each state array on its parameter's device and dtype
    m = nn.Linear(3, 2)
    opt = ember.optim.Adam(m.parameters(), lr=0.1)
    m(ember.randn(4, 3)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    m.to("fake")
    opt2 = ember.optim.Adam(m.parameters(), lr=0.1)
    opt2.load_state_dict(sd)
    for st in opt2.state.values():
        assert all(type(st[k]) is fake_device.FakeArray for k in ("exp_avg", "exp_avg_sq"))
    m(ember.randn(4, 3, device="fake")).sum().backward()
    opt2.step()  # runs on the device


def test_float16_and_bfloat16_tensors():
    x = ember.tensor([1.0, 2.0]).half()
    assert x.dtype == np.float16 and ember.half == np.float16
    assert (x * 2).dtype == np.float16
    pytest.importorskip("ml_dtypes")
    b = ember.tensor([1.0, 2.5], dtype=ember.bfloat16, requires_grad=True)
    assert b.dtype == ember.bfloat16 and b.is_floating_point()
    (b.float() * 3).sum().backward()
    assert b.grad.dtype == ember.bfloat16
    np.testing.assert_array_equal(b.grad.float().numpy(), [3.0, 3.0])
    assert ember.tensor([1.0]).bfloat16().dtype == ember.bfloat16
    assert ember.randn(2, dtype="bfloat16").dtype == ember.bfloat16


def test_a_host_numpy_call_in_a_rule_fails_here():
    """What the fake device is for: rules that would break on a GPU break in CI."""
    from ember.ops.function import Function
    from ember.testing.device_check import compare_fn, run_fn

    class HostAlloc(Function):  # allocates with np.* instead of the inputs' array module
        @staticmethod
        def forward(ctx, a):
            return a * np.ones(a.shape, a.dtype)

        @staticmethod
        def backward(ctx, g):
            return g

    class HostScalar(Function):  # turns a reduction into a host array
        @staticmethod
        def forward(ctx, a):
            return np.asarray(a.sum())

        @staticmethod
        def backward(ctx, g):
            return g

    compare_fn(lambda m, a: HostAlloc.apply(a), [np.ones(3)], "cpu")  # fine on the host
    with pytest.raises(fake_device.DeviceMixError, match="host numpy.ndarray"):
        compare_fn(lambda m, a: HostAlloc.apply(a), [np.ones(3)], "fake")
    with pytest.raises(TypeError, match="Implicit conversion"):
        run_fn(lambda m, a: HostScalar.apply(a), [np.ones(3)], "fake")
