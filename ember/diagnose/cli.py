"""``ember doctor CONFIG.toml``: run the training doctor's checks for an ``ember train`` config
without a full training run — initial loss and activations at initialization, "overfit a tiny
subset", a short watched training run with the config's solver, and a learning-rate range test.
Nothing is written except an optional HTML report; the config's run folder is not created.

Also runnable as ``python -m ember.diagnose CONFIG.toml``.
"""
import argparse
import sys

import numpy as np

HELP = """Check an `ember train` config before training: initial loss vs ln(C), activation
statistics at initialization (vanishing / saturated / dead units), whether the model can overfit
20 examples, a short training run with the config's optimizer and learning rate (loss exploding
or barely changing, update/weight ratios, dead units), and a learning-rate range test.
Exit status: 0 when no errors were found, 1 otherwise, 2 for a bad config."""


def run_doctor(config_path, samples=2000, steps=60, lr_steps=100, overfit=True, lr_find=True,
               html=None, verbose=True, data=None, tensorboard=None):
    """Run the checks for the config at ``config_path``; returns the findings (most severe
    first) and prints the text report when ``verbose``.

    samples: training examples used (a random subset, for speed). steps: training steps of the
    short watched run. lr_steps: steps of the LR range test (0 to skip). data: optional
    ``(x, y)`` arrays to use instead of the config's dataset (prepared as ``ember train`` does).
    """
    from .. import manual_seed
    from ..cli.config import load_config
    from ..cli.train import build_model, load_data, make_optimizer, param_groups
    from ..nn import functional as F
    from ..tensor import Tensor
    from .doctor import Doctor
    cfg = load_config(config_path)
    from ..cli.config import ConfigError
    from ..cli.sequence_config import is_sequence, kind
    if is_sequence(cfg["data"]["dataset"]) and kind(cfg["data"]["dataset"]) != "classification":
        # its checks assume a softmax classifier (chance loss ln(C), cross-entropy steps)
        raise ConfigError(f"{config_path}: ember doctor checks classifiers; dataset "
                          f"{cfg['data']['dataset']!r} is a {kind(cfg['data']['dataset'])} "
                          "task (use ember.diagnose.Doctor in a script with its own loss)")
    solver = cfg["solver"]
    manual_seed(solver["seed"])
    if data is None:
        xtr, ytr, _, _ = load_data(cfg)
    else:
        xtr, ytr = data
    rng = np.random.default_rng(solver["seed"])
    idx = rng.permutation(len(xtr))[:samples]
    x, y = np.ascontiguousarray(xtr[idx]), np.asarray(ytr[idx]).astype(np.int64)
    net, mults = build_model(cfg)
    opt = make_optimizer(param_groups(net, mults, solver), solver)
    doctor = Doctor(net, opt, loss_fn=F.cross_entropy, verbose=False)
    say = print if verbose else (lambda *a, **k: None)
    say(f"ember doctor: {config_path}: {sum(p.data.size for p in net.parameters())} parameters, "
        f"{solver['optimizer']} lr {solver['base_lr']:g}, {len(x)} samples")
    say("  checking the initialization ...")
    doctor.check_init(x[:500], y[:500])
    if overfit:
        say("  overfitting 20 examples ...")
        doctor.overfit_tiny(x, y)
    if lr_steps:
        say(f"  learning-rate range test ({lr_steps} steps) ...")
        doctor.lr_find(x, y, num_steps=lr_steps, batch_size=solver["batch_size"])
    if steps:
        say(f"  training {steps} steps with the config's solver ...")
        from .stats import restore, snapshot
        snap = snapshot(net)
        opt_state = opt.state_dict()
        bs = solver["batch_size"]
        doctor.every = max(1, min(doctor.every, steps // 6))
        try:
            with doctor.watch():
                for t in range(steps):
                    j = rng.integers(0, len(x), bs)
                    loss = F.cross_entropy(net(Tensor(x[j])), Tensor(y[j]))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    doctor.step(loss)
                    if doctor.should_stop:
                        break
        finally:
            restore(net, snap)
            opt.load_state_dict(opt_state)
    findings = doctor.report(print_report=verbose, html=html)
    if tensorboard:
        doctor.write_tensorboard(tensorboard, findings)
        if verbose:
            print(f"TensorBoard run: {tensorboard}")
    if html and verbose:
        print(f"HTML report: {html}")
    return findings


def add_doctor_parser(subparsers):
    """Register ``doctor`` on an argparse subparsers object (``ember/cli/__init__.py``)."""
    p = subparsers.add_parser("doctor", help="check a config's model and solver without "
                              "training", description=HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="path to the TOML config (as for `ember train`)")
    p.add_argument("--samples", type=int, default=2000, help="training examples to use")
    p.add_argument("--steps", type=int, default=60, help="steps of the short training run")
    p.add_argument("--lr-steps", type=int, default=100, help="LR range test steps (0: skip)")
    p.add_argument("--no-overfit", action="store_true", help="skip the overfit-20 check")
    p.add_argument("--html", help="also write an HTML report with plots (needs matplotlib)")
    p.add_argument("--tensorboard", metavar="LOG_DIR", help="also write the activation "
                   "histograms and findings as a TensorBoard run")
    return p


def main_from_args(args):
    """Run ``ember doctor`` from parsed arguments; returns the exit status."""
    from ..cli.config import ConfigError
    try:
        findings = run_doctor(args.config, samples=args.samples, steps=args.steps,
                              lr_steps=args.lr_steps, overfit=not args.no_overfit,
                              html=args.html, tensorboard=getattr(args, "tensorboard", None))
    except ConfigError as e:
        print(f"ember doctor: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"ember doctor: {e}", file=sys.stderr)
        return 1
    return 1 if any(f.severity == "error" for f in findings) else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ember")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_doctor_parser(sub)
    args = parser.parse_args(["doctor"] + list(sys.argv[1:] if argv is None else argv))
    return main_from_args(args)
