"""Data-parallel scaling on MPI: images/s with 1 and 2 processes, and how much of the gradient
all-reduce DistributedDataParallel hides behind backward.

    python bench/bench_distributed.py [--model cnn|mlp] [--batch 64] [--steps 20]

The driver starts ``mpirun -n 1`` and ``mpirun -n 2`` of this file (through
``ember.distributed.launch``: one OpenBLAS thread per process, ``--bind-to none``) and prints
a table. Per process the batch is ``--batch`` (weak scaling: 2 processes train on twice the
images per step). The model is the seed CNN of examples/cnn_fashion_mnist.toml (or the
textbook MLP 784-512-10) on random 28x28 images.

Overlap (2 processes), median backward time per step, ranks started together by a barrier:
  T_b  backward alone (no communication),
  T_s  backward, then one all-reduce of all gradients (sync after backward),
  T_o  backward with DDP (bucketed non-blocking all-reduce started from the gradient hooks,
       waited at the end of backward; bucket_cap_mb=--bucket-mb).
Hidden fraction = (T_s - T_o) / (T_s - T_b): 1 when the communication costs nothing extra,
0 when overlapping gains nothing over all-reducing after backward.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(kind):
    import ember.nn as nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 64),
                         nn.ReLU(), nn.Linear(64, 10))


def worker(args):
    import ember
    import ember.distributed as dist
    import ember.nn.functional as F
    from ember.distributed.collectives import allreduce_array
    from ember.nn.parallel import DistributedDataParallel
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    x = ember.tensor(rng.random((args.batch, 1, 28, 28), dtype=np.float32))
    y = ember.tensor(rng.integers(0, 10, args.batch))
    ember.manual_seed(0)
    net = build(args.model)
    opt = ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step(model, mode):
        """One step; returns the backward time of ``mode`` (b: alone, s: sync after, o: DDP)."""
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        dist.barrier()
        t0 = time.perf_counter()
        if mode == "o":
            loss.backward()
        else:
            with model.no_sync():  # the hooks stay registered but do nothing
                loss.backward()
            if mode == "s":
                sync_after()
        t = time.perf_counter() - t0
        opt.step()
        return t

    def sync_after():
        flat = np.concatenate([p.grad.data.reshape(-1) for p in net.parameters()])
        flat = allreduce_array(flat) / world
        o = 0
        for p in net.parameters():
            p.grad.data[...] = flat[o:o + p.data.size].reshape(p.data.shape)
            o += p.data.size

    res = {"world": world, "model": args.model, "batch": args.batch}
    ddp = DistributedDataParallel(net)  # default buckets, for the throughput
    for _ in range(3):
        loss = F.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = F.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    dist.barrier()
    res["images_per_s"] = world * args.batch * args.steps / (time.perf_counter() - t0)
    ddp.remove_hooks()
    if world > 1:  # the three modes interleaved step by step, so machine load hits them alike
        small = DistributedDataParallel(net, bucket_cap_mb=args.bucket_mb)
        res["buckets"] = len(small._buckets)
        times = {"b": [], "s": [], "o": []}
        for i in range(3 * (args.steps + 2)):
            mode = "bso"[i % 3]
            t = step(small, mode)
            if i >= 6:
                times[mode].append(t)
        for mode, ts in times.items():
            res["T_" + mode] = float(np.median(ts))
        small.remove_hooks()
    if rank == 0:
        print("RESULT " + json.dumps(res), flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--bucket-mb", type=float, default=0.1)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    from ember.distributed.launch import launch_env, mpirun_command
    env = launch_env(dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [sys.path[0], env.get("PYTHONPATH")]))
    results = {}
    for n in (1, 2):
        argv = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.model,
                "--batch", str(args.batch), "--steps", str(args.steps),
                "--bucket-mb", str(args.bucket_mb)]
        p = subprocess.run(mpirun_command(n, argv), env=env, capture_output=True, text=True)
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
        if p.returncode or not line:
            sys.exit(f"mpirun -n {n} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        results[n] = json.loads(line[0][7:])
    one, two = results[1], results[2]
    print(f"{args.model}, batch {args.batch} per process, {args.steps} steps, "
          f"1 OpenBLAS thread per process, {os.cpu_count()} cores")
    print("\n| processes | images/s | speed-up |\n|---|---:|---:|")
    print(f"| 1 | {one['images_per_s']:.0f} | 1.00x |")
    print(f"| 2 | {two['images_per_s']:.0f} | {two['images_per_s'] / one['images_per_s']:.2f}x |")
    tb, ts, to = two["T_b"], two["T_s"], two["T_o"]
    hidden = (ts - to) / (ts - tb) if ts > tb else float("nan")
    print(f"\n| 2 processes, backward per step | ms |\n|---|---:|")
    print(f"| backward alone (T_b) | {tb * 1e3:.2f} |")
    print(f"| backward + all-reduce after it (T_s) | {ts * 1e3:.2f} |")
    print(f"| backward with DDP overlap, {two['buckets']} buckets (T_o) | {to * 1e3:.2f} |")
    print(f"\nhidden fraction of the all-reduce: (T_s - T_o) / (T_s - T_b) = {hidden:.2f}")


if __name__ == "__main__":
    main()
