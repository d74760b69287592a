"""ember.distributed in one process: no mpirun needed. The autograd hooks DDP relies on, the
SyncBatchNorm rule (gradcheck, PyTorch), the world of one process, the launcher command, the
messages when MPI is missing, and the fit / config switches."""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.distributed as dist
import ember.nn as nn
from ember.autograd import engine, gradcheck
from ember.ops.nn_sync_bn import SyncBatchNormTrain

from ..conftest import torch_or_skip
from . import _models

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def world():
    pytest.importorskip("mpi4py", reason="mpi4py not installed (pip install "
                                         "'ember[distributed]')")
    g = dist.init_process_group("mpi")
    yield g
    dist.destroy_process_group()


# ---- the autograd extension points ------------------------------------------------------
def test_post_accumulate_hook_sees_the_accumulated_grad_then_callback_runs():
    w = nn.Parameter(np.ones(3, np.float32))
    seen = []

    def hook(t):
        seen.append(t.grad.data.copy())
        engine.queue_callback(lambda: seen.append("end"))

    h = w.register_post_accumulate_grad_hook(hook)
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert [s if isinstance(s, str) else s.tolist() for s in seen] == \
        [[2.0] * 3, "end", [5.0] * 3, "end"]
    h.remove()
    (w * 3).sum().backward()
    assert len(seen) == 4
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(hook)


# ---- SyncBatchNorm's rule ----------------------------------------------------------------
def test_sync_batchnorm_rule_gradcheck():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)
    g = ember.tensor(rng.standard_normal(3) + 1.5, requires_grad=True)
    b = ember.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, g, b: SyncBatchNormTrain.apply(x, g, b, eps=1e-5)[0], [x, g, b])


def test_sync_batchnorm_rule_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4, 4)).astype(np.float32) * 3 + 2
    gam, bet = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    up = rng.standard_normal(x.shape).astype(np.float32)
    ex, eg, eb = (ember.tensor(a, requires_grad=True) for a in (x, gam, bet))
    y, mean, var, count = SyncBatchNormTrain.apply(ex, eg, eb, eps=1e-5)
    y.backward(ember.tensor(up))
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gam, bet))
    ty = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    for e, t in ((ex, tx), (eg, tg), (eb, tb)):
        np.testing.assert_allclose(e.grad.data, t.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean.data, x.mean((0, 2, 3)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.data, x.var((0, 2, 3)), rtol=1e-5)
    assert float(count.data) == 6 * 16


def test_convert_sync_batchnorm_keeps_state_and_matches_batchnorm():
    net = _models.cnn()
    net[1].running_mean.data[:] = 0.5
    weight = net[1].weight
    ref = _models.cnn()
    ref[1].running_mean.data[:] = 0.5
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(conv[1], nn.SyncBatchNorm) and conv[1].weight is weight
    assert conv[1].running_mean.data[0] == 0.5 and conv[1].training
    x = ember.tensor(np.random.default_rng(2).standard_normal((8, 1, 8, 8)).astype(np.float32))
    np.testing.assert_allclose(conv(x).data, ref(x).data, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conv[1].running_var.data, ref[1].running_var.data, rtol=1e-6)
    with pytest.raises(ValueError, match="channels"):
        conv[1](ember.zeros(2, 5, 3, 3))


# ---- the sampler and the loader ------------------------------------------------------------
def test_dataloader_takes_a_sampler():
    ds = ember.data.TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
    s = ember.data.DistributedSampler(ds, num_replicas=3, rank=1, shuffle=False)
    dl = ember.data.DataLoader(ds, batch_size=2, sampler=s)
    assert len(dl) == 2
    assert [b[1].data.tolist() for b in dl] == [[1, 4], [7, 0]]  # padded with index 0
    with pytest.raises(ValueError, match="mutually exclusive"):
        ember.data.DataLoader(ds, sampler=s, shuffle=True)


# ---- the world of one process ------------------------------------------------------------
def test_import_ember_does_not_load_mpi4py():
    code = ("import sys, ember, ember.distributed, ember.nn.parallel, ember.data; "
            "import ember.train.distributed; print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_missing_mpi4py_says_what_to_install(monkeypatch):
    from ember.distributed import _mpi
    monkeypatch.setattr(_mpi, "_MPI", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    with pytest.raises(dist.DistributedError, match=r"pip install 'ember\[distributed\]'") as e:
        dist.init_process_group("mpi")
    assert "Open MPI" in str(e.value)
    assert not dist.is_initialized()
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        dist.get_rank()


def test_world_of_one(world):
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    t = ember.tensor([1.0, 2.0])
    dist.all_reduce(t)
    w = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert w.wait() and w.is_completed()
    dist.broadcast(t, src=0)
    parts = [ember.zeros(2)]
    dist.all_gather(parts, t)
    dist.barrier()
    assert t.data.tolist() == [1.0, 2.0] and parts[0].data.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="one per rank"):
        dist.all_gather([ember.zeros(2)] * 2, t)
    with pytest.raises(ValueError, match="src=1"):
        dist.broadcast(t, src=1)
    with pytest.raises(dist.DistributedError, match="already initialized"):
        dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="backend 'nccl'"):
        dist.init_process_group("nccl")


def test_ddp_of_one_process_trains_as_the_module(world):
    ref = _models.state(_models.train(_models.mlp(), "mlp"))
    net = _models.mlp()
    ddp = nn.parallel.DistributedDataParallel(net)
    assert ddp.module is net
    assert set(ddp.state_dict()) == {f"module.{k}" for k in net.state_dict()}
    _models.train(ddp, "mlp")
    for k, v in _models.state(net).items():
        np.testing.assert_array_equal(v, ref[k])


def test_fit_distributed_in_one_process_equals_fit(world):
    (x, y), _ = _models.fit_data()
    a, b = _models.fit_model(), _models.fit_model()
    ember.manual_seed(3)
    ha = a.fit(x, y, batch_size=64, epochs=2, verbose=0)
    ember.manual_seed(3)
    hb = b.fit(x, y, batch_size=64, epochs=2, verbose=0, distributed=True)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-6)
    for k, v in _models.state(a).items():
        np.testing.assert_allclose(_models.state(b)[k], v, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="jit=True cannot be combined"):
        b.fit(x, y, epochs=1, verbose=0, distributed=True, jit=True)


# ---- launcher and config ------------------------------------------------------------------
def test_launcher_command(monkeypatch):
    from ember.distributed import launch
    monkeypatch.setattr(launch.shutil, "which", lambda name: "/usr/bin/mpirun")
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)
    monkeypatch.setattr(launch.os, "cpu_count", lambda: 2)
    cmd = launch.mpirun_command(4, ["python", "train.py"])
    assert cmd[:3] == ["/usr/bin/mpirun", "-n", "4"]
    assert "--allow-run-as-root" in cmd and "--oversubscribe" in cmd
    assert cmd[cmd.index("--bind-to") + 1] == "none"
    assert cmd[-2:] == ["python", "train.py"]
    assert "HWLOC_COMPONENTS" in cmd
    cmd = launch.mpirun_command(2, ["x"], hostfile="hosts")
    assert "--oversubscribe" not in cmd and cmd[cmd.index("--hostfile") + 1] == "hosts"
    env = launch.launch_env({})
    assert env["HWLOC_COMPONENTS"] == "-gl" and env["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setattr(launch.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="Open MPI"):
        launch.mpirun_command(2, ["x"])


def test_config_distributed_must_be_a_bool(tmp_path):
    from ember.cli.config import ConfigError, load_config
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[model.layers]]\ntype = "Linear"\nin_features = 784\nout_features = 10\n'
                   '[solver]\ndistributed = "yes"\n')
    with pytest.raises(ConfigError, match=r"c.toml:6: \[solver\] distributed"):
        load_config(cfg)
    cfg.write_text(cfg.read_text().replace('"yes"', "true"))
    assert load_config(cfg)["solver"]["distributed"] is True
