"""``ember search SEARCH.toml``: the command line of the hyperparameter search."""
import os
import sys

SEARCH_HELP = """Search hyperparameters of an `ember train` config with Optuna (pip install
'ember[tune]'). SEARCH.toml names the config, the keys to vary and the stages:

  [search]  config = "mlp.toml"; metric = val_accuracy | val_loss; sampler = random | grid |
            tpe; seed; train_limit (examples per trial); validation_size; storage (Optuna URL;
            default sqlite in the output folder); workers; out (default searches/<name>);
            prune_ratio (stop a trial whose loss exceeds this x its first loss; default 3,
            0 = off); heartbeat / grace_period (seconds before a dead worker's trial is retried)
  [space]   "solver.base_lr" = {loguniform = [1e-4, 1.0]}, {uniform = [a, b]},
            {intrange = [a, b]}, {choice = [...]}; keys: solver.<k>, data.<k>,
            model.layers.<i>.<k>
  [[stage]] name, trials, epochs, refine_top_k + shrink (narrow around the best trials of
            the stage before: coarse to fine), sampler

Several machines: run the same command on each with the same --storage URL (PostgreSQL or
MySQL); they share one study. Ctrl-C loses no finished trial; running the command again
continues the study. The validation split is held out of the training set; the test split is
never used for choosing.
"""


def add_search_parser(sub):
    import argparse
    p = sub.add_parser("search", help="hyperparameter search over an ember train config",
                       description=SEARCH_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("search", help="path to the SEARCH.toml")
    p.add_argument("--workers", type=int, help="worker processes on this machine "
                   "(overrides [search] workers)")
    p.add_argument("--storage", help="Optuna storage URL shared by all workers, e.g. "
                   "sqlite:///study.db or postgresql://user@host/db")
    p.add_argument("--rerun", type=int, metavar="TRIAL_ID",
                   help="train one finished trial again from its seed and parameters")
    p.add_argument("--quiet", action="store_true", help="only the final table")
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    return p


def main_from_args(args) -> int:
    from ..cli.config import ConfigError
    try:
        from .search_config import load_search
        sc = load_search(args.search)
    except ImportError as e:  # Optuna missing
        print(f"ember search: {e}", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"ember search: {e}", file=sys.stderr)
        return 2
    if args.workers is not None:
        if args.workers < 1:
            print(f"ember search: --workers must be >= 1, got {args.workers}", file=sys.stderr)
            return 2
        sc.workers = args.workers
    try:
        from . import results, search
    except ImportError as e:  # Optuna missing: say what to install, no traceback
        print(f"ember search: {e}", file=sys.stderr)
        return 2
    url = search.storage_url(sc, args.storage)
    try:
        if args.rerun is not None:
            recorded, logs = search.rerun(sc, url, args.rerun)
            print(f"trial {args.rerun}: recorded {sc.metric} = {recorded}, rerun "
                  f"{sc.metric} = {logs.get(sc.metric)}")
            return 0
        if args.worker_index or sc.workers == 1:
            _quiet_optuna(args.quiet or bool(args.worker_index))
            study = search.work(sc, url, args.worker_index)
        else:
            study = _run_workers(args, sc, url)
    except (ConfigError, ValueError, OSError, RuntimeError) as e:
        print(f"ember search: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ember search: interrupted; finished trials are kept in the study; run the "
              "same command again to continue", file=sys.stderr)
        return 130
    if args.worker_index:
        return 0
    os.makedirs(sc.out, exist_ok=True)
    print(results.table(study, sc.metric))
    csv_path = results.write_csv(study, os.path.join(sc.out, "trials.csv"), sc.metric)
    files = results.plot(study, sc.out, sc.space, sc.metric)
    best = [t for t in results.sorted_trials(study) if t.value is not None][:1]
    if best:
        print(f"best: trial {best[0].number} ({best[0].user_attrs.get('stage')}), "
              f"{sc.metric} = {best[0].value:.4f}, params {best[0].params}")
    print(f"results: {csv_path}" + (f", {', '.join(files)}" if files else ""))
    return 0


def _quiet_optuna(quiet):
    from ._optuna import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING if quiet else optuna.logging.INFO)


def _run_workers(args, sc, url):
    """Start ``sc.workers`` worker processes of this command on the shared storage and wait."""
    import subprocess
    from .search import open_study
    open_study(sc, url)  # create the study (and its tables) once, before the workers race
    env = dict(os.environ)
    # two cores, N workers: one BLAS thread each unless the user set a count
    threads = str(max(1, (os.cpu_count() or 1) // sc.workers))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    cmd = [sys.executable, "-m", "ember", "search", args.search, "--storage", url,
           "--workers", str(sc.workers)]
    procs = [subprocess.Popen(cmd + ["--worker-index", str(i + 1)], env=env)
             for i in range(sc.workers)]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    if any(codes):
        print(f"ember search: worker exit codes {codes}; the study keeps every finished trial",
              file=sys.stderr)
    return open_study(sc, url)
