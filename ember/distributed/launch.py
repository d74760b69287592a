"""Start an ember script on N processes with Open MPI's ``mpirun``, with the settings this kind
of machine needs (``python -m ember.distributed.launch -n 2 train.py`` or
``python -m ember.distributed.launch -n 2 -- ember train cfg.toml``):

* ``--allow-run-as-root`` when running as root (containers, CI), which mpirun refuses otherwise;
* ``HWLOC_COMPONENTS=-gl``: hwloc's OpenGL probe can hang MPI startup when something listens
  on the X ports 6000-6009;
* ``--oversubscribe`` when more processes than cores are asked for, ``--bind-to none`` (the
  processes share the cores with the rest of the machine);
* ``OPENBLAS_NUM_THREADS=1`` (and OMP) per process unless set: N processes x several BLAS
  threads on few cores is much slower than one thread each.

The same flags work on a plain ``mpirun`` command line; see README "Many machines (MPI)".
"""
import argparse
import os
import shutil
import subprocess
import sys


def mpirun_command(nprocs: int, argv, hostfile=None, extra=()) -> list:
    """The ``mpirun`` argument list that starts ``argv`` on ``nprocs`` processes."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        from ._mpi import _INSTALL
        raise FileNotFoundError(f"mpirun is not on the PATH; {_INSTALL}")
    cmd = [mpirun, "-n", str(int(nprocs))]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    if hostfile is None:
        if nprocs > (os.cpu_count() or 1):
            cmd.append("--oversubscribe")
    else:
        cmd += ["--hostfile", str(hostfile)]
    cmd += ["--bind-to", "none"]
    for var in ("HWLOC_COMPONENTS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "PYTHONPATH",
                "EMBER_DIST_TIMEOUT"):
        if var in launch_env():  # exported to remote hosts too
            cmd += ["-x", var]
    return cmd + list(extra) + list(argv)


def launch_env(env=None) -> dict:
    """The environment for the processes: ``env`` (default: this one) plus the defaults."""
    env = dict(os.environ if env is None else env)
    env.setdefault("HWLOC_COMPONENTS", "-gl")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m ember.distributed.launch",
                                description="run a script on N MPI processes (mpirun)")
    p.add_argument("-n", "--nprocs", type=int, required=True, help="number of processes")
    p.add_argument("--hostfile", help="Open MPI hostfile (one 'host slots=K' line per machine)")
    p.add_argument("program", nargs=argparse.REMAINDER,
                   help="a Python script and its arguments, or -- and any command")
    args = p.parse_args(argv)
    prog = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not prog:
        p.error("give a script (train.py ...) or -- and a command")
    if args.nprocs < 1:
        p.error(f"-n must be >= 1, got {args.nprocs}")
    if prog[0].endswith(".py"):
        prog = [sys.executable] + prog
    try:
        cmd = mpirun_command(args.nprocs, prog, args.hostfile)
    except FileNotFoundError as e:
        print(f"ember.distributed.launch: {e}", file=sys.stderr)
        return 2
    return subprocess.call(cmd, env=launch_env())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
