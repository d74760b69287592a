"""Graph passes, run in this order on the program of each kind of ``run`` call:

dead-code elimination (``extract``/``prune``) -> constant folding -> common-subexpression
elimination -> prune -> elementwise fusion -> memory plan.

Each can be switched off by name (``Session(passes=...)``, ``compile(..., passes=...)``) so a
test can show what it changes.
"""
from .cse import eliminate_common
from .dce import Program, extract, prune
from .fold import fold_constants
from .fusion import fuse_elementwise
from .memory import plan_memory, release_schedule

ALL = ("fold", "cse", "fusion", "memory")


def optimize(prog: Program, passes=ALL) -> Program:
    """Run the enabled passes on ``prog`` in place; counts go to ``prog.stats``."""
    passes = set(passes)
    unknown = passes - set(ALL)
    if unknown:
        raise ValueError(f"unknown graph pass(es) {sorted(unknown)}; known: {list(ALL)}")
    if "fold" in passes:
        prog.stats["folded"] = fold_constants(prog)
    if "cse" in passes:
        prog.stats["cse_removed"] = eliminate_common(prog)
    prog.stats["pruned"] = prune(prog)
    if "fusion" in passes:
        prog.stats["fused"] = fuse_elementwise(prog)
    if "memory" in passes:
        prog.stats["pooled"] = plan_memory(prog)
    return prog


__all__ = ["ALL", "Program", "extract", "prune", "optimize", "fold_constants",
           "eliminate_common", "fuse_elementwise", "plan_memory", "release_schedule"]
