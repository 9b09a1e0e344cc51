"""Deprecate a model version, or lift its deprecation, by pull request: an edit of the model's ``deprecated`` list.

A deprecated version must not be served: no alias may point at it (the validator's MG205). So deprecating
a version an alias still holds is refused here, naming the aliases to move first, rather than opening a pull
request that could never merge.
"""

from __future__ import annotations

import os
from typing import Any

from mlgate.change.propose import (
    LABEL,
    Proposal,
    _check_names,
    _commit_and_publish,
    _now,
    _open_base,
)
from mlgate.core import layout
from mlgate.core.uris import Target
from mlgate.errors import NotFoundError, UsageError
from mlgate.forge import Forge
from mlgate.infra.git import GitTree
from mlgate.infra.yamlio import dump, load
from mlgate.registry import readers
from mlgate.registry.names import lookup
from mlgate.registry.snapshot import Registry


def _model_doc(tree: GitTree, model: str, version: int) -> dict[str, Any]:
    """model.yaml of ``model`` on the base, after checking that ``version`` exists there."""
    lookup(Registry(tree), Target(model, version=version))  # UnknownModel/UnknownVersion, with a did-you-mean
    path = layout.model_path(model)
    data = load(tree.read(path), path).data
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a YAML mapping: fix it first (mlgate validate)")
    return data


def _holders(tree: GitTree, model: str, version: int) -> list[str]:
    """The aliases of ``model`` that point at ``version`` on the base."""
    listing = tree.listdir(f"{layout.model_dir(model)}/aliases") or {}
    out = []
    for alias in layout.alias_names(listing):
        path = layout.alias_path(model, alias)
        if readers.alias_version_or_none(tree.read(path), path) == version:
            out.append(alias)
    return out


def deprecate(
    repo_path: str | os.PathLike[str],
    model: str,
    version: int,
    *,
    reason: str,
    author: str,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> Proposal:
    """Add ``version`` to ``model``'s deprecated list (with ``reason`` and today's date) on a branch, open a PR.

    Refused when the version is already deprecated, or when an alias points at it (move the alias first:
    a deprecated version must not be served).
    """
    _check_names(model)
    reason = reason.strip()
    if not reason:
        raise UsageError("say why the version is deprecated: --reason TEXT")
    git, base_sha, tree = _open_base(repo_path, base, author)
    doc = _model_doc(tree, model, version)
    known = readers.deprecations_of(doc)
    if version in known:
        raise UsageError(f"{model} v{version} is already deprecated on {base}: {known[version]}")
    holders = _holders(tree, model, version)
    if holders:
        shown = ", ".join(f"{model}@{a}" for a in holders)
        raise UsageError(
            f"{model} v{version} is served: {shown} point{'s' if len(holders) == 1 else ''} at it on {base}, and "
            f"no alias may point at a deprecated version (MG205); move {'it' if len(holders) == 1 else 'them'} "
            f"first (mlgate promote or mlgate rollback), then deprecate"
        )
    entries = list(doc.get("deprecated") or [])
    entries.append({"version": version, "reason": reason, "date": _now()})
    doc["deprecated"] = sorted(entries, key=lambda e: e.get("version", 0) if isinstance(e, dict) else 0)
    title = f"Deprecate {model} v{version}"
    return _propose(
        git,
        base_sha,
        model,
        version,
        doc,
        title=title,
        message=f"{title}\n\n{reason}\n",
        body=f"Deprecates **{model} v{version}**: no alias may point at it and serving refuses it.\n\n"
        f"Reason: {reason}\n",
        branch=f"mlgate/deprecate-{model}-v{version}",
        kind="deprecate",
        author=author,
        base=base,
        forge=forge if open_pr else None,
    )


def undeprecate(
    repo_path: str | os.PathLike[str],
    model: str,
    version: int,
    *,
    author: str,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> Proposal:
    """Remove ``version`` from ``model``'s deprecated list on a branch, and open a PR."""
    _check_names(model)
    git, base_sha, tree = _open_base(repo_path, base, author)
    doc = _model_doc(tree, model, version)
    known = readers.deprecations_of(doc)
    if version not in known:
        listed = ", ".join(f"v{v}" for v in sorted(known)) or "none"
        raise NotFoundError(f"{model} v{version} is not deprecated on {base} (deprecated: {listed})")
    entries = [e for e in doc.get("deprecated") or [] if not (isinstance(e, dict) and e.get("version") == version)]
    if entries:
        doc["deprecated"] = entries
    else:
        del doc["deprecated"]
    title = f"Undeprecate {model} v{version}"
    return _propose(
        git,
        base_sha,
        model,
        version,
        doc,
        title=title,
        message=f"{title}\n",
        body=f"Lifts the deprecation of **{model} v{version}** (it was: {known[version] or '-'}): it may be "
        "promoted and served again.\n",
        branch=f"mlgate/undeprecate-{model}-v{version}",
        kind="undeprecate",
        author=author,
        base=base,
        forge=forge if open_pr else None,
    )


def _propose(
    git: Any,
    base_sha: str,
    model: str,
    version: int,
    doc: dict[str, Any],
    *,
    title: str,
    message: str,
    body: str,
    branch: str,
    kind: str,
    author: str,
    base: str,
    forge: Forge | None,
) -> Proposal:
    return _commit_and_publish(
        git,
        kind=kind,
        base=base,
        base_sha=base_sha,
        files={layout.model_path(model): dump(doc).encode()},
        message=message,
        branch=branch,
        title=title,
        body=body,
        forge=forge,
        author=author,
        labels=[LABEL, "deprecation"],
        version=version,
    )
