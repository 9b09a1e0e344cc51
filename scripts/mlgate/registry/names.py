"""One way to name things: what a user typed for a model, an alias or a version, looked up in a snapshot.

Parsing is pure (:func:`mlgate.core.uris.parse_target`); this module checks the names against a
:class:`~mlgate.registry.snapshot.Registry` and turns an alias into the version it holds. A name that is
not there is an :class:`UnknownModel`, :class:`UnknownAlias` or :class:`UnknownVersion` (exit 2) with a
"did you mean" and the names there are. Read commands and write commands (promote, rollback...) call
:func:`resolve_target` alike.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from mlgate.core.uris import FORMS, Form, Target, parse_target, unknown
from mlgate.errors import UnknownAlias, UnknownModel, UnknownVersion
from mlgate.registry.snapshot import Registry

__all__ = ["FORMS", "Form", "Named", "Target", "lookup", "parse_target", "resolve_target"]


@dataclass(frozen=True)
class Named:
    """A target found in a snapshot: its model, the alias it was named by (if any), and the version it names
    (the alias's holder for an alias; None for a bare model)."""

    target: Target
    model: str
    alias: str | None
    version: int | None

    def __str__(self) -> str:
        return str(self.target)

    def to_dict(self) -> dict[str, Any]:
        return {"name": str(self.target), "model": self.model, "alias": self.alias, "version": self.version}


def check_model(reg: Registry, model: str) -> None:
    """:class:`UnknownModel` with a did-you-mean unless ``reg`` has ``model``."""
    names = reg.model_names()
    if model not in names:
        raise UnknownModel(unknown("model", model, names, where=f"in {reg.tree.label}"))
    reg.model(model)  # a model folder without a readable model.yaml says so


def lookup(reg: Registry, target: Target) -> Named:
    """``target`` checked against ``reg``: the model, then its alias or version, each with a did-you-mean."""
    check_model(reg, target.model)
    if target.alias is not None:
        aliases = reg.aliases(target.model)
        if target.alias not in aliases:
            where = f"of model {target.model!r} in {reg.tree.label}"
            raise UnknownAlias(unknown("alias", target.alias, aliases, where=where))
        return Named(target, target.model, target.alias, aliases[target.alias].version)
    if target.version is not None:
        versions = reg.version_numbers(target.model)
        if target.version not in versions:
            where = f"of model {target.model!r} in {reg.tree.label}"
            raise UnknownVersion(unknown("version", target.version, versions, where=where))
        return Named(target, target.model, None, target.version)
    if target.stage is not None or target.latest:
        version = reg.resolve(target.ref).version.version  # through policy.yaml's stages:, or the newest
        alias = reg.stages().get(target.stage) if target.stage is not None else None
        return Named(target, target.model, alias, version)
    return Named(target, target.model, None, None)


def resolve_target(reg: Registry, text: str, *, want: Collection[str] = FORMS, then: str | None = None) -> Named:
    """Parse ``text`` (and an optional second argument ``then``) as :func:`parse_target` does, and look it up.

    >>> resolve_target(reg, "fraud-detector@champion").version   # doctest: +SKIP
    2
    """
    return lookup(reg, parse_target(text, want=want, then=then))


def promoted_version(repo: str | os.PathLike[str], base: str, text: str, *, then: str | None = None) -> tuple[str, int]:
    """The model and version a promotion names: ``MODEL/VERSION`` (or ``MODEL VERSION``) as written, checked by
    the promotion itself; ``MODEL@ALIAS`` is the version that alias holds on ``base``, looked up here."""
    target = parse_target(text, want=("version", "alias", "latest", "stage"), then=then)
    if target.version is not None:
        return target.model, target.version
    named = lookup(Registry.open(repo, base), target)
    assert named.version is not None  # an alias holds a version
    return named.model, named.version
