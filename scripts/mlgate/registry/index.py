"""The serving index: one JSON file with every model's aliases and artifacts, signed with ed25519.

``mlgate index`` writes it from a validated registry (publish.yml does so on every push to main, and daily to
re-sign it before it expires); :mod:`mlgate.serving` reads it, checks the digest and, given the public keys,
the signature, the expiry and the serial, and resolves without parsing any YAML.

What a signed index carries besides the models:

``serial``
    the first-parent commit count of the ref (``git rev-list --count --first-parent REF``): it grows with every
    merge, so serving refuses an index older than one it has accepted (a replay or rollback).
``expires``
    a UTC time (``--expires-in``, default 7 days): serving refuses it afterwards (a frozen mirror).
``signatures``
    ``[{"keyid": sha256 of the raw public key, "sig": base64 ed25519 signature}]`` over
    :func:`mlgate.serving.index_canonical` (everything but ``digest`` and ``signatures``).
"""

from __future__ import annotations

import base64
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mlgate.core.indexfmt import INDEX_FORMAT as FORMAT
from mlgate.core.indexfmt import index_canonical, index_digest
from mlgate.core.times import format_time
from mlgate.errors import GitError, UsageError
from mlgate.infra.files import write_json
from mlgate.infra.keys import KeyPair as KeyPair  # re-exported
from mlgate.infra.keys import generate_key as generate_key  # re-exported
from mlgate.infra.keys import key_id
from mlgate.infra.keys import load_signing_key as load_signing_key  # re-exported
from mlgate.registry.snapshot import Registry

DEFAULT_EXPIRES_IN = "7d"
MAX_EXPIRES_IN = timedelta(days=365)
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``...: a positive number and a unit (s, m, h, d), at most 365 days."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise UsageError(f"--expires-in {text!r}: expected a positive number and a unit s, m, h or d (e.g. 12h, 7d)")
    span = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    if span > MAX_EXPIRES_IN:
        raise UsageError(f"--expires-in {text!r}: at most 365d (re-sign more often instead)")
    return span


# --- keys ------------------------------------------------------------------------------------------------


# --- the index -------------------------------------------------------------------------------------------


def _serial(reg: Registry, repo_path: str | os.PathLike[str], signing: bool) -> int:
    """The first-parent commit count of the indexed commit (of HEAD for a working tree; 0 outside git)."""
    from mlgate.infra.git import GitRepo, GitTree

    try:
        git = reg.tree.repo if isinstance(reg.tree, GitTree) else GitRepo(repo_path)
        commit = reg.tree.commit or git.resolve("HEAD")
        if signing and git.git("rev-parse", "--is-shallow-repository").strip() == "true":
            raise UsageError(
                "the repository is a shallow clone, so its commit count (the index's serial) would be wrong; "
                "fetch the whole history (actions/checkout: fetch-depth: 0)"
            )
        return int(git.git("rev-list", "--count", "--first-parent", commit).strip())
    except GitError:
        if signing:
            raise
        return 0


def build_index(
    repo_path: str | os.PathLike[str] = ".",
    ref: str | None = None,
    *,
    key: Any = None,
    expires_in: timedelta | str = DEFAULT_EXPIRES_IN,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The index of the registry at ``ref`` (or the working tree). Every manifest is schema-checked on the way.

    With ``key`` (an ed25519 private key, see :func:`load_signing_key`) it is signed; signing needs ``ref``, since
    the serial counts that commit's first-parent history. ``expires_in`` counts from ``now`` (default: now).
    """
    if key is not None and ref is None:
        raise UsageError(
            "signing needs --ref REF: a signed index describes a commit (its serial is that commit's "
            "first-parent count), not a working tree"
        )
    span = parse_duration(expires_in) if isinstance(expires_in, str) else expires_in
    reg = Registry.open(repo_path, ref)
    models: dict[str, Any] = {}
    for name in reg.model_names():
        model = reg.model(name)
        versions = {}
        for n in reg.version_numbers(name):
            v = reg.version(name, n)
            versions[str(n)] = {
                "uri": v.artifact.uri,
                "sha256": v.artifact.sha256,
                "size": v.artifact.size,
                "format": v.artifact.format,
                "created_at": v.created_at,
                "created_by": v.created_by,
                "run_id": v.lineage.get("run_id"),
                **({"description": v.description} if v.description else {}),
                **({"tags": dict(v.tags)} if v.tags else {}),
            }
        models[name] = {
            "aliases": {a: al.version for a, al in reg.aliases(name).items()},
            "deprecated": sorted(d.version for d in model.deprecated),
            "versions": versions,
            "description": model.description,
            "owners": list(model.owners),
            **({"tags": dict(model.tags)} if model.tags else {}),
        }
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    data: dict[str, Any] = {
        "format": FORMAT,
        "commit": reg.tree.commit,
        "source": reg.tree.label,
        "serial": _serial(reg, repo_path, key is not None),
        "generated_at": format_time(now),
        "expires": format_time(now + span),
        "stages": reg.stages(),
        "models": models,
    }
    data["digest"] = index_digest(data)
    return sign_index(data, key) if key is not None else data


def sign_index(data: dict[str, Any], key: Any) -> dict[str, Any]:
    """``data`` with one ed25519 signature by ``key`` over :func:`mlgate.serving.index_canonical` (replacing any)."""
    signature = key.sign(index_canonical(data))
    return {**data, "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}]}


def write_index(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write atomically: serving never sees half an index."""
    target = Path(path)
    if (target.exists() or target.is_symlink()) and (target.is_symlink() or not target.is_file()):
        from mlgate.errors import UsageError

        raise UsageError(
            f"{target} exists and is not a regular file (a device, folder or symlink): "
            "the index replaces only a regular file"
        )
    write_json(target, data)
