"""Lazy attributes for package ``__init__``s (PEP 562), so ``import ember`` loads only the core.

``__getattr__, __dir__ = lazy(__name__, globals(), {"data": ".data", "Model": ".train:Model"})``:
a name maps to a (relative) module, which is the value, or to ``module:attribute``. The first
access imports the module and caches the value in the package's globals, so later accesses
cost a dict lookup, as after an eager import.
"""

__all__ = ["lazy"]


def lazy(package: str, namespace: dict, names: dict, fallback=None):
    """Return ``(__getattr__, __dir__)`` for module ``package`` whose globals are ``namespace``.

    ``fallback(name)`` (optional) is tried for names not in ``names`` before AttributeError."""

    def __getattr__(name):
        target = names.get(name)
        if target is None:
            if fallback is not None:
                return fallback(name)
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        modname, _, attr = target.partition(":")
        # __import__ rather than importlib.import_module: the same import, but through the
        # C path that `python -X importtime` reports (import_module's loads are invisible)
        level = len(modname) - len(modname.lstrip("."))
        mod = __import__(modname[level:], namespace, None, ("__name__",), level)
        value = getattr(mod, attr) if attr else mod
        namespace[name] = value  # after the import, which may have bound the submodule name
        return value

    def __dir__():
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
