"""Where things live under registry/, and what a given path is.

This is the one place that knows the folder layout; everything else asks it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Literal

from mlgate.errors import LayoutError as LayoutError  # raised here (and re-exported), defined in mlgate.errors

REGISTRY = "registry"
MODELS = f"{REGISTRY}/models"
POLICY = f"{REGISTRY}/policy.yaml"
#: who is told about the registry's events (mlgate notify); protected like the policy (MG501)
NOTIFICATIONS = f"{REGISTRY}/notifications.yaml"

#: files outside registry/ that decide how a pull request is judged, or how git reads the registry's files:
#: who reviews (CODEOWNERS), what runs (everything under .github/: workflows, the pinned validator in
#: mlgate-requirements.txt, actions), and git's own attribute, submodule and LFS configuration (a
#: ``.gitattributes`` with ``working-tree-encoding`` or a filter changes what a checkout of registry/ holds).
#: Changing any of them needs the policy admins' approval (MG501).
GOVERNANCE_FILES = ("CODEOWNERS", "docs/CODEOWNERS", ".gitmodules", ".lfsconfig")
GOVERNANCE_DIRS = (".github/",)
GOVERNANCE_NAMES = (".gitattributes",)  # at any depth
#: manifests under registry/ that need the admins' approval like policy.yaml: where the registry's events go
GOVERNANCE_MANIFESTS = (NOTIFICATIONS,)
#: what a pull request is judged on: the git pathspecs of registry/ and of every governance file
WATCHED = (REGISTRY + "/", *GOVERNANCE_FILES, *GOVERNANCE_DIRS, *(f":(glob)**/{n}" for n in GOVERNANCE_NAMES))

# A name is a folder or file name and a part of git branch names (``mlgate/promote-<model>-<alias>-v3``), so
# beyond its characters it keeps git's ref rules (``git check-ref-format``): no ``..``, no trailing ``.``, no
# ``.lock`` suffix. The same pattern is ``common.schema.json#/$defs/name``.
# ``\Z``, not ``$``: ``$`` also matches before a trailing newline, and ``"champion\n"`` is not a name.
NAME_PATTERN = r"^(?!.*\.\.)(?!.*\.lock$)[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9_-])?$"
NAME_RE = re.compile(NAME_PATTERN[:-1] + r"\Z")
VERSION_RE = re.compile(r"^[1-9][0-9]{0,8}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")  # an artifact digest, lower-case hex
NAME_RULE = (
    "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 characters, "
    "without '..' and not ending in '.' or '.lock'"
)
#: the one dotfile registry/ may hold: an empty placeholder that keeps a folder in git (mlgate init writes one)
KEEP_FILE = ".gitkeep"
DOC_FILES = {"README.md"}


def is_name(text: str) -> bool:
    """Whether ``text`` is a valid model or alias name (the whole string): also a valid git ref component."""
    return bool(NAME_RE.match(text))


#: alias names MLflow reserves (any case): ``latest`` means a model's newest version, ``v<N>`` its version N
RESERVED_ALIAS_RE = re.compile(r"(?i)(latest|v[0-9]+)\Z")


def reserved_alias(text: str) -> str | None:
    """Why ``text`` may not name an alias although it is a valid name (None when it may): MLflow reserves
    ``latest`` and ``v<N>`` in ``models:/NAME@ALIAS`` URIs, so an alias of that name could never be reached."""
    if not RESERVED_ALIAS_RE.match(text):
        return None
    if text.lower() == "latest":
        return "'latest' is reserved: models:/NAME@latest means the newest version (as in MLflow)"
    return f"{text!r} is reserved: MLflow reserves v<N> alias names for versions (write models:/NAME/{text[1:]})"


def name_problem(text: str) -> str | None:
    """Why ``text`` is not a valid model or alias name, in words (None when it is one)."""
    if is_name(text):
        return None
    if ".." in text:
        return "contains '..' (git refuses it in branch names)"
    if text.endswith(".lock"):
        return "ends in '.lock' (git refuses it in branch names)"
    if text.endswith("."):
        return "ends in '.' (git refuses it in branch names)"
    return f"use {NAME_RULE}"


def is_governance(path: str) -> bool:
    """Whether a change to ``path`` (other than policy.yaml) needs the policy admins' approval."""
    return (
        path in GOVERNANCE_FILES
        or path in GOVERNANCE_MANIFESTS
        or path.startswith(GOVERNANCE_DIRS)
        or path.rsplit("/", 1)[-1] in GOVERNANCE_NAMES
    )


def version_of(path: str) -> tuple[str, int] | None:
    """The (model, version) whose folder holds ``path``, read from the path alone: whatever the file is.

    Immutability asks this, not :func:`classify`, so that a file with no place in the layout (a
    ``.gitattributes``, a stray name) added to a merged version is still a change to that version.
    """
    parts = path.split("/")
    if len(parts) >= 6 and parts[:2] == [REGISTRY, "models"] and parts[3] == "versions" and VERSION_RE.match(parts[4]):
        return parts[2], int(parts[4])
    return None


def segment_problem(name: str) -> str | None:
    """Why a file or folder name under registry/ is refused, or None: control characters, non-NFC text."""
    if name.isascii() and name.isprintable():
        return None  # printable ASCII is neither a control/format character nor anything but NFC
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "contains a control or invisible formatting character"
    if unicodedata.normalize("NFC", name) != name:
        return "is not in Unicode normal form C (NFC)"
    return None


def version_numbers(names: Iterable[str]) -> list[int]:
    """The entries of a ``versions/`` folder that are version folders, as sorted numbers."""
    return sorted(int(n) for n in names if VERSION_RE.match(n))


def alias_names(names: Iterable[str]) -> list[str]:
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


#: the folder of a model's online evidence: ``online/<alias>/<candidate>.yaml`` (mutable, outside the versions)
ONLINE = "online"


def online_path(model: str, alias: str, candidate: int) -> str:
    """Where the live evidence of rolling ``candidate`` out to ``alias`` lives (an OnlineEvaluation)."""
    return f"{MODELS}/{model}/{ONLINE}/{alias}/{candidate}.yaml"


def card_path(model: str, version: int) -> str:
    return f"{version_dir(model, version)}/card.md"


#: what a path under registry/ is
Role = Literal["policy", "notifications", "model", "alias", "version", "eval", "evidence", "online", "doc", "ignored"]
#: the manifest kinds, one per file name
ManifestKind = Literal["Policy", "Notifications", "Model", "ModelVersion", "EvalResult", "Alias", "OnlineEvaluation"]


@dataclass(frozen=True)
class Place:
    """What a path under registry/ is.

    ``role`` is one of: policy, notifications, model, alias, version, eval, evidence, online, doc,
    ignored. ``kind`` is the manifest kind the file must hold (None for files
    that are not manifests).
    """

    role: Role
    kind: ManifestKind | None = None
    model: str | None = None
    alias: str | None = None
    version: int | None = None


def _check_name(value: str, what: str) -> None:
    problem = name_problem(value)
    if problem:
        raise LayoutError(f"{value!r} is not a valid {what} name: {problem}")


def classify(path: str) -> Place:
    """What the file at ``path`` (relative to the repository root) is; raises :class:`LayoutError`."""
    parts = path.split("/")
    if parts[0] != REGISTRY:
        raise LayoutError("not under registry/")
    for segment in parts[1:]:
        problem = segment_problem(segment)
        if problem:
            raise LayoutError(f"the name {segment!r} {problem}")
    if parts[-1] == KEEP_FILE and version_of(path) is None:
        return Place("ignored")
    if any(segment.startswith(".") for segment in parts[1:]):
        raise LayoutError(
            "dotfiles have no place in registry/ (git reads .gitattributes and the like as "
            "configuration); only .gitkeep is allowed, outside version folders"
        )
    rest = parts[1:]
    if rest == ["policy.yaml"]:
        return Place("policy", "Policy")
    if rest == ["notifications.yaml"]:
        return Place("notifications", "Notifications")
    if len(rest) == 1 and rest[0] in DOC_FILES:
        return Place("doc")
    if len(rest) < 3 or rest[0] != "models":
        raise LayoutError(
            "unexpected file: registry/ holds policy.yaml, notifications.yaml, README.md and models/<model>/..."
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
        reserved = reserved_alias(stem)
        if reserved:
            raise LayoutError(f"{stem!r} may not name an alias: {reserved}")
        return Place("alias", "Alias", model, alias=stem)
    if tail[0] == ONLINE and len(tail) == 3:
        _check_name(tail[1], "alias")
        stem, dot, ext = tail[2].rpartition(".")
        if not dot or ext != "yaml" or not VERSION_RE.match(stem):
            raise LayoutError(
                f"{tail[2]!r} is not an online evaluation file: expected online/<alias>/<candidate version>.yaml"
            )
        return Place("online", "OnlineEvaluation", model, alias=tail[1], version=int(stem))
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
        "unexpected file: a model folder holds model.yaml, aliases/<alias>.yaml, versions/<n>/... and "
        "online/<alias>/<candidate>.yaml"
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
