"""Run every benchmark (ember vs PyTorch CPU, each interleaved in one process, medians) and write
bench/RESULTS.md from their output.

    .venv/bin/python bench/run_all.py            # all
    .venv/bin/python bench/run_all.py core conv  # some

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from every benchmark's environment (they slow
NumPy on some machines), for all contenders alike. Run it on an otherwise idle machine.
"""
import datetime
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

BENCHES = {
    "core": ("Eager overhead and the MLP step", "bench_core.py", [],
             "Issue 2 goals: per-op overhead at or below PyTorch's; the MLP step (forward + "
             "backward) within 1.2x of its matrix multiplies alone in NumPy."),
    "conv": ("Convolution and pooling, forward + backward", "bench_conv.py", ["--repeats", "30"],
             "Issue 3 goal: within 1.5x of PyTorch."),
    "optim": ("Optimizer step on the MLP's 407,050 parameters", "bench_optim.py", [],
              "Issue 4 goal: at or below PyTorch's default implementation."),
    "train": ("Training: MLP epoch, CNN throughput, data-loading share", "bench_train.py", ["3"],
              "Issue 5 goals: MLP epoch at or below PyTorch's; data loading at most 5% of an "
              "epoch. Random inputs of Fashion-MNIST's shapes, so no data files are needed."),
    "doctor": ("Training doctor overhead", "bench_doctor.py", ["--repeats", "7"],
               "Issue 6 goals: unmeasurable when off; under 10% of an MLP epoch at the default "
               "sampling (every 10 steps)."),
    "rnn": ("Recurrent layers: LSTM layer and char-LM training", "bench_rnn.py",
            ["--repeats", "7", "--lm-steps", "10"],
            "Issue 14 goals: LSTM layer forward + backward at most 1.5x PyTorch's time; char-LM "
            "training steps/s recorded side by side."),
    "distributed": ("Data-parallel training on MPI: scaling and overlap", "bench_distributed.py",
                    ["--steps", "30"],
                    "Issue 16: images/s with 1 and 2 processes (1 BLAS thread each) and the "
                    "fraction of the gradient all-reduce hidden behind backward."),
}


def run(script, args):
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["PYTHONPATH"] = os.path.dirname(HERE)
    out = subprocess.run([sys.executable, os.path.join(HERE, script), *args], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        return f"FAILED (exit {out.returncode}):\n\n```\n{out.stderr[-2000:]}\n```\n"
    return out.stdout


def main(names):
    names = names or list(BENCHES)
    parts = [
        "# Benchmark results\n\n",
        f"Written by `bench/run_all.py` on {datetime.date.today().isoformat()}: each benchmark "
        "runs ember and PyTorch CPU in one process, interleaved, and reports medians. "
        "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE were unset for every contender. Figures move by "
        "10-30% between runs on a shared machine; rerun before drawing fine conclusions.\n",
    ]
    for name in names:
        title, script, args, goal = BENCHES[name]
        print(f"running {script} ...", flush=True)
        text = run(script, args).strip()
        if "|---" not in text:  # plain-text output: keep its alignment
            text = f"```\n{text}\n```"
        cmd = f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/{script}"
        parts.append(f"\n## {title}\n\n{goal}\n\n    {cmd} {' '.join(args)}\n\n{text}\n")
    notes = os.path.join(HERE, "NOTES.md")  # hand-written reading of the figures, kept as is
    if os.path.exists(notes):
        parts.append("\n" + open(notes).read())
    path = os.path.join(HERE, "RESULTS.md")
    with open(path + ".tmp", "w") as f:
        f.write("".join(parts))
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
