"""Checks run under mpirun by tests/distributed/test_mpi.py: ``python _worker.py TASK OUT``.
Each rank writes what it computed to OUT/TASK-rank<r>.npz; the test compares."""
import os
import signal
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ember  # noqa: E402
import ember.distributed as dist  # noqa: E402
from ember.nn.parallel import DistributedDataParallel  # noqa: E402

import _models  # noqa: E402


def collectives(rank, world):
    out = {}
    t = ember.tensor(np.array([1.0, 2.0, 3.0], np.float32) * (rank + 1))
    dist.all_reduce(t)
    out["sum"] = t.data.copy()
    t = ember.tensor(np.array([rank, -rank], np.int64))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    out["max"] = t.data.copy()
    t = ember.tensor(np.full((2, 3), float(rank), np.float64))
    w = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    w.wait()
    out["avg"] = t.data.copy()
    t = ember.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2] + 10 * rank)
    dist.all_reduce(t)  # a non-contiguous view
    out["strided"] = t.data.copy()
    t = ember.tensor(np.full(4, rank + 5.0, np.float32))
    dist.broadcast(t, src=world - 1)
    out["bcast"] = t.data.copy()
    parts = [ember.zeros(3) for _ in range(world)]
    dist.all_gather(parts, ember.tensor(np.full(3, float(rank), np.float32)))
    out["gather"] = np.stack([p.data for p in parts])
    dist.barrier()
    return out


def equivalence(rank, world):
    out = {}
    for kind, build in (("mlp", _models.mlp), ("cnn", lambda: _models.cnn(sync=True))):
        net = build()
        model = DistributedDataParallel(net, bucket_cap_mb=0.001)  # several buckets
        _models.train(model, kind, rank, world)
        for k, v in _models.state(net).items():
            out[f"{kind}/{k}"] = v
    # no_sync: gradients stay local; the next synced backward averages the accumulated sum
    net = _models.mlp()
    model = DistributedDataParallel(net)
    x = ember.tensor(np.full((4, 20), rank + 1.0, np.float32))
    with model.no_sync():
        model(x).sum().backward()
    out["nosync_local"] = net[0].weight.grad.data.copy()
    model(x).sum().backward()
    out["nosync_synced"] = net[0].weight.grad.data.copy()
    return out


def fit(rank, world, outdir):
    """Model.fit under mpirun: batch 64 per rank, callbacks that write files, validation."""
    from ember.train import CSVLogger, ModelCheckpoint
    from ember.train.tensorboard import TensorBoard
    (x, y), (xv, yv) = _models.fit_data()
    model = _models.fit_model()
    ember.manual_seed(7)
    cbs = [CSVLogger(os.path.join(outdir, f"log-rank{rank}.csv")),
           ModelCheckpoint(os.path.join(outdir, f"ckpt-rank{rank}-{{epoch}}.safetensors"),
                           monitor="val_loss"),
           TensorBoard(os.path.join(outdir, f"tb-rank{rank}"))]
    hist = model.fit(x, y, batch_size=64, epochs=3, validation_data=(xv, yv), callbacks=cbs,
                     verbose=1)  # distributed: detected from mpirun's environment
    res = model.evaluate(xv, yv, batch_size=50, return_dict=True)
    out = {k: np.array(v) for k, v in hist.history.items()}
    out.update({f"eval_{k}": np.array(v) for k, v in res.items()})
    out.update({f"w/{k}": v for k, v in _models.state(model).items()})
    return out


def killed_fit(rank, world, outdir):
    """fit with a checkpoint per epoch; rank 1 is killed (SIGKILL) in epoch 3."""
    from ember.train import Callback, ModelCheckpoint
    (x, y), _ = _models.fit_data()
    model = _models.fit_model()

    class Die(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if rank == 1 and model._epoch == 2 and batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    ckpt = ModelCheckpoint(os.path.join(outdir, "last.safetensors"), monitor="loss")
    model.fit(x, y, batch_size=64, epochs=6, callbacks=[ckpt, Die()], verbose=0)
    return {}


def raises(rank, world, outdir):
    """An exception in fit on rank 1 only (rank 0 would wait for its gradients)."""
    from ember.train import Callback
    (x, y), _ = _models.fit_data()
    model = _models.fit_model()

    class Boom(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if rank == 1 and batch == 1:
                raise ValueError("boom on rank 1")

    model.fit(x, y, batch_size=64, epochs=2, callbacks=[Boom()], verbose=0)
    return {}


CONFIG = """
[data]
dataset = "fashion_mnist"
layout = "flat"

[[model.layers]]
type = "Linear"
in_features = 784
out_features = 10

[solver]
optimizer = "sgd"
base_lr = 0.1
batch_size = 256
max_epochs = 1
snapshot = 1
run_dir = "{run_dir}"
"""


def cli(rank, world, outdir):
    """``ember train`` under mpirun (distributed detected): rank 0 writes the run folder."""
    from ember.cli import main
    cfg = os.path.join(outdir, f"tiny-rank{rank}.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(run_dir=os.path.join(outdir, "runs")))
    code = main(["train", cfg, "--quiet"])
    return {"code": np.array(code)}


def stuck(rank, world):
    """Rank 1 never joins the all_reduce: rank 0 must give up after its 2 s timeout."""
    if rank == 1:
        time.sleep(60)
    dist.all_reduce(ember.tensor([1.0]))
    return {}


def main():
    tasks, outdir = sys.argv[1].split(","), sys.argv[2]
    dist.init_process_group("mpi", timeout=float(os.environ.get("WORKER_TIMEOUT", 60)))
    rank, world = dist.get_rank(), dist.get_world_size()
    for task in tasks:
        fn = {"collectives": collectives, "equivalence": equivalence, "stuck": stuck,
              "fit": fit, "killed_fit": killed_fit, "cli": cli, "raises": raises}[task]
        res = fn(rank, world, outdir) if task in ("fit", "killed_fit", "cli", "raises") else \
            fn(rank, world)
        np.savez(os.path.join(outdir, f"{task}-rank{rank}.npz"), **res)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
