"""The ``ember`` command line."""
import argparse
import sys

from .config import ConfigError

DESCRIPTION = """ember: a deep-learning framework on NumPy.

commands:
  ember train CONFIG.toml    train the model a Caffe-style TOML config describes
                             (model layers + solver), evaluate on the test split and
                             write a run folder (config copy, metrics.csv, snapshots,
                             report). See examples/*.toml.
  ember train SOLVER.prototxt  run a Caffe solver and net as Caffe would (--snapshot
                             X.solverstate resumes); see examples/caffe/.
  ember caffe TOOL           Caffe data tools: convert-mnist, compute-image-mean.
  ember doctor CONFIG.toml   check a config's model and solver without a full training
                             run: initial loss, activation statistics, overfitting a tiny
                             subset, learning-rate range test; findings in plain words.
  ember search SEARCH.toml   hyperparameter search over an ember train config (Optuna):
                             random/grid/TPE, coarse-to-fine stages, early stopping of
                             diverging trials, parallel workers, a results table and plots.
"""

TRAIN_HELP = """Train from a TOML config with three sections:

[data]    dataset = mnist | fashion_mnist | cifar10 | cifar100, root (folder with the files;
          default: $EMBER_DATA, ~/.ember/data, system locations), layout = flat | image,
          validation_split (fraction held out of the training set).
          Sequence tasks (Debian/vega data; their layers need [model] api = "keras"):
          langid_words (languages, train_per_language, test_per_language, min_len, max_len,
          seed, root), kjv_chars (seq_len, train_windows, val_fraction, val_chars, seed),
          vega_forecast (file, column, history, horizon, test_from, stride, units, root).
[model]   api = nn (ember.nn layers, the default) | keras (ember.keras layers: Embedding,
          SimpleRNN/LSTM/GRU with return_sequences, Bidirectional and TimeDistributed with
          layer = {type = ..., ...}, Dense, Conv1D, ...; weights sized from the first batch;
          "data.vocab_size", "data.num_classes", "data.horizon", ... give the data's sizes).
[[model.layers]]   one table per layer, in order: type = an ember.nn layer name (Linear,
          Conv2d, ReLU, MaxPool2d, Flatten, Dropout, BatchNorm2d, ...), its constructor
          arguments by name, and optional lr_mult / decay_mult (Caffe's per-layer multipliers
          of base_lr and weight_decay; a list gives one per parameter, e.g. weight and bias
          lr_mult = [1, 2] as Caffe's LeNet).
[solver]  optimizer = sgd | rmsprop | adam | adamw | adagrad | adadelta | nadam; base_lr;
          lr_policy = fixed | step | multistep | exp | inv | cosine (per iteration, as Caffe:
          step: base_lr * gamma^floor(t/stepsize); exp: base_lr * gamma^t;
          inv: base_lr * (1 + gamma t)^-power; multistep: gamma^(#stepvalues passed);
          cosine: base_lr * (1 + cos(pi t / T)) / 2); gamma, stepsize, stepvalues, power,
          momentum, nesterov, weight_decay, batch_size, max_epochs, test_interval (epochs),
          snapshot (every N epochs), snapshot_prefix (inside the run folder; sub-folders
          are created), resume (a snapshot file), seed,
          device = cpu, run_dir (default runs/), tensorboard (default true: TensorBoard logs in
          the run folder), doctor (default false: watch training with the training doctor and
          write its findings and activation histograms to TensorBoard), jit (default false:
          compile the train step with ember.jit), distributed (default: true when
          started by mpirun -n N > 1: data-parallel on N processes, batch_size per process,
          rank 0 writes the run folder; see README "Many machines (MPI)"), loss =
          cross_entropy (images) | sparse_categorical_crossentropy (with from_logits) | mse |
          mae | huber, metrics (accuracy | perplexity | mae | mse, as fit the task; the report
          gives the held-out figure next to the task's baselines).

Every key and value is checked before training starts; a mistake is reported with its line
and the allowed values.

A Caffe solver (SOLVER.prototxt, Caffe's protobuf text format) runs as `caffe train` would:
--snapshot X.solverstate resumes, --weights X.caffemodel starts from trained weights.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ember", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("train", help="train from a TOML config", description=TRAIN_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="path to the TOML config (or a Caffe SOLVER.prototxt)")
    p.add_argument("--snapshot", help="Caffe solver only: resume from this .solverstate")
    p.add_argument("--weights", help="Caffe solver only: start from this .caffemodel")
    p.add_argument("--epochs", type=int, help="override solver.max_epochs")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    from ..diagnose.cli import add_doctor_parser, main_from_args
    add_doctor_parser(sub)
    from ..caffe.cli import add_caffe_parser
    add_caffe_parser(sub)
    from ..tune.cli import add_search_parser
    add_search_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "train" and args.config.endswith(".prototxt"):
        from ..caffe.cli import train as caffe_train
        if args.epochs is not None:
            print("ember train: --epochs is for TOML configs; a Caffe solver runs max_iter "
                  "iterations", file=sys.stderr)
            return 2
        return caffe_train(args.config, args.snapshot, args.weights, args.quiet)
    if args.command == "caffe":
        from ..caffe.cli import main_from_args as caffe_main
        return caffe_main(args)
    if args.command == "train":
        if args.snapshot or args.weights:
            print("ember train: --snapshot and --weights are for Caffe solver .prototxt files",
                  file=sys.stderr)
            return 2
        from .train import run
        if args.epochs is not None and args.epochs < 1:
            print(f"ember train: --epochs must be >= 1, got {args.epochs}", file=sys.stderr)
            return 2
        overrides = {"solver.max_epochs": args.epochs} if args.epochs else None
        try:
            report = run(args.config, verbose=0 if args.quiet else 1, overrides=overrides)
        except ConfigError as e:
            print(f"ember train: {e}", file=sys.stderr)
            return 2
        except (OSError, ValueError, RuntimeError) as e:  # data missing, bad checkpoint, ...
            print(f"ember train: {e}", file=sys.stderr)
            return 1
        except MemoryError:
            print("ember train: out of memory building or training the model; use smaller "
                  "layers or a smaller batch_size", file=sys.stderr)
            return 1
        if args.quiet and (report.get("processes", 1) == 1 or report.get("run_dir")):
            print(report["final"])
        return 0
    if args.command == "doctor":
        return main_from_args(args)
    if args.command == "search":
        from ..tune.cli import main_from_args as search_main
        return search_main(args)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
