"""The only module that imports PyYAML: safe, strict loading and stable dumping.

Loading is deliberately narrower than PyYAML's ``safe_load``:

* plain scalars follow the YAML 1.2 core schema, so ``yes``/``no``/``on``/``off``
  stay strings, ``1_000`` and ``1:20`` stay strings; only ``true``/``false`` are
  booleans. Numbers keep the text they were written as, so a schema that wants a
  string can say "quote it" instead of silently taking ``1.10`` as ``1.1``;
* only the standard tags (str, int, float, bool, null, map, seq) are accepted;
  ``!!python/...``, ``!!binary``, ``!!timestamp`` and custom tags are refused;
* duplicate keys, merge keys (``<<``), non-string keys, ``.nan``/``.inf``,
  several documents in one file and empty files are errors;
* a file over :data:`MAX_BYTES`, deeper than :data:`MAX_DEPTH`, or expanding to
  more than :data:`MAX_NODES` nodes through aliases is refused before it costs
  more than a few milliseconds;
* an integer of more than :data:`MAX_INT_DIGITS` digits and a float that
  overflows are refused (no OverflowError deep inside a gate); a float keeps the
  decimal text it was written as (:class:`Decimal` of :func:`exact`), so
  ``0.84999999999999999`` is below ``0.85`` as written;
* control characters (C0 but tab and newline, DEL, C1) and bidirectional
  overrides are refused in every string and key, however they were written
  (``"\\e[31m"`` is an escape that produces ESC): text from a manifest can be
  printed on a terminal or in a pull request without hiding anything.

Every error is a :class:`YamlError` carrying the file, the line and a rule id.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

import yaml

from mlgate.core.rules import Family, define
from mlgate.errors import YamlError as YamlError  # re-exported: defined in mlgate.errors

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG001 = define(
    "MG001",
    "parse",
    Family.PARSE,
    "The file is not valid UTF-8 YAML, or uses a YAML feature mlgate refuses (tags, duplicate keys, merge keys, several documents, NaN, infinity), holds an integer of more than 18 digits, or a string or key with a control character (ESC, C1 controls, bidi overrides).",
)
MG002 = define(
    "MG002",
    "limits",
    Family.PARSE,
    "The file is over 1 MiB, nested deeper than 64 levels, or expands past 100,000 values through aliases.",
)


MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64
#: integers longer than this (sign aside) are refused: no manifest needs more, and Python's int/float
#: conversions of longer ones raise (4,300-digit limit) or overflow in comparisons
MAX_INT_DIGITS = 18

RULE_PARSE = MG001
RULE_LIMIT = MG002

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STD = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")

FieldPath = tuple[str | int, ...]  # of str keys and int indexes

#: characters refused in any string or key: C0 controls but tab and newline, DEL, C1 controls, and the
#: bidirectional overrides and isolates that can make text read differently from what it is ("Trojan source")
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def forbidden_character(text: str) -> str | None:
    """The first character of ``text`` that no manifest string may hold, as ``U+XXXX``, or None."""
    m = _FORBIDDEN.search(text)
    return f"U+{ord(m.group()):04X}" if m else None


class Number(float):
    """A float read from YAML that remembers the decimal text it was written as.

    It is a float everywhere (JSON Schema, arithmetic, JSON output); :func:`exact`
    turns it into the :class:`Decimal` of that text, so comparisons in gates are
    made on the number as written, not on its nearest binary double.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> "Number":
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __reduce__(self) -> tuple[type[Number], tuple[float, str]]:
        return (Number, (float(self), self.text))


def exact(x: float | int) -> Decimal:
    """The exact decimal of a number: as written for YAML floats, else of its shortest repr."""
    if isinstance(x, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(x, int):
        return Decimal(x)
    text = getattr(x, "text", None)
    if text is not None:
        try:
            return Decimal(text)
        except InvalidOperation:
            pass
    return Decimal(repr(float(x)))


@dataclass(frozen=True)
class Document:
    """A parsed YAML file: the data plus where each value was written."""

    path: str
    data: Any
    lines: Mapping[FieldPath, int] = field(repr=False)
    plain_text: Mapping[FieldPath, str] = field(repr=False)

    def line_of(self, field_path: FieldPath) -> int | None:
        """Line (1-based) of ``field_path``, or of its nearest ancestor that has one."""
        fp = tuple(field_path)
        while True:
            if fp in self.lines:
                return self.lines[fp]
            if not fp:
                return None
            fp = fp[:-1]

    def source_text(self, field_path: FieldPath) -> str | None:
        """How a non-string plain scalar was written (``1.10`` for the float 1.1)."""
        return self.plain_text.get(tuple(field_path))


def decode(raw: bytes, path: str) -> str:
    """Bytes -> text: UTF-8 only (a leading BOM is allowed), no NUL bytes, size-capped."""
    if len(raw) > MAX_BYTES:
        raise YamlError(
            f"file is {len(raw):,} bytes; manifests are limited to {MAX_BYTES:,} bytes (1 MiB)",
            path=path,
            rule=RULE_LIMIT,
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlError("file is UTF-16 encoded; manifests must be UTF-8", path=path, line=1)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise YamlError("file contains a NUL byte: binary data is not a manifest", path=path, line=line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise YamlError(
            f"file is not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})", path=path, line=line
        ) from None


def load(source: bytes | str, path: str) -> Document:
    """Parse one YAML document strictly. Raises :class:`YamlError`."""
    text = decode(source, path) if isinstance(source, bytes) else source
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8")) > MAX_BYTES:
        return load(text.encode("utf-8"), path)  # the byte-size error, worded once
    fast = _fast(text)
    if fast is not None:
        data, lines, plain_text = fast
        return Document(path=path, data=data, lines=lines, plain_text=plain_text)
    builder = _Builder(path)
    try:
        # Built from the parser's event stream, not from composed nodes: PyYAML's C
        # composer recurses in C and crashes the interpreter on '[[[[...' nesting.
        for event in yaml.parse(text, Loader=_Loader):
            builder.feed(event)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        if "nesting depth" in (e.problem or ""):  # libyaml >= 0.2.6 (PyYAML 6.0.4) stops deep nesting itself
            raise YamlError(f"nesting is deeper than {MAX_DEPTH} levels", path=path, line=line, rule=MG002) from None
        raise YamlError(e.problem or "invalid YAML", path=path, line=line) from None
    except yaml.reader.ReaderError as e:  # an unprintable character; carries an offset, not a mark
        line = text.count("\n", 0, e.position) + 1
        raise YamlError(
            f"character #x{e.character:04x} is not allowed in YAML ({e.reason})", path=path, line=line
        ) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e).replace("\n", " "), path=path) from None
    if builder.root is _MISSING or builder.root is None:
        raise YamlError("file is empty: a manifest must be a YAML mapping", path=path, line=1)
    return Document(path=path, data=builder.root, lines=builder.lines, plain_text=builder.plain_text)


_MISSING = object()


# --- the fast path: the plain block YAML manifests are written in, or nothing --------------------------------
#
# Most manifests are block mappings of plain or simply quoted one-line scalars in printable ASCII (what
# :func:`dump` writes). For those, this reads the lines directly, several times quicker than PyYAML's event
# stream; for anything else (flow collections, anchors, aliases, tags, block or multi-line scalars, escapes,
# comments after a value, tabs, non-ASCII text, a duplicate key, a number the strict path refuses, too many
# values or levels) it answers None and the strict path decides, with its errors. Whatever it accepts, it reads
# exactly as the strict path does (data, lines, the text of numbers): tests/infra compare the two on random
# documents.

#: whole text: anything outside printable ASCII and newline (tabs, CR, controls, DEL, non-ASCII) is for PyYAML
_FAST_TEXT = re.compile(r"[^\x20-\x7e\n]")
_FAST_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_./=-]*):(?: +(.*))?$")
#: a plain scalar that is one in block context and nothing else: no indicator first, no ": " or " #" or "#"
#: anywhere, no ":" last
_FAST_PLAIN = re.compile(r"(?:[A-Za-z0-9_./(~$=+]|-(?=[^ ]))[^#]*$")
_FAST_SINGLE = re.compile(r"'((?:[^']|'')*)'$")
_FAST_DOUBLE = re.compile(r'"([^"\\]*)"$')
#: a one-line flow sequence of quoted strings or words: ``["@acme/ml", team-b]``
_FAST_FLOW_ITEM = r"""(?:"[^"\\,\[\]{}]*"|'[^',\[\]{}]*'|[A-Za-z_][A-Za-z0-9_./-]*)"""
_FAST_FLOW = re.compile(rf"\[ *(?:{_FAST_FLOW_ITEM}(?: *, *{_FAST_FLOW_ITEM})*)? *\]$")
_FAST_WORDS: dict[str, bool | None] = {w: True for w in ("true", "True", "TRUE")}
_FAST_WORDS.update({w: False for w in ("false", "False", "FALSE")})
_FAST_WORDS.update({w: None for w in ("null", "Null", "NULL")})
#: levels the fast path reads (deeper documents go to the strict path, which counts to MAX_DEPTH)
_FAST_DEPTH = 16


class _Decline(Exception):
    """The fast path leaves this document to the strict one."""


def _fast(text: str) -> tuple[Any, dict[FieldPath, int], dict[FieldPath, str]] | None:
    """``text`` read as the strict path would, if it is plain block YAML; else None."""
    if _FAST_TEXT.search(text) is not None:
        return None
    rows: list[list[Any]] = []  # [indent, content, line]
    for number, raw in enumerate(text.split("\n"), 1):
        content = raw.strip(" ")
        if not content or content[0] == "#":
            continue
        if raw.startswith(("---", "...", "%")):
            return None
        rows.append([len(raw) - len(raw.lstrip(" ")), content, number])
    if not rows or rows[0][1].startswith("-"):
        return None
    reader = _FastReader(rows)
    try:
        data = reader.mapping(0, rows[0][0], (), 1)
    except _Decline:
        return None
    if reader.at != len(rows):
        return None
    reader.lines.setdefault((), rows[0][2])
    return data, reader.lines, reader.plain_text


class _FastReader:
    __slots__ = ("rows", "at", "lines", "plain_text", "nodes")

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows
        self.at = 0
        self.lines: dict[FieldPath, int] = {}
        self.plain_text: dict[FieldPath, str] = {}
        self.nodes = 0

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Decline

    def mapping(self, i: int, indent: int, fp: FieldPath, depth: int) -> dict[str, Any]:
        if depth > _FAST_DEPTH:
            raise _Decline
        self.count()
        self.lines.setdefault(fp, self.rows[i][2])
        rows, out = self.rows, dict[str, Any]()
        self.at = i
        while self.at < len(rows):
            row = rows[self.at]
            if row[0] < indent:
                break
            if row[0] > indent:
                raise _Decline
            m = _FAST_KEY.match(row[1])
            if m is None:
                raise _Decline
            key, rest = m.group(1), m.group(2)
            if key in out:
                raise _Decline  # the strict path says which key, and where it was first
            here = (*fp, key)
            self.lines[here] = row[2]
            self.at += 1
            if rest:
                out[key] = self.scalar(rest, here, row[2])
                if self.at < len(rows) and rows[self.at][0] > indent:
                    raise _Decline  # a plain scalar running on to the next line
                continue
            nxt = rows[self.at] if self.at < len(rows) else None
            if nxt is not None and nxt[0] > indent:
                if nxt[1].startswith("-"):
                    out[key] = self.sequence(self.at, nxt[0], here, depth + 1)
                else:
                    out[key] = self.mapping(self.at, nxt[0], here, depth + 1)
            elif nxt is not None and nxt[0] == indent and nxt[1].startswith("-"):
                out[key] = self.sequence(self.at, indent, here, depth + 1)  # a sequence at its key's indent
            else:
                self.count()
                out[key] = None
        return out

    def sequence(self, i: int, indent: int, fp: FieldPath, depth: int) -> list[Any]:
        if depth > _FAST_DEPTH:
            raise _Decline
        self.count()
        self.lines.setdefault(fp, self.rows[i][2])
        rows, out = self.rows, list[Any]()
        self.at = i
        while self.at < len(rows):
            row = rows[self.at]
            if row[0] < indent or (row[0] == indent and not row[1].startswith("-")):
                break
            if row[0] > indent or not row[1].startswith("- "):
                raise _Decline
            here = (*fp, len(out))
            rest = row[1][2:].lstrip(" ")
            if _FAST_KEY.match(rest):  # "- key: ...": a mapping whose first key is on the dash's line
                row[0], row[1] = row[0] + len(row[1]) - len(rest), rest
                out.append(self.mapping(self.at, row[0], here, depth + 1))
                continue
            self.lines.setdefault(here, row[2])
            out.append(self.scalar(rest, here, row[2]))
            self.at += 1
            if self.at < len(rows) and rows[self.at][0] > indent:
                raise _Decline
        return out

    def scalar(self, text: str, fp: FieldPath, line: int) -> Any:
        self.count()
        first = text[0]
        if first.isalpha():  # a word: a string, unless it is one of YAML's booleans or nulls
            if _FAST_PLAIN.match(text) is None or ": " in text or text.endswith(":"):
                raise _Decline
            if text in _FAST_WORDS:
                value = _FAST_WORDS[text]
                if value is not None:
                    self.plain_text[fp] = text
                return value
            return text
        if first == "[":
            if _FAST_FLOW.match(text) is None:
                raise _Decline
            inner = text[1:-1].strip(" ")
            self.lines.setdefault(fp, line)
            items = []
            for i, item in enumerate(inner.split(",") if inner else ()):
                self.lines.setdefault((*fp, i), line)
                items.append(self.scalar(item.strip(" "), (*fp, i), line))
            return items
        if first == "'":
            m = _FAST_SINGLE.match(text)
            if m is None:
                raise _Decline
            return m.group(1).replace("''", "'")
        if first == '"':
            m = _FAST_DOUBLE.match(text)
            if m is None:
                raise _Decline
            return m.group(1)
        if _FAST_PLAIN.match(text) is None or ": " in text or text.endswith(":"):
            raise _Decline
        value = _resolve_plain(text)
        if value is _NONFINITE or value is _TOO_LONG:
            raise _Decline
        if value is not None and not isinstance(value, str):
            self.plain_text[fp] = text
        return value


def _line(event: yaml.Event) -> int:
    """The (1-based) line an event starts on: the parser marks every event."""
    assert event.start_mark is not None
    return event.start_mark.line + 1


class _Frame:
    __slots__ = ("value", "fp", "anchor", "size", "key", "key_lines")

    def __init__(self, value: dict[str, Any] | list[Any], fp: FieldPath, anchor: str | None) -> None:
        self.value = value
        self.fp = fp
        self.anchor = anchor
        self.size = 1
        self.key: str | None = None  # a mapping's key waiting for its value
        self.key_lines: dict[str, int] = {}


class _Builder:
    """YAML events -> plain Python data, recording lines and counting expansion.

    Iterative (no recursion), so depth is checked before it can hurt; an alias
    reuses the anchored object and adds its expanded size to the count, so an
    alias bomb is refused after a handful of events.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.nodes = 0
        self.documents = 0
        self.root: Any = _MISSING
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.lines: dict[FieldPath, int] = {}
        self.plain_text: dict[FieldPath, str] = {}

    def fail(self, message: str, event: yaml.Event, rule: str = RULE_PARSE, fp: FieldPath | None = None) -> YamlError:
        where = field_path(fp) if fp else None
        return YamlError(message, path=self.path, line=_line(event), rule=rule, field=where)

    def feed(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):
            if self.stack and isinstance(self.stack[-1].value, dict) and self.stack[-1].key is None:
                self._key(event)
            else:
                self._attach(event, self._scalar(event), 1)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._start(event)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if frame.anchor is not None:
                self.anchors[frame.anchor] = (frame.value, frame.size)
            self._attach(event, frame.value, frame.size, counted=True)
        elif isinstance(event, yaml.AliasEvent):
            if self._expects_key():
                raise self.fail("mapping keys must be plain strings, not aliases", event)
            if event.anchor not in self.anchors:
                raise self.fail(f"alias *{event.anchor} refers to no anchor defined before it", event)
            value, size = self.anchors[event.anchor]
            self._attach(event, value, size)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self.fail(
                    "file holds more than one YAML document ('---'); a manifest is exactly one document", event
                )

    def _expects_key(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].value, dict) and self.stack[-1].key is None

    def _fp(self) -> FieldPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, dict):
            assert top.key is not None  # a mapping's value is read after its key
            return top.fp + (top.key,)
        return top.fp + (len(top.value),)

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        is_map = isinstance(event, yaml.MappingStartEvent)
        if self._expects_key():
            raise self.fail("mapping keys must be plain strings", event)
        if len(self.stack) >= MAX_DEPTH:
            raise self.fail(f"nesting is deeper than {MAX_DEPTH} levels", event, RULE_LIMIT)
        wanted = _STD + ("map" if is_map else "seq")
        if event.tag not in (None, "!", wanted):
            raise self.fail(_tag_message(event.tag, "a mapping" if is_map else "a sequence"), event)
        fp = self._fp()
        self.lines.setdefault(fp, _line(event))
        self.stack.append(_Frame({} if is_map else [], fp, event.anchor))

    def _key(self, event: yaml.ScalarEvent) -> None:
        top = self.stack[-1]
        if event.tag not in (None, "!", _STD + "str"):
            raise self.fail("mapping keys must be plain strings", event)
        key, line = event.value, _line(event)
        bad = forbidden_character(key)
        if bad:
            raise self.fail(f"key {key!r} contains the control character {bad}", event, fp=top.fp)
        if key == "<<" and event.implicit[0]:
            raise self.fail("merge keys ('<<') are not supported: write the values out", event)
        if key in top.key_lines:
            raise self.fail(f"duplicate key {key!r} (first defined on line {top.key_lines[key]})", event)
        top.key_lines[key] = line
        top.key = key
        self.lines[top.fp + (key,)] = line

    def _attach(self, event: yaml.Event, value: Any, size: int, counted: bool = False) -> None:
        if not counted:
            self.nodes += size
            if self.nodes > MAX_NODES:
                raise self.fail(
                    f"document expands to more than {MAX_NODES:,} values (an alias bomb?)", event, RULE_LIMIT
                )
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, (yaml.AliasEvent, yaml.CollectionEndEvent)):
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.value, dict):
            assert top.key is not None  # a mapping's value is attached after its key
            top.value[top.key] = value
            top.key = None
        else:
            top.value.append(value)

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        text, tag = event.value, event.tag
        fp = self._fp()
        self.lines.setdefault(fp, _line(event))
        bad = forbidden_character(text)
        if bad:
            raise self.fail(
                f"text contains the control character {bad}; manifests hold printable text only", event, fp=fp
            )
        if tag is None and event.implicit[0]:  # plain scalar: YAML 1.2 core schema
            value = self._number(_resolve_plain(text), text, event, fp)
            if value is not None and not isinstance(value, str):
                self.plain_text[fp] = text
            return value
        if tag in (None, "!", _STD + "str"):
            return text
        if tag not in _ALLOWED_TAGS or tag in (_STD + "map", _STD + "seq"):
            raise self.fail(_tag_message(tag, "a scalar"), event)
        kind = tag[len(_STD) :]
        value = _resolve_plain(text)
        wanted = {"int": (int,), "float": (int, float), "bool": (bool,), "null": (type(None),)}[kind]
        if value is _NONFINITE or not isinstance(value, wanted) or (kind != "bool" and isinstance(value, bool)):
            raise self.fail(f"{text!r} is not a valid {kind}", event, fp=fp)
        value = self._number(value, text, event, fp)
        return Number(float(value), text) if kind == "float" and not isinstance(value, Number) else value

    def _number(self, value: Any, text: str, event: yaml.Event, fp: FieldPath) -> Any:
        if value is _NONFINITE:
            raise self.fail(f"{_short(text)} is not a finite number; NaN and infinity are not allowed", event, fp=fp)
        if value is _TOO_LONG:
            raise self.fail(
                f"{_short(text)} has more than {MAX_INT_DIGITS} digits; numbers in manifests are limited "
                f"to {MAX_INT_DIGITS} digits",
                event,
                fp=fp,
            )
        return value


def _tag_message(tag: str, what: str) -> str:
    if tag in _ALLOWED_TAGS:
        return f"tag {tag!r} cannot be used on {what}"
    return f"tag {tag!r} is not allowed: manifests hold plain data only"


_NONFINITE = object()
_TOO_LONG = object()


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}...({len(text):,} characters)"


def field_path(parts: Iterable[Any]) -> str:
    """A field's path as users write it: ``metrics.auc``, ``owners[0]``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def scalar(text: str) -> Any:
    """A command-line value read as a plain YAML 1.2 scalar: ``0.05`` a number, ``yes`` a string."""
    value = _resolve_plain(text)
    return text if value is _NONFINITE or value is _TOO_LONG else value


def _int(digits: str, base: int) -> Any:
    if len(digits.lstrip("+-").lstrip("0")) > MAX_INT_DIGITS:
        return _TOO_LONG
    value = int(digits, base)
    return value if abs(value) < 10**MAX_INT_DIGITS else _TOO_LONG


def _resolve_plain(text: str) -> Any:
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return _int(text, 10)
    if _OCT.fullmatch(text):
        return _int(text[2:], 8)
    if _HEX.fullmatch(text):
        return _int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        value = float(text)
        return Number(value, text) if math.isfinite(value) else _NONFINITE
    if _SPECIAL_FLOAT.fullmatch(text):
        return _NONFINITE
    return text


class _Dumper(yaml.SafeDumper):
    """Block style, two-space indent, sequences indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, False)


def _represent_number(dumper: yaml.SafeDumper, value: Number) -> yaml.ScalarNode:
    # a number read from YAML is written back as it was written (0.850, 1e-3), not re-rounded
    if _FLOAT.fullmatch(value.text):
        return dumper.represent_scalar("tag:yaml.org,2002:float", value.text)
    return dumper.represent_float(float(value))


_Dumper.add_representer(Number, _represent_number)


def dump(data: Any) -> str:
    """Stable YAML text: key order kept, block style, fixed indent, UTF-8 as is.

    PyYAML's dumper quotes every string a YAML 1.1 reader would mistake for
    something else (``"yes"``, ``"1.10"``), so files we write read the same
    under any YAML version.
    """
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
