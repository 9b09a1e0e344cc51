"""``models:/`` URIs: parsing, and the one rule of what a URI names; importable anywhere (serving included)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from mlgate.core.layout import NAME_RULE, VERSION_RE, is_name
from mlgate.errors import UnknownAlias, UsageError

_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<ref>[^/@]+))\Z")
#: MLflow's stage names, and the aliases they stand for
STAGES = {"production": "production", "staging": "staging"}


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``models:/`` URI: a name plus exactly one of alias or version."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        return f"models:/{self.name}@{self.alias}" if self.alias else f"models:/{self.name}/{self.version}"


def parse_uri(uri: str) -> ModelRef:
    """Parse ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``models:/NAME/Production``."""
    m = _URI.match(uri.strip())
    if not m:
        raise UsageError(f"{uri!r} is not a model URI: expected models:/NAME@ALIAS or models:/NAME/VERSION")
    name, alias, ref = m["name"], m["alias"], m["ref"]
    for value, what in ((name, "model"), (alias, "alias")):
        if value is not None and not is_name(value):
            raise UsageError(f"{uri!r}: {value!r} is not a valid {what} name: use {NAME_RULE}")
    if ref is not None:
        if VERSION_RE.match(ref):
            return ModelRef(name, version=int(ref))
        if ref.lower() in STAGES:
            return ModelRef(name, alias=STAGES[ref.lower()])
        raise UsageError(f"{uri!r}: {ref!r} is neither a version number nor a stage (Production, Staging)")
    return ModelRef(name, alias=alias)


def version_named(ref: ModelRef, aliases: Callable[[str], Mapping[str, int]]) -> int:
    """The version number ``ref`` names: its own, or the one its alias points at.

    ``aliases(model)`` gives a model's aliases and their versions (asked only for an alias URI). The one rule
    both the registry snapshot and serving resolve by; :class:`UnknownAlias` lists the aliases there are.
    """
    if ref.alias is None:
        assert ref.version is not None  # parse_uri gives exactly one of the two
        return ref.version
    held = aliases(ref.name)
    if ref.alias not in held:
        raise UnknownAlias(
            f"model {ref.name!r} has no alias {ref.alias!r}{did_you_mean(ref.alias, held)}; "
            f"aliases: {', '.join(sorted(held)) or 'none'}"
        )
    return held[ref.alias]


# --- what a user typed where a model, alias or version is meant ------------------------------------------------

#: the forms a :class:`Target` can take: a bare model, an alias of it, or one of its versions
Form = Literal["model", "alias", "version"]
FORMS: frozenset[Form] = frozenset(("model", "alias", "version"))
_SPELLING: dict[Form, str] = {"model": "MODEL", "alias": "MODEL@ALIAS", "version": "MODEL/VERSION"}
_NAMES: dict[Form, str] = {"model": "a model", "alias": "an alias", "version": "a version"}


@dataclass(frozen=True)
class Target:
    """A model, one of its aliases, or one of its versions, as a user named it (not yet looked up).

    At most one of ``alias`` and ``version`` is set. ``str()`` gives the canonical spelling
    (``MODEL``, ``MODEL@ALIAS``, ``MODEL/VERSION``), which :func:`parse_target` reads back to the same target.
    """

    model: str
    alias: str | None = None
    version: int | None = None

    @property
    def form(self) -> Form:
        return "alias" if self.alias is not None else "version" if self.version is not None else "model"

    @property
    def ref(self) -> ModelRef:
        """The ``models:/`` reference of an alias or a version (a bare model names no version: UsageError)."""
        if self.form == "model":
            raise UsageError(f"{self.model!r} names a model, not a version: use MODEL@ALIAS or MODEL/VERSION")
        return ModelRef(self.model, alias=self.alias, version=self.version)

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.model}@{self.alias}"
        return self.model if self.version is None else f"{self.model}/{self.version}"


def _wanted(want: Collection[str]) -> str:
    forms = [_SPELLING[f] for f in ("model", "alias", "version") if f in want]
    return forms[0] if len(forms) == 1 else f"{', '.join(forms[:-1])} or {forms[-1]}"


def _part(text: str, part: str) -> Target | None:
    """``part`` after a model name: ``@ALIAS``, ``/VERSION``, ``/Production``, or a bare VERSION or ALIAS."""
    if part.startswith("@"):
        return Target("", alias=part[1:])
    body = part[1:] if part.startswith("/") else part
    if VERSION_RE.match(body):
        return Target("", version=int(body))
    if body.isascii() and body.isdigit():
        raise UsageError(f"{text!r}: {body!r} is not a version number: versions are 1, 2, 3... without leading zeros")
    if body.lower() in STAGES:
        return Target("", alias=STAGES[body.lower()])
    if part.startswith("/"):
        raise UsageError(f"{text!r}: {body!r} is neither a version number nor a stage (Production, Staging)")
    return Target("", alias=body)


def parse_target(text: str, *, want: Collection[str] = FORMS, then: str | None = None) -> Target:
    """Parse what a user typed where a model, an alias or a version is meant.

    Accepted: ``MODEL``, ``MODEL@ALIAS``, ``MODEL/VERSION``, ``models:/MODEL@ALIAS``, ``models:/MODEL/VERSION``
    and MLflow's ``models:/MODEL/Production`` (a stage is the alias of the same name, lowercased). ``then``
    is an optional second argument naming a version or an alias of a bare MODEL (``show MODEL 3``,
    ``compare MODEL 2 champion``): ``3``, ``champion``, ``@champion`` or ``Production``. ``want`` is the
    forms the caller accepts; any other is a :class:`UsageError` saying what was expected, as is anything
    unparsable (never another exception, whatever the text).
    """
    if not want or not set(want) <= FORMS:
        raise ValueError(f"want must name some of {sorted(FORMS)}, not {want!r}")  # a caller's bug
    expected = _wanted(want)
    raw = text  # never stripped: "champion\n" is not the name champion (what is echoed must be what was asked)
    if raw.startswith("models:/"):
        ref = parse_uri(raw)
        target = Target(ref.name, alias=ref.alias, version=ref.version)
    else:
        cut = min((i for i in (raw.find("@"), raw.find("/")) if i >= 0), default=len(raw))
        name, rest = raw[:cut], raw[cut:]
        if not name:
            raise UsageError(f"{text!r} names no model: expected {expected}")
        if not is_name(name):
            where = "" if name == text else f"{text!r}: "
            raise UsageError(f"{where}{name!r} is not a valid model name: use {NAME_RULE}")
        part = _part(text, rest) if rest else None
        target = Target(name, alias=part.alias, version=part.version) if part else Target(name)
    if then is not None:
        if target.form != "model":
            raise UsageError(f"{text!r} already names {_NAMES[target.form]}: drop the extra argument {then!r}")
        extra = _part(then, then)
        assert extra is not None  # a non-empty part always parses to an alias or a version
        target = Target(target.model, alias=extra.alias, version=extra.version)
    if target.alias is not None and not is_name(target.alias):
        raise UsageError(f"{text!r}: {target.alias!r} is not a valid alias name: use {NAME_RULE}")
    if target.form not in want:
        raise UsageError(f"{text!r} names {_NAMES[target.form]}: expected {expected}")
    return target


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known`` to a misspelled ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(what: str, name: object, known: Iterable[object], *, where: str) -> str:
    """The one message for a name that is not there: ``no model 'x' in main; did you mean 'y'? (models: ...)``.

    ``what`` is "model", "alias" or "version" (its plural lists ``known``), ``where`` what was searched.
    """
    names = [str(k) for k in known]
    hint = did_you_mean(str(name), names) if what != "version" else ""
    plural = "aliases" if what == "alias" else f"{what}s"
    return f"no {what} {name!r} {where}{hint} ({plural}: {', '.join(names) or 'none'})"


def with_alias(text: str, alias: str | None, *, required: bool = True) -> Target:
    """``MODEL@ALIAS``, or ``MODEL`` with the alias given apart (an ``--alias`` option); both must agree.

    ``required``: a target without an alias either way is a :class:`UsageError` (else it names the model).
    """
    target = parse_target(text, want=("model", "alias"))
    if target.alias is not None and alias is not None and alias != target.alias:
        raise UsageError(f"{text!r} names the alias {target.alias!r} but --alias says {alias!r}: give one")
    if target.alias is None and alias is not None:
        target = parse_target(target.model, want=("alias",), then=f"@{alias}")
    if required and target.alias is None:
        raise UsageError(f"{text!r} names no alias: write MODEL@ALIAS or pass --alias ALIAS")
    return target
