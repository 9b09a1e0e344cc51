"""Where things live under registry/, and what a given path is.

This is the one place that knows the folder layout; everything else asks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REGISTRY = "registry"
MODELS = f"{REGISTRY}/models"
POLICY = f"{REGISTRY}/policy.yaml"

#: files outside registry/ that decide who may approve what: changing them needs the policy admins' approval
GOVERNANCE = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".github/workflows/")
#: everything a pull request is judged on
WATCHED = (REGISTRY + "/", *GOVERNANCE)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}$")
NAME_RULE = "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 characters"
#: files allowed anywhere for repository hygiene, and never validated
IGNORED_FILES = {".gitkeep", ".gitattributes"}
DOC_FILES = {"README.md"}


def is_governance(path: str) -> bool:
    return path in GOVERNANCE or any(g.endswith("/") and path.startswith(g) for g in GOVERNANCE)


def version_numbers(names: object) -> list[int]:
    """The entries of a ``versions/`` folder that are version folders, as sorted numbers."""
    return sorted(int(n) for n in names if VERSION_RE.match(n))


def alias_names(names: object) -> list[str]:
    """The entries of an ``aliases/`` folder that are alias files, as sorted alias names."""
    return sorted(n[:-5] for n in names if n.endswith(".yaml") and NAME_RE.match(n[:-5]))


def model_dir(model: str) -> str:
    return f"{MODELS}/{model}"


def model_path(model: str) -> str:
    return f"{MODELS}/{model}/model.yaml"


def alias_path(model: str, alias: str) -> str:
    return f"{MODELS}/{model}/aliases/{alias}.yaml"


def version_dir(model: str, version: int) -> str:
    return f"{MODELS}/{model}/versions/{version}"


def version_path(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/version.yaml"


def eval_path(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/eval.yaml"


def card_path(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/card.md"


@dataclass(frozen=True)
class Place:
    """What a path under registry/ is.

    ``role`` is one of: policy, model, alias, version, eval, evidence, doc,
    ignored. ``kind`` is the manifest kind the file must hold (None for files
    that are not manifests).
    """

    role: str
    kind: str | None = None
    model: str | None = None
    alias: str | None = None
    version: int | None = None


class LayoutError(ValueError):
    """A path that has no place in the registry layout (rule MG201)."""


def _check_name(value: str, what: str) -> None:
    if not NAME_RE.match(value):
        raise LayoutError(f"{value!r} is not a valid {what} name: use {NAME_RULE}")


def classify(path: str) -> Place:
    """What the file at ``path`` (relative to the repository root) is; raises :class:`LayoutError`."""
    parts = path.split("/")
    if parts[0] != REGISTRY:
        raise LayoutError("not under registry/")
    if parts[-1] in IGNORED_FILES:
        return Place("ignored")
    rest = parts[1:]
    if rest == ["policy.yaml"]:
        return Place("policy", "Policy")
    if len(rest) == 1 and rest[0] in DOC_FILES:
        return Place("doc")
    if len(rest) < 3 or rest[0] != "models":
        raise LayoutError(
            "unexpected file: registry/ holds policy.yaml, README.md and models/<model>/..."
        )
    model = rest[1]
    _check_name(model, "model")
    tail = rest[2:]
    if tail == ["model.yaml"]:
        return Place("model", "Model", model)
    if len(tail) == 1 and tail[0] in DOC_FILES:
        return Place("doc", model=model)
    if tail[0] == "aliases" and len(tail) == 2:
        stem, dot, ext = tail[1].rpartition(".")
        if not dot or ext != "yaml":
            raise LayoutError(f"{tail[1]!r} is not an alias file: expected aliases/<alias>.yaml")
        _check_name(stem, "alias")
        return Place("alias", "Alias", model, alias=stem)
    if tail[0] == "versions" and len(tail) >= 3:
        if not VERSION_RE.match(tail[1]):
            raise LayoutError(
                f"{tail[1]!r} is not a valid version folder: expected a positive integer without leading zeros"
            )
        version = int(tail[1])
        inner = tail[2:]
        if inner == ["version.yaml"]:
            return Place("version", "ModelVersion", model, version=version)
        if inner == ["eval.yaml"]:
            return Place("eval", "EvalResult", model, version=version)
        return Place("evidence", None, model, version=version)
    raise LayoutError(
        "unexpected file: a model folder holds model.yaml, aliases/<alias>.yaml and versions/<n>/..."
    )


def safe_relative(path: str) -> str | None:
    """Why ``path`` (relative, from a manifest) could leave its folder, or None if it cannot."""
    if not path or path.strip() != path:
        return "is empty or has leading/trailing whitespace"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is absolute"
    if "\\" in path:
        return "uses '\\' (use '/' separators)"
    if any(ord(c) < 32 for c in path):
        return "contains control characters"
    segments = path.split("/")
    if any(s in ("", ".", "..") for s in segments):
        return "has an empty, '.' or '..' segment"
    return None
