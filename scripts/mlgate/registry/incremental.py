"""Building the index from the previous one: only the models that changed since its commit are read again.

``mlgate index --previous OLD`` takes the index built last (a single file, or a sharded folder's index.json; a
path or a URL such as ``s3://bucket/prefix/index.json``)
and asks git which paths under ``registry/`` differ between the commit it records and the ref: a model with
any change there (its model.yaml, an alias, a version) is rebuilt from its manifests, every other model's
entry is taken from the previous index, and the header (commit, serial, stages from policy.yaml, expiry) is
always computed afresh. The result equals a full build of the ref.

What is refused (exit 2) and what falls back to a full build (a note on stderr):

- refused: a previous index whose content does not match its digest, or, when signing, one that is not signed
  by the signing key itself (unsigned, or signed by another key, or altered after signing): an incremental
  build would copy its entries under our signature, so it must be ours;
- a full build, with a note: a previous index that cannot be read or is not an index of the same layout, one
  built by another mlgate version (sharded layout), or one naming a commit this repository does not have (another
  repository, or history rewritten and collected).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from mlgate.core.indexfmt import (
    INDEX_FORMAT,
    INDEX_FORMAT_V2,
    index_canonical,
    index_digest,
    payload_signed_bytes,
    split_envelope,
)
from mlgate.errors import GitError, UsageError
from mlgate.infra.keys import key_id
from mlgate.registry.snapshot import Registry

_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
MAX_PREVIOUS_BYTES = 1 << 30


@dataclass
class Previous:
    """What an incremental build takes from the previous index."""

    commit: str
    #: the previous index's model entries (a single file: whole entries; sharded: top-level entries)
    models: dict[str, Any]
    #: the models to read again: every model with a change under registry/models/<model>/ since ``commit``
    changed: set[str] = field(default_factory=set)
    #: the ref's serial counted from the previous one (None: count it from scratch)
    serial: int | None = None
    #: the parsed top-level payload (sharded layout)
    payload: dict[str, Any] = field(default_factory=dict)


def _read(path: str | os.PathLike[str], notes: list[str], parse: bool = True) -> Any:
    from mlgate.infra.store import bounded, open_uri

    try:
        # a path, file:// or any URL the store reads (s3://...); a malformed URL or a missing package is an error
        with open_uri(os.fspath(path)) as fh:
            raw = b"".join(bounded(fh, MAX_PREVIOUS_BYTES + 1))
    except OSError as e:
        why = e.strerror or str(e)
        notes.append(f"cannot read the previous index {os.fspath(path)} ({why}); building the whole index")
        return None
    if len(raw) > MAX_PREVIOUS_BYTES:
        notes.append(f"the previous index {os.fspath(path)} is over 1 GiB; building the whole index")
        return None
    if not parse:
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        notes.append(f"the previous index {os.fspath(path)} is not JSON; building the whole index")
        return None


def _verify(where: str, signed: bytes, sigs: Any, key: Any) -> None:
    """With a signing key: the previous index must carry that key's valid signature over ``signed``."""
    if key is None:
        return
    from cryptography.exceptions import InvalidSignature

    public = key.public_key()
    ours = key_id(public)
    mine = [s for s in sigs or [] if isinstance(s, dict) and s.get("keyid") == ours and isinstance(s.get("sig"), str)]
    if not mine:
        raise UsageError(
            f"--previous {where}: not signed by the signing key {ours[:16]}; an incremental build copies its "
            "entries under this key's signature, so it must be this key's own index (at a key rotation, or to "
            "start over, build once without --previous)"
        )
    try:
        public.verify(base64.b64decode(mine[0]["sig"], validate=True), signed)
    except (InvalidSignature, binascii.Error, ValueError):
        raise UsageError(
            f"--previous {where}: its signature does not match its content (altered after signing); refusing to "
            "build on it (build without --previous to start over)"
        ) from None


def previous_single(reg: Registry, path: str | os.PathLike[str], key: Any, notes: list[str]) -> Previous | None:
    """The previous single-file index, checked; None (with a note) when a full build must be done instead."""
    where = os.fspath(path)
    data = _read(path, notes)
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("models"), dict):
        notes.append(f"{where} is not a single-file mlgate index ({INDEX_FORMAT}); building the whole index")
        return None
    if data.get("digest") != index_digest(data):
        raise UsageError(
            f"--previous {where}: the content does not match its digest (altered or truncated); refusing it"
        )
    _verify(where, index_canonical(data), data.get("signatures"), key)
    return _diff(reg, where, data, data["models"], key is not None, notes)


def previous_sharded(
    reg: Registry, path: str | os.PathLike[str], key: Any, generator: str, notes: list[str]
) -> Previous | None:
    """The previous sharded index's top level (``DIR/index.json``), checked; None (with a note) for a full build."""
    where = os.fspath(path)
    data = _read(path, notes, parse=False)
    if data is None:
        return None
    split = split_envelope(data)
    if split is None:
        notes.append(
            f"{where} is not a sharded mlgate index's index.json ({INDEX_FORMAT_V2}); building the whole index"
        )
        return None
    data, payload = split
    if data.get("digest") != hashlib.sha256(payload).hexdigest():
        raise UsageError(
            f"--previous {where}: the content does not match its digest (altered or truncated); refusing it"
        )
    _verify(where, payload_signed_bytes(payload), data.get("signatures"), key)
    try:
        top = json.loads(payload)
    except (ValueError, RecursionError):
        raise UsageError(f"--previous {where}: the payload is not JSON; refusing it") from None
    if not isinstance(top, dict) or not isinstance(top.get("models"), dict):
        notes.append(f"{where} has no models; building the whole index")
        return None
    if top.get("generator") != generator:
        notes.append(
            f"{where} was built by {str(top.get('generator'))[:40]!r}, not {generator!r}; building the whole index"
        )
        return None
    found = _diff(reg, where, top, top["models"], key is not None, notes)
    if found is not None:
        found.payload = top
    return found


def _diff(
    reg: Registry, where: str, data: dict[str, Any], models: dict[str, Any], signing: bool, notes: list[str]
) -> Previous | None:
    from mlgate.infra.git import GitTree

    commit = data.get("commit")
    tree = reg.tree
    if not isinstance(tree, GitTree):
        raise UsageError("--previous needs --ref REF: the changes are those between two commits")
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        notes.append(f"{where} records no commit; building the whole index")
        return None
    git = tree.repo
    try:
        git.git("cat-file", "-e", f"{commit}^{{commit}}")
    except GitError:
        notes.append(
            f"{where} was built from commit {commit[:12]}, which this repository does not have (another "
            "repository, or a rewritten history); building the whole index"
        )
        return None
    changes = git.changed_paths(commit, tree.commit, "registry/")
    changed = {p.split("/")[2] for p in changes if p.startswith("registry/models/") and p.count("/") >= 3}
    # registry/policy.yaml changes only the header's stages, which every build reads afresh
    return Previous(commit, models, changed, _serial_from(git, commit, tree.commit, data.get("serial"), signing))


def _serial_from(git: Any, old: str, new: str | None, old_serial: Any, signing: bool) -> int | None:
    """The first-parent commit count of ``new`` from that of ``old`` when ``old`` is on ``new``'s first-parent
    line (the usual case: the previous index was built from an earlier commit of the same branch); None
    otherwise (count from scratch)."""
    if new is None or not isinstance(old_serial, int) or isinstance(old_serial, bool) or old_serial < 0:
        return None
    if signing and git.git("rev-parse", "--is-shallow-repository").strip() == "true":
        return None  # the full count refuses a shallow clone with the reason
    if old == new:
        return old_serial
    lines = git.git("rev-list", "--first-parent", "--parents", f"{old}..{new}").split("\n")
    lines = [line.split() for line in lines if line.strip()]
    if not lines or len(lines[-1]) < 2 or lines[-1][1] != old:
        return None  # old is not on new's first-parent line
    return old_serial + len(lines)
