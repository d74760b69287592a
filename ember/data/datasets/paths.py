"""Where datasets are looked for: ``root``, ``$EMBER_DATA``, ``~/.ember/data``, system dirs."""
import os
from pathlib import Path


def user_roots(root=None):
    """Candidate base directories in search order (duplicates removed)."""
    roots = []
    if root is not None:
        roots.append(Path(root).expanduser())
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


def candidate_dirs(root, subdirs, system_dirs=()):
    """Every directory a dataset may live in: each base, then base/<subdir>, then system dirs."""
    dirs = []
    for base in user_roots(root):
        dirs.append(base)
        dirs.extend(base / s for s in subdirs)
    dirs.extend(Path(d) for d in system_dirs)
    return dirs


def find_file(directory, name):
    """``directory/name`` or ``directory/name.gz`` if it exists, else None."""
    for candidate in (Path(directory) / name, Path(directory) / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None
