"""Search-space dimensions: how each hyperparameter is drawn.

The lectures' advice: search learning rate and regularization strength on a log scale
(``loguniform``), since their effect is multiplicative; use ``uniform`` for quantities whose
effect is additive (dropout probability, momentum), ``intrange`` for counts and ``choice`` for
categories. A space is a plain ``dict`` of name -> dimension.
"""
import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Dimension:
    """Base of the four dimension kinds."""

    def suggest(self, trial, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def grid(self, points: int) -> list:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class LogUniform(Dimension):
    """A float drawn so that log(value) is uniform on [log lo, log hi]."""
    lo: float
    hi: float

    def __post_init__(self):
        _check_range("loguniform", self.lo, self.hi)
        if self.lo <= 0:
            raise ValueError(f"loguniform({self.lo}, {self.hi}): bounds must be > 0 (a log scale)")

    def suggest(self, trial, name):
        return trial.suggest_float(name, self.lo, self.hi, log=True)

    def grid(self, points):
        if points == 1:
            return [math.sqrt(self.lo * self.hi)]
        a, b = math.log(self.lo), math.log(self.hi)
        inner = [math.exp(a + (b - a) * i / (points - 1)) for i in range(1, points - 1)]
        return [self.lo] + inner + [self.hi]  # exact ends: exp(log(x)) may overshoot

    def to_dict(self):
        return {"loguniform": [self.lo, self.hi]}


@dataclass(frozen=True)
class Uniform(Dimension):
    """A float drawn uniformly on [lo, hi]."""
    lo: float
    hi: float

    def __post_init__(self):
        _check_range("uniform", self.lo, self.hi)

    def suggest(self, trial, name):
        return trial.suggest_float(name, self.lo, self.hi)

    def grid(self, points):
        if points == 1:
            return [(self.lo + self.hi) / 2]
        return [self.lo + (self.hi - self.lo) * i / (points - 1) for i in range(points)]

    def to_dict(self):
        return {"uniform": [self.lo, self.hi]}


@dataclass(frozen=True)
class IntRange(Dimension):
    """An int drawn uniformly from lo..hi (both included); ``log=True`` for sizes like 16..1024."""
    lo: int
    hi: int
    log: bool = False

    def __post_init__(self):
        for v in (self.lo, self.hi):
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"intrange({self.lo}, {self.hi}): bounds must be ints")
        _check_range("intrange", self.lo, self.hi)
        if self.log and self.lo <= 0:
            raise ValueError(f"intrange({self.lo}, {self.hi}, log=True): bounds must be > 0")

    def suggest(self, trial, name):
        return trial.suggest_int(name, self.lo, self.hi, log=self.log)

    def grid(self, points):
        n = self.hi - self.lo + 1
        if n <= points:
            return list(range(self.lo, self.hi + 1))
        if self.log:
            vals = LogUniform(self.lo, self.hi).grid(points)
        else:
            vals = Uniform(self.lo, self.hi).grid(points)
        return sorted({int(round(v)) for v in vals})

    def to_dict(self):
        return {"intrange": [self.lo, self.hi], **({"log": True} if self.log else {})}


@dataclass(frozen=True)
class Choice(Dimension):
    """One of a fixed list of values (numbers, strings or bools)."""
    options: tuple

    def __post_init__(self):
        if len(self.options) == 0:
            raise ValueError("choice([...]): needs at least one option")
        for o in self.options:
            if not isinstance(o, (int, float, str, bool)) and o is not None:
                raise ValueError(f"choice: options must be numbers, strings, bools or None; "
                                 f"got {o!r}")

    def suggest(self, trial, name):
        return trial.suggest_categorical(name, list(self.options))

    def grid(self, points):
        return list(self.options)

    def to_dict(self):
        return {"choice": list(self.options)}


def loguniform(lo: float, hi: float) -> LogUniform:
    """A float on a log scale between ``lo`` and ``hi`` (learning rates, weight decay)."""
    return LogUniform(float(lo), float(hi))


def uniform(lo: float, hi: float) -> Uniform:
    """A float uniformly between ``lo`` and ``hi``."""
    return Uniform(float(lo), float(hi))


def intrange(lo: int, hi: int, log: bool = False) -> IntRange:
    """An int between ``lo`` and ``hi``, both included."""
    return IntRange(lo, hi, log)


def choice(options: Sequence[Any]) -> Choice:
    """One of ``options``."""
    if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
        raise ValueError(f"choice: give a list of options, got {options!r}")
    return Choice(tuple(options))


def check_space(space: dict) -> dict:
    """The space itself, after checking that it maps names to dimensions."""
    if not isinstance(space, dict) or not space:
        raise ValueError("the search space must be a non-empty dict of name -> "
                         "ember.tune.loguniform/uniform/intrange/choice")
    for name, dim in space.items():
        if not isinstance(name, str):
            raise ValueError(f"search space: names must be strings, got {name!r}")
        if not isinstance(dim, Dimension):
            raise ValueError(f"search space: {name!r} is {dim!r}; use ember.tune.loguniform(lo, "
                             "hi), uniform(lo, hi), intrange(lo, hi) or choice([...])")
    return space


def from_dict(name: str, spec) -> Dimension:
    """A dimension from its TOML/JSON form: ``{loguniform = [lo, hi]}``, ``{uniform = [..]}``,
    ``{intrange = [lo, hi], log = false}`` or ``{choice = [...]}``."""
    kinds = {"loguniform", "uniform", "intrange", "choice"}
    if not isinstance(spec, dict):
        raise ValueError(f"{name}: expected a table such as {{loguniform = [1e-4, 1e-1]}}, "
                         f"got {spec!r}")
    given = set(spec) & kinds
    extra = set(spec) - kinds - {"log"}
    if len(given) != 1 or extra:
        raise ValueError(f"{name}: give exactly one of {', '.join(sorted(kinds))} "
                         f"(got keys {', '.join(sorted(spec)) or 'none'})")
    kind = given.pop()
    v = spec[kind]
    if kind == "choice":
        if not isinstance(v, list):
            raise ValueError(f"{name}: choice needs a list, got {v!r}")
        return choice(v)
    if not (isinstance(v, list) and len(v) == 2):
        raise ValueError(f"{name}: {kind} needs [lo, hi], got {v!r}")
    if kind == "intrange":
        return intrange(v[0], v[1], log=bool(spec.get("log", False)))
    if "log" in spec:
        raise ValueError(f"{name}: 'log' goes with intrange only (use loguniform for floats)")
    return loguniform(*v) if kind == "loguniform" else uniform(*v)


def _check_range(kind, lo, hi):
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{kind}({lo}, {hi}): bounds must be finite numbers")
    if not lo < hi:
        raise ValueError(f"{kind}({lo}, {hi}): lo must be below hi")
