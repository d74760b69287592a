"""Write the small TOML subset ``ember train`` configs use (tables, arrays of tables, strings,
numbers, bools, flat lists), so each search trial leaves its exact config behind."""
import math


def _value(v, where):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    raise ValueError(f"{where}: cannot write {v!r} ({type(v).__name__}) to TOML")


def _key(k):
    return k if k.replace("_", "").replace("-", "").isalnum() else _value(k, k)


def dumps(cfg: dict) -> str:
    """TOML text for ``cfg``: top-level scalars, then each table; a list of dicts becomes an
    array of tables (``[[model.layers]]``)."""
    out = []
    scalars = {k: v for k, v in cfg.items() if not isinstance(v, dict)}
    for k, v in scalars.items():
        out.append(f"{_key(k)} = {_value(v, k)}")
    for name, table in cfg.items():
        if isinstance(table, dict):
            _table(out, name, table)
    return "\n".join(out) + "\n"


def _table(out, prefix, table):
    plain = {k: v for k, v in table.items()
             if not isinstance(v, dict) and not _is_table_list(v)}
    out.append(f"\n[{prefix}]")
    for k, v in plain.items():
        out.append(f"{_key(k)} = {_value(v, prefix + '.' + k)}")
    for k, v in table.items():
        if isinstance(v, dict):
            _table(out, f"{prefix}.{_key(k)}", v)
        elif _is_table_list(v):
            for item in v:
                out.append(f"\n[[{prefix}.{_key(k)}]]")
                for ik, iv in item.items():
                    out.append(f"{_key(ik)} = {_value(iv, prefix + '.' + k)}")


def _is_table_list(v):
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)
