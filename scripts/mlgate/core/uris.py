"""``models:/`` URIs: parsing, and the one rule of what a URI names; importable anywhere (serving included)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

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
            f"model {ref.name!r} has no alias {ref.alias!r}; aliases: {', '.join(sorted(held)) or 'none'}"
        )
    return held[ref.alias]
