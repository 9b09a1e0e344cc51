"""``models:/`` URIs: parsing only, importable anywhere (serving included) without the validator."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlgate.core.layout import NAME_RULE, VERSION_RE, is_name
from mlgate.errors import UsageError

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
