"""Protocol-buffer text format (what Caffe's ``.prototxt`` files are), tokenized and parsed
into an untyped tree; ``messages.from_text`` gives it types from the schema.

Grammar (the subset protobuf's TextFormat accepts)::

    message := { field [',' | ';'] }
    field   := NAME [':'] ('{' message '}' | '<' message '>')
             | NAME ':' (value | '[' [value {',' value}] ']')
    value   := STRING {STRING} | NUMBER | IDENT          # adjacent strings concatenate

Comments run from '#' to the end of the line. Every node keeps its line and column (1-based),
so a mistake is reported as ``file:line:column: ...``.
"""
import re
from dataclasses import dataclass, field
from typing import List, Union

from .errors import PrototxtError

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+) | (?P<nl>\n) | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?)(?![\w.]))
  | (?P<ident>-?[A-Za-z_][\w.]*)
  | (?P<punct>[{}<>\[\]:,;])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "?": "?"}


@dataclass
class Token:
    kind: str            # 'string' | 'number' | 'ident' | 'punct' | 'eof'
    text: str
    line: int
    col: int


@dataclass
class RawMessage:
    """A message body: its fields in file order, and where it starts."""
    fields: List["RawField"] = field(default_factory=list)
    line: int = 1
    col: int = 1


@dataclass
class RawField:
    name: str
    value: Union[Token, RawMessage]
    line: int
    col: int


def _unescape(body: str, where: str) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        e = body[i]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 1
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 1:])
            if not m:
                raise PrototxtError(where, "bad \\x escape in string")
            out.append(chr(int(m.group(), 16)))
            i += 1 + len(m.group())
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i:])
            out.append(chr(int(m.group(), 8)))
            i += len(m.group())
        else:
            raise PrototxtError(where, f"unknown escape '\\{e}' in string")
    return "".join(out)


def tokenize(text: str, filename: str = "<string>") -> List[Token]:
    toks, pos, line, line_start = [], 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        col = pos - line_start + 1
        if m is None:
            raise PrototxtError(f"{filename}:{line}:{col}",
                                f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind == "string":
            toks.append(Token("string", _unescape(m.group()[1:-1], f"{filename}:{line}:{col}"),
                              line, col))
        elif kind not in ("ws", "comment"):
            toks.append(Token(kind, m.group(), line, col))
        pos = m.end()
    toks.append(Token("eof", "", line, pos - line_start + 1))
    return toks


class _Parser:
    def __init__(self, tokens, filename):
        self.toks, self.i, self.file = tokens, 0, filename

    def where(self, tok):
        return f"{self.file}:{tok.line}:{tok.col}"

    def peek(self):
        return self.toks[self.i]

    def next(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text):
        tok = self.next()
        if tok.text != text or tok.kind not in ("punct",):
            raise PrototxtError(self.where(tok), f"expected '{text}', found "
                                f"{_describe(tok)}")
        return tok

    def message(self, close, start):
        msg = RawMessage(line=start.line, col=start.col)
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                if close is None:
                    return msg
                raise PrototxtError(self.where(tok), f"end of file inside the message opened "
                                    f"at line {start.line}, column {start.col} (missing "
                                    f"'{close}')")
            if close is not None and tok.kind == "punct" and tok.text == close:
                self.next()
                return msg
            if tok.kind != "ident" or tok.text.startswith("-"):
                raise PrototxtError(self.where(tok), f"expected a field name, found "
                                    f"{_describe(tok)}")
            self.next()
            msg.fields.extend(self.field_value(tok))
            sep = self.peek()
            if sep.kind == "punct" and sep.text in ",;":
                self.next()

    def field_value(self, name):
        tok = self.peek()
        colon = tok.kind == "punct" and tok.text == ":"
        if colon:
            self.next()
            tok = self.peek()
        if tok.kind == "punct" and tok.text in "{<":
            self.next()
            body = self.message("}" if tok.text == "{" else ">", tok)
            return [RawField(name.text, body, name.line, name.col)]
        if not colon:
            raise PrototxtError(self.where(tok), f"expected ':' or '{{' after field name "
                                f"'{name.text}', found {_describe(tok)}")
        if tok.kind == "punct" and tok.text == "[":
            self.next()
            out = []
            if self.peek().text == "]" and self.peek().kind == "punct":
                self.next()
                return out
            while True:
                out.append(RawField(name.text, self.scalar(), name.line, name.col))
                sep = self.next()
                if sep.kind == "punct" and sep.text == "]":
                    return out
                if not (sep.kind == "punct" and sep.text == ","):
                    raise PrototxtError(self.where(sep), f"expected ',' or ']' in the list "
                                        f"of '{name.text}', found {_describe(sep)}")
        return [RawField(name.text, self.scalar(), name.line, name.col)]

    def scalar(self):
        tok = self.next()
        if tok.kind == "string":
            parts = [tok.text]
            while self.peek().kind == "string":  # "a" "b" is "ab", as in protobuf
                parts.append(self.next().text)
            return Token("string", "".join(parts), tok.line, tok.col)
        if tok.kind in ("number", "ident"):
            return tok
        raise PrototxtError(self.where(tok), f"expected a value, found {_describe(tok)}")


def _describe(tok):
    if tok.kind == "eof":
        return "end of file"
    if tok.kind == "string":
        return f"string {tok.text!r}"
    return f"'{tok.text}'"


def parse(text: str, filename: str = "<string>") -> RawMessage:
    """The untyped tree of a text-format message; PrototxtError (file:line:col) on bad syntax."""
    p = _Parser(tokenize(text, filename), filename)
    return p.message(None, Token("punct", "", 1, 1))
