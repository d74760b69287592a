"""Real time series from the vega-datasets collection (Debian's ``python3-vega-datasets`` ships
the CSV files; no pandas needed): e.g. ``seattle-temps.csv``, hourly temperatures (F) of 2010.

    dates, temps = load_vega_series("seattle-temps.csv", "temp")

Searched in ``root``, ``$EMBER_DATA``, ``~/.ember/data`` (each also under ``vega/``), then the
Debian package's directory.
"""
import csv

import numpy as np

from .errors import DataFormatError, DatasetNotFoundError
from .paths import candidate_dirs

SYSTEM_DIRS = ("/usr/lib/python3/dist-packages/vega_datasets/_data",
               "/usr/share/vega-datasets")


def find_vega_file(name, root=None):
    dirs = candidate_dirs(root, ("vega", "vega_datasets"), SYSTEM_DIRS)
    for d in dirs:
        if (d / name).is_file():
            return d / name
    looked = "\n    ".join(str(d) for d in dirs)
    raise DatasetNotFoundError(f"vega dataset {name} not found. Looked in:\n    {looked}\n"
                               "To get it: sudo apt install python3-vega-datasets (or run "
                               "scripts/setup.sh as root), or copy the CSV into one of these "
                               "directories")


def load_vega_series(name="seattle-temps.csv", column="temp", root=None):
    """(dates as strings, values as float64) of one numeric column of a vega CSV file."""
    path = find_vega_file(name, root)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or column not in rows[0]:
        raise DataFormatError(f"{path}: no column {column!r} (columns: "
                              f"{list(rows[0]) if rows else []})")
    date_key = "date" if "date" in rows[0] else next(iter(rows[0]))
    try:
        values = np.array([float(r[column]) for r in rows])
    except ValueError as e:
        raise DataFormatError(f"{path}: column {column!r} is not numeric: {e}") from None
    return np.array([r[date_key] for r in rows]), values
