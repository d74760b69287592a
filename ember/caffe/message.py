"""Typed Caffe messages: ``Msg`` (fields by name, schema defaults for unset ones, and where
each field was written), built from the text tree with every name and value checked.
"""
import math
import re
from typing import Optional

from .errors import PrototxtError
from .schema import ENUMS, MESSAGES
from .textformat import RawMessage, Token, parse

_INT_RANGE = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1),
              "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1)}


class Msg:
    """One message of type ``type_name``. ``m.name`` is the field's value, or the schema default
    when unset (``[]`` for repeated fields, an empty message for message fields); ``m.has(name)``
    tells set from default; ``m.where(name)`` is ``file:line:col`` of the field (or of the
    message when the field is unset)."""

    __slots__ = ("_type", "_fields", "_pos", "_origin")

    def __init__(self, type_name: str, origin: str = "", **values):
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_fields", {})
        object.__setattr__(self, "_pos", {})
        object.__setattr__(self, "_origin", origin)
        for k, v in values.items():
            setattr(self, k, v)

    def _field(self, name):
        f = MESSAGES[self._type].get(name)
        if f is None:
            raise AttributeError(f"{self._type} has no field {name!r}")
        return f

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        f = self._field(name)
        if name in self._fields:
            return self._fields[name]
        if f.repeated:
            return []
        if f.kind == "message":
            return Msg(f.type, self._origin)
        return f.default

    def __setattr__(self, name, value):
        self._field(name)
        self._fields[name] = value

    def has(self, name: str) -> bool:
        return name in self._fields

    def where(self, name: Optional[str] = None) -> str:
        return self._pos.get(name) or self._origin

    def __repr__(self):
        return f"Msg({self._type}, {self._fields!r})"


def _supported(type_name):
    return ", ".join(sorted(MESSAGES[type_name]))


def _number(tok: Token, kind: str, where: str):
    text = tok.text
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    is_hex = body[:2].lower() == "0x"
    if kind in ("float", "double"):
        if tok.kind == "ident":
            special = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}.get(
                body.lower())
            if special is None:
                raise PrototxtError(where, f"expected a number, found '{text}'")
            return sign * special
        return float(sign * int(body, 16)) if is_hex else float(text.rstrip("fF"))
    if tok.kind != "number" or not re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", text):
        raise PrototxtError(where, f"expected an integer, found '{text}'")
    if is_hex:
        value = sign * int(body, 16)
    elif len(body) > 1 and body.startswith("0"):
        value = sign * int(body, 8)  # a leading 0 is octal in the text format, as in C
    else:
        value = sign * int(body)
    lo, hi = _INT_RANGE[kind]
    if not lo <= value <= hi:
        raise PrototxtError(where, f"{value} is out of range for {kind}")
    return value


def _scalar(tok: Token, f, where: str, context: str):
    if f.kind == "message":
        raise PrototxtError(where, f"field '{f.name}' of {context} is a message: write "
                            f"'{f.name} {{ ... }}'")
    if f.kind in ("string", "bytes"):
        if tok.kind != "string":
            raise PrototxtError(where, f"field '{f.name}' expects a quoted string, found "
                                f"'{tok.text}'")
        return tok.text.encode("latin-1") if f.kind == "bytes" else tok.text
    if f.kind == "bool":
        if tok.text in ("true", "True", "t", "1"):
            return True
        if tok.text in ("false", "False", "f", "0"):
            return False
        raise PrototxtError(where, f"field '{f.name}' expects true or false, found '{tok.text}'")
    if f.kind == "enum":
        names = ENUMS[f.type]
        if tok.kind == "ident" and tok.text in names:
            return tok.text
        if tok.kind == "number":
            by_value = {v: k for k, v in names.items()}
            try:
                return by_value[int(tok.text)]
            except (KeyError, ValueError):
                pass
        raise PrototxtError(where, f"unknown value '{tok.text}' for '{f.name}' in {context}; "
                            f"supported: {', '.join(names)}")
    if tok.kind == "string":
        raise PrototxtError(where, f"field '{f.name}' expects a number, found a string "
                            f"{tok.text!r}")
    return _number(tok, f.kind, where)


def build(raw: RawMessage, type_name: str, filename: str) -> Msg:
    """Check a text tree against the schema of ``type_name`` and give it types."""
    msg = Msg(type_name, f"{filename}:{raw.line}:{raw.col}")
    fields = MESSAGES[type_name]
    for rf in raw.fields:
        where = f"{filename}:{rf.line}:{rf.col}"
        f = fields.get(rf.name)
        if f is None:
            raise PrototxtError(where, f"unknown field '{rf.name}' in {type_name}; supported "
                                f"fields: {_supported(type_name)}")
        if isinstance(rf.value, RawMessage):
            if f.kind != "message":
                raise PrototxtError(where, f"field '{f.name}' of {type_name} is a {f.kind}, "
                                    f"not a message: write '{f.name}: value'")
            value = build(rf.value, f.type, filename)
        else:
            value = _scalar(rf.value, f, f"{filename}:{rf.value.line}:{rf.value.col}",
                            type_name)
        if f.repeated:
            msg._fields.setdefault(f.name, []).append(value)
            msg._pos.setdefault(f.name, where)
        else:
            if f.name in msg._fields:
                raise PrototxtError(where, f"non-repeated field '{f.name}' of {type_name} is "
                                    f"given twice (first at {msg._pos[f.name]})")
            msg._fields[f.name] = value
            msg._pos[f.name] = where
    return msg


def from_text(text: str, type_name: str, filename: str = "<string>") -> Msg:
    return build(parse(text, filename), type_name, filename)


def read_text(path, type_name: str) -> Msg:
    """Parse a prototxt file; a missing file is an error naming its path."""
    import os
    from .errors import CaffeError
    if not os.path.isfile(path):
        raise CaffeError(f"{path}: no such file (paths are relative to the working directory "
                         f"{os.getcwd()}, as in Caffe)")
    with open(path, encoding="utf-8") as fh:
        return from_text(fh.read(), type_name, str(path))
