"""``ember train CONFIG.toml``: build the model and solver a config describes, train with
progress, evaluate on the test split, and leave a run folder behind:

    runs/<config name>-<time>/
        config.toml        a copy of the config
        metrics.csv        one row per epoch (loss, accuracy, val_*, test_*, lr)
        tensorboard/       TensorBoard logs (curves, histograms, hparams; the doctor's
                           activation histograms and findings with doctor = true);
                           tensorboard = false in [solver] turns them off
        snapshot_e<N>.safetensors   every ``snapshot`` epochs, and the final weights
        report.json / report.txt    final test loss and accuracy, timings

Under ``mpirun -n N`` (or with ``distributed = true`` in [solver]) every process runs this
same function data-parallel (``Model.fit(distributed=True)``): ``batch_size`` is per process,
the test evaluation is shared by all ranks, and only rank 0 prints, creates the run folder
and writes snapshots, logs and reports.
"""
import json
import math
import os
import shutil
import time

import numpy as np

from .config import load_config


def build_model(cfg):
    """nn.Sequential from the [[model.layers]] list, and per-layer lr/decay multipliers.
    Keras-named layers (``[model] api = "keras"``) take the data's sizes (``"data.NAME"``,
    filled in by :func:`load_data`) and are built on a zero batch of the task's input shape,
    so the optimizer sees their weights."""
    from .. import nn
    layers, mults = [], []
    keras = cfg["model"].get("api") == "keras"
    if keras:
        from .sequence_config import input_example, make_layer
        sizes = cfg["data"].get("sizes", {})
    for spec in cfg["model"]["layers"]:
        layers.append(make_layer(spec, sizes) if keras else
                      getattr(nn, spec["type"])(**spec["kwargs"]))
        mults.append((spec["lr_mult"], spec["decay_mult"]))
    net = nn.Sequential(*layers)
    if keras and input_example(cfg["data"]) is not None:
        _check_fits_data(net, input_example(cfg["data"]), cfg)
    return net, mults


def param_groups(model, mults, solver):
    """Caffe's multipliers as optimizer parameter groups: one group per layer for a single
    number, one per parameter for a list (Caffe's weight and bias ``param`` blocks, e.g.
    lr_mult = [1, 2])."""
    groups = []
    for layer, (lr_mult, decay_mult) in zip(model, mults):
        params = list(layer.parameters())
        if isinstance(lr_mult, list) or isinstance(decay_mult, list):
            lrs = lr_mult if isinstance(lr_mult, list) else [lr_mult] * len(params)
            decays = decay_mult if isinstance(decay_mult, list) else [decay_mult] * len(params)
            for p, lm, dm in zip(params, lrs, decays):
                if p.requires_grad:
                    groups.append({"params": [p], "lr": solver["base_lr"] * lm,
                                   "weight_decay": solver["weight_decay"] * dm})
            continue
        params = [p for p in params if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": solver["base_lr"] * lr_mult,
                           "weight_decay": solver["weight_decay"] * decay_mult})
    if not groups:
        raise ValueError("the model has no trainable parameters")
    return groups


def make_optimizer(groups, solver):
    from .. import optim
    name = solver["optimizer"]
    lr = solver["base_lr"]
    if name == "sgd":
        return optim.SGD(groups, lr=lr, momentum=solver["momentum"],
                         nesterov=bool(solver["nesterov"]))
    if name == "rmsprop":
        return optim.RMSprop(groups, lr=lr, momentum=solver["momentum"])
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad,
           "adadelta": optim.Adadelta, "nadam": optim.NAdam}[name]
    return cls(groups, lr=lr)


def lr_factor(solver, total_iters):
    """Caffe's learning-rate policies as a multiplier of base_lr at iteration t."""
    p, g = solver["lr_policy"], solver["gamma"]
    if p == "fixed":
        return lambda t: 1.0
    if p == "step":
        return lambda t: g ** (t // solver["stepsize"])
    if p == "multistep":
        steps = sorted(solver["stepvalues"])
        return lambda t: g ** sum(t >= s for s in steps)
    if p == "exp":
        return lambda t: g ** t
    if p == "inv":
        return lambda t: (1 + g * t) ** (-solver["power"])
    if p == "cosine":
        return lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_iters) / total_iters))
    raise ValueError(p)


def load_task(cfg):
    """The sequence task ``[data]`` names (``ember.data.sequence_tasks.SequenceTask``); its
    sizes (vocabulary, classes, ...) are recorded in ``cfg["data"]["sizes"]`` for the layers'
    ``"data.NAME"`` references."""
    from .sequence_config import load_task as _load
    task = _load(cfg["data"])
    cfg["data"]["sizes"] = dict(task.sizes)
    return task


def load_data(cfg):
    """(x_train, y_train, x_test, y_test) arrays: images scaled to [0, 1] in the config's
    layout, or a sequence task's arrays as built (ids, windows)."""
    from .. import data as edata
    from .sequence_config import is_sequence
    d = cfg["data"]
    if is_sequence(d["dataset"]):
        t = load_task(cfg)
        return t.x_train, t.y_train, t.x_test, t.y_test
    loaders = {"mnist": edata.load_mnist, "fashion_mnist": edata.load_fashion_mnist,
               "cifar10": edata.load_cifar10, "cifar100": edata.load_cifar100}
    (xtr, ytr), (xte, yte) = loaders[d["dataset"]](root=d["root"])
    return _prepare(xtr, d), ytr.astype(np.int64), _prepare(xte, d), yte.astype(np.int64)


def _prepare(x, d):
    x = x.astype(np.float32) / 255.0
    if x.ndim == 3:  # (N, H, W) grey images
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # NHWC -> NCHW
    if d["layout"] == "flat":
        x = x.reshape(len(x), -1)
    return np.ascontiguousarray(x)


def _check_fits_data(net, x, cfg):
    """One sample through the model before anything is written, so a layer that does not fit
    the data is reported as a config problem, naming the layer."""
    from ..autograd import no_grad
    from ..tensor import Tensor
    from .config import ConfigError
    net.eval()
    h = Tensor(x[:2])
    try:
        with no_grad():
            for i, layer in enumerate(net):
                h = layer(h)
    except ValueError as e:
        spec = cfg["model"]["layers"][i]
        data = (f"data layout {cfg['data']['layout']!r}" if "layout" in cfg["data"] else
                f"dataset {cfg['data']['dataset']!r}")
        raise ConfigError(f"[[model.layers]] layer {i} ({spec['type']}) does not fit its input "
                          f"of shape {tuple(h.shape)} ({data}): {e}") from None
    finally:
        net.train()


def _new_run_dir(root, name):
    """runs/<name>-<time>, made atomically; a suffix keeps two runs in one second apart."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        path = os.path.join(root, f"{name}-{stamp}" + (f"-{k}" if k else ""))
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run folder under {root}")


def run(config_path, verbose=1, overrides=None):
    """Train as the config says; returns the report dict."""
    from .. import manual_seed
    from ..train import CSVLogger, LambdaCallback, Model
    from ..train.callbacks import Callback
    cfg = load_config(config_path)
    if overrides:
        for k, v in overrides.items():
            section, key = k.split(".", 1)
            cfg[section][key] = v
    solver = cfg["solver"]
    manual_seed(solver["seed"])
    from .sequence_config import is_sequence
    task = load_task(cfg) if is_sequence(cfg["data"]["dataset"]) else None
    if task is None:
        xtr, ytr, xte, yte = load_data(cfg)
    else:
        xtr, ytr, xte, yte = task.x_train, task.y_train, task.x_test, task.y_test
    net, mults = build_model(cfg)
    _check_fits_data(net, xtr, cfg)
    model = Model(net)
    opt = make_optimizer(param_groups(net, mults, solver), solver)
    loss, metrics = loss_and_metrics(solver)
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    names = list(solver["metrics"])

    from ..train.distributed import wanted
    distributed = wanted(solver["distributed"])
    world, main = 1, True
    if distributed:
        from .. import distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("mpi")
        world, main = dist.get_world_size(), dist.get_rank() == 0
        verbose = verbose if main else 0
    initial_epoch = 0
    if solver["resume"]:
        initial_epoch = model.load(solver["resume"])
        if verbose:
            print(f"resumed from {solver['resume']} at epoch {initial_epoch}")
    run_dir = None
    if main:  # rank 0 writes every file of the run
        run_dir = _new_run_dir(solver["run_dir"],
                               os.path.splitext(os.path.basename(config_path))[0])
        shutil.copyfile(config_path, os.path.join(run_dir, "config.toml"))
        # snapshot_prefix may name sub-folders of the run folder (checked to stay inside it):
        # made now, so a snapshot never fails after an epoch of training
        prefix_dir = os.path.dirname(os.path.join(run_dir, solver["snapshot_prefix"]))
        os.makedirs(prefix_dir, exist_ok=True)

    n_train = int(len(xtr) * (1 - cfg["data"]["validation_split"]))  # fit's cut
    steps_per_epoch = math.ceil(math.ceil(n_train / world) / solver["batch_size"])
    factor = lr_factor(solver, steps_per_epoch * solver["max_epochs"])
    # per-group base rates from the config: after a resume the optimizer's lr is already decayed
    base = [g["lr"] for g in param_groups(net, mults, solver)]
    counter = {"t": initial_epoch * steps_per_epoch}

    def set_lr(batch, logs):
        f = factor(counter["t"])
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * f
        counter["t"] += 1

    class TestEval(Callback):
        """Evaluate on the test split every ``test_interval`` epochs (Caffe's test phase)."""

        def on_epoch_end(self, epoch, logs=None):
            k = solver["test_interval"]
            if k and (epoch + 1) % k == 0 or epoch + 1 == solver["max_epochs"]:
                res = model.evaluate(xte, yte, batch_size=512, return_dict=True)
                logs["test_loss"] = res["loss"]
                logs.update({f"test_{m}": res[m] for m in names})
            logs["lr"] = opt.param_groups[0]["lr"]

    class Snapshot(Callback):
        rank_zero_only = True

        def on_epoch_end(self, epoch, logs=None):
            k = solver["snapshot"]
            if k and (epoch + 1) % k == 0:
                model.save(os.path.join(run_dir, f"{solver['snapshot_prefix']}_e{epoch + 1}"
                                                 ".safetensors"))

    callbacks = [LambdaCallback(on_train_batch_begin=set_lr), TestEval()]
    if main:
        callbacks += [Snapshot(), CSVLogger(os.path.join(run_dir, "metrics.csv"))]
    tb_dir = os.path.join(run_dir or ".", "tensorboard")
    if solver["tensorboard"] and main:
        from ..train.tensorboard import TensorBoard
        hparams = {k: solver[k] for k in ("optimizer", "base_lr", "lr_policy", "momentum",
                                          "weight_decay", "batch_size", "seed")}
        callbacks.append(TensorBoard(tb_dir, histogram_freq=1, hparams=hparams))
    if solver["doctor"] and main:
        from ..diagnose.doctor import DoctorCallback
        callbacks.append(DoctorCallback(report=bool(verbose), verbose=bool(verbose),
                                        tensorboard=os.path.join(tb_dir, "doctor")
                                        if solver["tensorboard"] else None))
    t0 = time.perf_counter()
    hist = model.fit(xtr, ytr, batch_size=solver["batch_size"], epochs=solver["max_epochs"],
                     validation_split=cfg["data"]["validation_split"], callbacks=callbacks,
                     initial_epoch=initial_epoch, verbose=verbose, jit=solver["jit"],
                     distributed=distributed)
    train_time = time.perf_counter() - t0
    if main:
        model.save(os.path.join(run_dir, "final.safetensors"))
    test = model.evaluate(xte, yte, batch_size=512, return_dict=True)  # all ranks share it
    report = {"config": os.path.abspath(config_path),
              "run_dir": os.path.abspath(run_dir) if main else None, "processes": world,
              "dataset": cfg["data"]["dataset"], "epochs": solver["max_epochs"],
              "train_seconds": round(train_time, 2), "test_loss": test["loss"]}
    report.update({f"test_{m}": test[m] for m in names})
    report["history"] = {k: [float(x) for x in v] for k, v in hist.history.items()}
    text = (f"dataset {report['dataset']}, {solver['max_epochs']} epochs in {train_time:.1f} s\n"
            f"test loss {test['loss']:.4f}, "
            + ", ".join(f"test {m} {test[m]:.4f}" for m in names) + "\n")
    if task is None:
        report["final"] = f"final test accuracy: {test['accuracy']:.4f}"
    else:
        report["held_out"] = held_out(task, solver, test)
        report["final"] = report["held_out"]["text"]
        text += report["final"] + "\n"
    if not main:  # only rank 0 writes the run folder
        return report
    with open(os.path.join(run_dir, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(run_dir, "report.txt"), "w") as f:
        f.write(text)
    if verbose:
        print(f"run folder: {run_dir}")
        print(report["final"])
    return report


def loss_and_metrics(solver):
    """The compiled loss and metric objects the [solver] names: Keras's sparse cross-entropy
    as a loss object (``from_logits``), perplexity reading logits or probabilities alike."""
    from ..train import losses, metrics
    name = solver["loss"]
    logits = name == "cross_entropy" or solver["from_logits"]
    loss = losses.SparseCategoricalCrossentropy(from_logits=solver["from_logits"]) \
        if name == "sparse_categorical_crossentropy" else name
    objs = [metrics.Perplexity(from_logits=logits) if m == "perplexity" else metrics.get(m)
            for m in solver["metrics"]]
    return loss, objs


def held_out(task, solver, test):
    """The task's held-out figure next to its baselines (errors of a regression in the data's
    units: standardised values times the training std)."""
    from .sequence_config import HEADLINE
    metric = HEADLINE[task.kind]
    if metric not in test:  # the config chose other metrics: the first one it has
        metric = solver["metrics"][0]
    value = test[metric] * (task.target_scale if metric == "mae" else 1.0)
    units = f" {task.units}" if metric == "mae" and task.units else ""
    base = task.baselines if metric == HEADLINE[task.kind] else {}
    text = f"held-out {metric}: {value:.4f}{units}"
    if base:
        text += " (" + ", ".join(f"{k}: {v:.4f}{units}" for k, v in base.items()) + ")"
    return {"metric": metric, "value": float(value), "units": units.strip(),
            "baselines": {k: float(v) for k, v in base.items()}, "text": text}
