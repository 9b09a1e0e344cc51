"""The serving index: one JSON file with every model's aliases, rollouts and artifacts, signed with ed25519.

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
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mlgate.core.indexfmt import (
    ARTIFACT_FIELDS,
    INDEX_FORMAT_V2,
    SHARD_FORMAT,
    SHARDS_DIR,
    TOP_LEVEL,
    canonical_json,
    envelope_bytes,
    index_canonical,
    index_digest,
    payload_signed_bytes,
    shard_path,
)
from mlgate.core.indexfmt import INDEX_FORMAT as FORMAT
from mlgate.core.times import format_time
from mlgate.errors import GitError, UsageError
from mlgate.infra.files import write_json
from mlgate.infra.keys import KeyPair as KeyPair  # re-exported
from mlgate.infra.keys import generate_key as generate_key  # re-exported
from mlgate.infra.keys import key_id
from mlgate.infra.keys import load_signing_key as load_signing_key  # re-exported
from mlgate.registry.prefetch import prefetched
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


def model_entry(reg: Registry, name: str) -> dict[str, Any]:
    """One model's entry in the index (every version, schema-checked on the way)."""
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
    aliases = reg.aliases(name)
    # only the aliases with a rollout under way, and no key at all without one: an index of a registry with
    # no rollout is byte for byte what it was before rollouts existed
    rollouts = {a: al.rollout.to_manifest() for a, al in aliases.items() if al.rollout is not None}
    return {
        "aliases": {a: al.version for a, al in aliases.items()},
        **({"rollouts": rollouts} if rollouts else {}),
        "deprecated": sorted(d.version for d in model.deprecated),
        "versions": versions,
        "description": model.description,
        "owners": list(model.owners),
        **({"tags": dict(model.tags)} if model.tags else {}),
    }


def _check_signing(key: Any, ref: str | None) -> None:
    if key is not None and ref is None:
        raise UsageError(
            "signing needs --ref REF: a signed index describes a commit (its serial is that commit's "
            "first-parent count), not a working tree"
        )


def _header(reg: Registry, serial: int, now: datetime | None, expires_in: timedelta | str) -> dict[str, Any]:
    span = parse_duration(expires_in) if isinstance(expires_in, str) else expires_in
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "commit": reg.tree.commit,
        "source": reg.tree.label,
        "serial": serial,
        "generated_at": format_time(now),
        "expires": format_time(now + span),
        "stages": reg.stages(),
    }


def build_index(
    repo_path: str | os.PathLike[str] = ".",
    ref: str | None = None,
    *,
    key: Any = None,
    expires_in: timedelta | str = DEFAULT_EXPIRES_IN,
    now: datetime | None = None,
    previous: str | os.PathLike[str] | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The index of the registry at ``ref`` (or the working tree). Every manifest is schema-checked on the way.

    With ``key`` (an ed25519 private key, see :func:`load_signing_key`) it is signed; signing needs ``ref``, since
    the serial counts that commit's first-parent history. ``expires_in`` counts from ``now`` (default: now).

    ``previous``: an index (this single-file layout) built earlier from this repository: only the models that
    changed since its commit are read again (see :mod:`mlgate.registry.incremental`); why it could not be used,
    if so, is appended to ``notes`` and the whole registry is read.
    """
    _check_signing(key, ref)
    reg = Registry.open(repo_path, ref)
    models: dict[str, Any]
    base = None
    if previous is not None:
        from mlgate.registry.incremental import previous_single

        base = previous_single(reg, previous, key, notes if notes is not None else [])
    if base is not None:
        models = {}
        for name in reg.model_names():
            models[name] = model_entry(reg, name) if name in base.changed else base.models[name]
    else:  # every manifest read: read ahead from git in one round
        reg = prefetched(reg)
        models = {name: model_entry(reg, name) for name in reg.model_names()}
    serial = base.serial if base is not None and base.serial is not None else _serial(reg, repo_path, key is not None)
    data: dict[str, Any] = {"format": FORMAT, **_header(reg, serial, now, expires_in), "models": models}
    data["digest"] = index_digest(data)
    return sign_index(data, key) if key is not None else data


def sign_index(data: dict[str, Any], key: Any) -> dict[str, Any]:
    """``data`` with one ed25519 signature by ``key`` over :func:`mlgate.serving.index_canonical` (replacing any)."""
    signature = key.sign(index_canonical(data))
    return {**data, "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}]}


def write_index(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write atomically: serving never sees half an index. ``path``: a file, or an fsspec URL (``s3://...``,
    see :mod:`mlgate.registry.remote_index`)."""
    from mlgate.infra.store import is_remote

    if is_remote(path):
        from mlgate.registry.remote_index import put_single

        text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        put_single(text.encode("utf-8", "surrogatepass"), os.fspath(path))
        return
    target = local_path(path)
    if (target.exists() or target.is_symlink()) and (target.is_symlink() or not target.is_file()):
        from mlgate.errors import UsageError

        raise UsageError(
            f"{target} exists and is not a regular file (a device, folder or symlink): "
            "the index replaces only a regular file"
        )
    write_json(target, data)


# --- the sharded layout ----------------------------------------------------------------------------------


def generator() -> str:
    """The builder recorded in a sharded index: an incremental build reuses entries only from the same one."""
    from mlgate import __version__

    return f"mlgate {__version__}"


@dataclass
class ShardedIndex:
    """A sharded index: the signed top level (``envelope``, written as DIR/index.json) and the shards to write
    (model -> bytes; an incremental build holds only the changed models')."""

    payload: dict[str, Any]
    #: the bytes of DIR/index.json
    envelope: bytes
    digest: str
    keyid: str | None
    shards: dict[str, bytes] = field(default_factory=dict)
    #: the folder (a path or URL) of the previous index, whose shards the unchanged models' entries name
    previous_base: str | None = None
    #: the previous index's payload (what it names is kept one generation)
    previous_payload: dict[str, Any] | None = None

    @property
    def models(self) -> dict[str, Any]:
        models: dict[str, Any] = self.payload["models"]
        return models


def shard_of(name: str, entry: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A model's top-level entry and its shard: the shard is the whole entry; the top level keeps what resolving
    an alias needs (aliases, rollouts, deprecated versions, the versions they name) and the shard's sha256."""
    shard = canonical_json({"format": SHARD_FORMAT, "model": name, **entry})
    digest = hashlib.sha256(shard).hexdigest()
    named = set(entry["aliases"].values()) | {r["candidate"] for r in entry.get("rollouts", {}).values()}
    held = {
        str(v): {k: entry["versions"][str(v)][k] for k in ARTIFACT_FIELDS}
        for v in sorted(named)
        if str(v) in entry["versions"]
    }
    top = {
        "aliases": entry["aliases"],
        **({"rollouts": entry["rollouts"]} if "rollouts" in entry else {}),
        # none at all when no version is deprecated (most models): a reader takes that as [], and a cold start
        # parses, keeps and frees one list fewer per model
        **({"deprecated": entry["deprecated"]} if entry["deprecated"] else {}),
        "versions": held,
        "shard": {"sha256": digest, "size": len(shard)},
    }
    return top, shard


def build_sharded(
    repo_path: str | os.PathLike[str] = ".",
    ref: str | None = None,
    *,
    key: Any = None,
    expires_in: timedelta | str = DEFAULT_EXPIRES_IN,
    now: datetime | None = None,
    previous: str | os.PathLike[str] | None = None,
    notes: list[str] | None = None,
) -> ShardedIndex:
    """The sharded index of the registry at ``ref``: a signed top level and one shard per model (see
    :mod:`mlgate.core.indexfmt`). ``previous``: the index.json of the sharded index built last, to rebuild only
    the models that changed since its commit (see :mod:`mlgate.registry.incremental`)."""
    _check_signing(key, ref)
    reg = Registry.open(repo_path, ref)
    base = None
    if previous is not None:
        from mlgate.registry.incremental import previous_sharded

        base = previous_sharded(reg, previous, key, generator(), notes if notes is not None else [])
    if base is None:  # every manifest read: read ahead from git in one round
        reg = prefetched(reg)
    models: dict[str, Any] = {}
    shards: dict[str, bytes] = {}
    for name in reg.model_names():
        if base is not None and name not in base.changed and name in base.models:
            reused = base.models[name]
            if "deprecated" in reused and not reused["deprecated"]:  # as shard_of writes it now
                reused = {k: v for k, v in reused.items() if k != "deprecated"}
            models[name] = reused
            continue
        models[name], shards[name] = shard_of(name, model_entry(reg, name))
    serial = base.serial if base is not None and base.serial is not None else _serial(reg, repo_path, key is not None)
    payload = {"format": INDEX_FORMAT_V2, "generator": generator(), **_header(reg, serial, now, expires_in)}
    payload["models"] = models
    text = canonical_json(payload)
    signatures, keyid = None, None
    if key is not None:
        keyid = key_id(key.public_key())
        signatures = [{"keyid": keyid, "sig": base64.b64encode(key.sign(payload_signed_bytes(text))).decode()}]
    return ShardedIndex(
        payload,
        envelope_bytes(text, signatures),
        hashlib.sha256(text).hexdigest(),
        keyid,
        shards,
        _parent(os.fspath(previous)) if base is not None and previous else None,
        base.payload if base is not None else None,
    )


def write_sharded(index: ShardedIndex, folder: str | os.PathLike[str]) -> None:
    """Write a sharded index into ``folder`` (or an fsspec URL: see :mod:`mlgate.registry.remote_index`): the new
    shards first (content-addressed, so nothing a replica reads changes under it), then index.json atomically,
    then the shards neither it nor the index.json it replaced names (of the models that changed: a replica that
    read the previous index.json still finds its shards).

    The unchanged models' shards are kept in place, or copied from the previous index's folder (their sha256
    checked) when ``folder`` is another one."""
    from mlgate.infra.files import write_atomic
    from mlgate.infra.store import is_remote

    if is_remote(folder):
        from mlgate.registry.remote_index import put_sharded

        put_sharded(index, os.fspath(folder))
        return
    root = local_path(folder)
    top = root / TOP_LEVEL
    check_folder(root)
    previous = (
        None if index.previous_base is None or is_remote(index.previous_base) else local_path(index.previous_base)
    )
    same = previous is not None and previous.resolve() == root.resolve()
    replaced = _names_in(top, index.previous_payload if same else None)
    for name, shard in index.shards.items():
        target = root / shard_path(name, index.models[name]["shard"]["sha256"])
        if not _holds(target, len(shard)):
            write_atomic(target, shard, durable=False)
    if index.previous_base is not None and not same:
        for name, entry in index.models.items():
            if name not in index.shards:
                _copy_shard(index.previous_base, root, name, entry["shard"])
    write_atomic(top, index.envelope)
    changed = index.shards if index.previous_base is not None else index.models
    for name in changed:
        keep = {f"{index.models[name]['shard']['sha256']}.json", *(replaced.get(name, ()))}
        for old in (root / SHARDS_DIR / name).glob("*.json"):
            if old.name not in keep:
                old.unlink(missing_ok=True)
    _prune_removed(root, index.models, replaced)


def check_folder(folder: str | os.PathLike[str]) -> None:
    """Refuse, before anything is built, an output folder a sharded index cannot be written into (a URL: only
    that its store's package is installed, the store says the rest when written)."""
    from mlgate.infra.store import is_remote

    if is_remote(folder):
        check_output(folder)
        return
    root = local_path(folder)
    top = root / TOP_LEVEL
    if root.exists() and not root.is_dir() or root.is_symlink():
        raise UsageError(f"{root} is not a folder: a sharded index is written into a folder (-o DIR)")
    if top.is_symlink() or top.exists() and not top.is_file():
        raise UsageError(f"{top} exists and is not a regular file: the index replaces only a regular file")


def check_output(target: str | os.PathLike[str]) -> None:
    """Refuse, before anything is built, an object-store URL whose package is missing or that is malformed
    (:class:`mlgate.errors.StoreError`); a local path is checked when written."""
    from mlgate.infra.store import filesystem, is_remote

    if is_remote(target):
        url = os.fspath(target)
        filesystem(url, needs=f"writing the index to {url} needs", cannot=f"cannot write the index to {url}")


def _holds(target: Path, size: int) -> bool:
    try:
        return target.is_file() and not target.is_symlink() and target.stat().st_size == size
    except OSError:
        return False


def _copy_shard(source: str, root: Path, name: str, shard: dict[str, Any]) -> None:
    from mlgate.infra.files import write_atomic
    from mlgate.registry.remote_index import read_shard

    target = root / shard_path(name, shard["sha256"])
    if _holds(target, shard["size"]):
        return
    write_atomic(target, read_shard(source, name, shard), durable=False)


def local_path(target: str | os.PathLike[str]) -> Path:
    """A local path, also given as a ``file://`` URL."""
    text = os.fspath(target)
    if text.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(text).path))
    return Path(text)


def _parent(location: str) -> str:
    """The folder of a path or URL (that of a sharded index's index.json)."""
    from mlgate.infra.store import is_remote

    return location.rstrip("/").rsplit("/", 1)[0] if is_remote(location) else str(local_path(location).parent)


def _names_in(top: Path, payload: dict[str, Any] | None) -> dict[str, set[str]]:
    """The shard file names the index.json about to be replaced names, per model (nothing if unreadable);
    ``payload``: its content, when the caller has parsed it already."""
    from mlgate.core.indexfmt import split_envelope

    try:
        if payload is None:
            split = split_envelope(top.read_bytes())
            if split is None:
                return {}
            payload = json.loads(split[1])
        return {m: {f"{e['shard']['sha256']}.json"} for m, e in payload["models"].items()}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def _prune_removed(root: Path, models: dict[str, Any], replaced: dict[str, set[str]]) -> None:
    """The shard folders of models neither index names any more (one scandir: no stat per model)."""
    import shutil

    try:
        with os.scandir(root / SHARDS_DIR) as entries:
            gone = [
                e.path
                for e in entries
                if e.name not in models and e.name not in replaced and e.is_dir(follow_symlinks=False)
            ]
    except OSError:
        return
    for folder in gone:
        shutil.rmtree(folder, ignore_errors=True)
