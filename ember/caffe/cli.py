"""``ember train SOLVER.prototxt [--snapshot X.solverstate] [--weights X.caffemodel]`` and
``ember caffe convert-mnist | compute-image-mean``."""
import sys

from .errors import CaffeError

CAFFE_HELP = """Caffe tools:
  ember caffe convert-mnist IMAGES LABELS LMDB_DIR   IDX files -> LMDB of Datum (as Caffe's
                                                     convert_mnist_data)
  ember caffe compute-image-mean LMDB_DIR OUT.binaryproto
"""


def train(solver_path: str, snapshot=None, weights=None, quiet: bool = False) -> int:
    """Run a Caffe solver as ``caffe train --solver`` would; 0 on success."""
    from .log import CaffeLog
    from .solver import Solver
    if snapshot and weights:
        print("ember train: give --snapshot or --weights, not both (as caffe train)",
              file=sys.stderr)
        return 2
    log = CaffeLog(quiet=quiet)
    try:
        solver = Solver(solver_path, log=log, weights=weights)
        results = solver.solve(resume=snapshot)
    except CaffeError as e:
        print(f"ember train: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ember train: {e}", file=sys.stderr)
        return 1
    if quiet and results:
        print(", ".join(f"{k} = {v:g}" for k, v in results.items()))
    return 0


def add_caffe_parser(sub) -> None:
    import argparse
    p = sub.add_parser("caffe", help="Caffe data tools (convert-mnist, compute-image-mean)",
                       description=CAFFE_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    tools = p.add_subparsers(dest="tool", metavar="TOOL")
    c = tools.add_parser("convert-mnist", help="IDX images and labels -> LMDB of Datum")
    c.add_argument("images")
    c.add_argument("labels")
    c.add_argument("db")
    m = tools.add_parser("compute-image-mean", help="mean image of an LMDB -> binaryproto")
    m.add_argument("db")
    m.add_argument("out")


def main_from_args(args) -> int:
    from .convert import compute_image_mean, convert_mnist
    try:
        if args.tool == "convert-mnist":
            n = convert_mnist(args.images, args.labels, args.db)
            print(f"wrote {n} records to {args.db}")
            return 0
        if args.tool == "compute-image-mean":
            mean = compute_image_mean(args.db, args.out)
            print(f"wrote the mean of shape {mean.shape} to {args.out}")
            return 0
    except (CaffeError, OSError, ValueError) as e:
        print(f"ember caffe: {e}", file=sys.stderr)
        return 2
    print(CAFFE_HELP, file=sys.stderr)
    return 2
