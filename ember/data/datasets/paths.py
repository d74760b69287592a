"""Where datasets are looked for: ``root``, ``$EMBER_DATA``, ``~/.ember/data``, system dirs.

An explicit ``root=`` is the only place searched: a mistyped root must fail naming it,
never quietly find another copy of the data elsewhere.
"""
import os
from pathlib import Path

from .errors import DatasetNotFoundError


def user_roots(root=None):
    """Candidate base directories in search order (duplicates removed)."""
    if root is not None:
        return [Path(root).expanduser()]
    roots = []
    env = os.environ.get("EMBER_DATA")
    if env:
        roots.append(Path(env).expanduser())
    roots.append(Path.home() / ".ember" / "data")
    seen, out = set(), []
    for r in roots:
        if r not in seen:
            seen.add(r)
            out.append(r)
    return out


def download_root(root=None):
    """Where download=True stores files: ``root``, else ``$EMBER_DATA``, else ``~/.ember/data``."""
    return user_roots(root)[0]


def check_root(root, name, download=False):
    """Fail at once, naming the path, when ``root=`` (or ``$EMBER_DATA``) is not a directory.

    With ``download=True`` a missing directory is fine: it is where the files will go."""
    if download:
        return
    if root is not None:
        what, base = f"root={os.fspath(root)!r}", Path(root).expanduser()
    elif os.environ.get("EMBER_DATA"):
        what, base = f"$EMBER_DATA={os.environ['EMBER_DATA']!r}", Path(os.environ["EMBER_DATA"]).expanduser()
    else:
        return
    if not base.is_dir():
        state = "is not a directory" if base.exists() else "does not exist"
        raise DatasetNotFoundError(f"{name}: {what}: {base} {state} (a typo?). Nothing else was "
                                   f"searched; pass download=True to fetch the files there")


def candidate_dirs(root, subdirs, system_dirs=()):
    """Every directory a dataset may live in: each base, then base/<subdir>, then system dirs
    (those only when no ``root`` was given)."""
    dirs = []
    for base in user_roots(root):
        dirs.append(base)
        dirs.extend(base / s for s in subdirs)
    if root is None:
        dirs.extend(Path(d) for d in system_dirs)
    return dirs


def find_file(directory, name):
    """``directory/name`` or ``directory/name.gz`` if it exists, else None."""
    for candidate in (Path(directory) / name, Path(directory) / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None
