"""Serving: resolve ``models:/`` URIs from the registry and fetch verified artifacts, with a light import.

    from mlgate import serving
    source = serving.open_source("registry-index.json")      # or a checkout, or "git+https://host/repo.git#main"
    model = serving.resolve("models:/fraud-detector@champion", source)
    path = serving.fetch(model)                              # sha256-verified, cached by digest

Importing this module loads neither click, PyGithub, jsonschema nor the validator (``cryptography`` is
imported only when an index is checked against trusted keys). The bytes a model is loaded from are always
the ones the registry approved: :func:`fetch` refuses anything whose sha256 or size differs, reads no
more than the recorded size plus one byte, and leaves nothing in the cache when it does.

During a progressive rollout (an alias file's ``rollout:`` block) every replica splits traffic alike, with no
coordination: a request key (a user id) hashes to the same arm everywhere and after every restart::

    arms = serving.arms("models:/fraud-detector@champion", source)   # holder and candidate, resolved once
    model = arms.route(user_id)            # the candidate for a canary's share of keys, else the holder
    if arms.shadow and arms.mirror(user_id): ...   # shadow mode: also score with arms.shadow, never answer with it

An index source is authenticated only when it is given the publisher's public keys::

    source = serving.open_source("registry-index.json", trusted_keys=["/etc/mlgate/index-key.pub"])

It then refuses an unsigned index, one signed by another key or altered after signing, an expired one
(a frozen mirror) and one older than the newest it has accepted (a replay or rollback), each with its own
:class:`IndexRefused` subclass. Without trusted keys the index's own digest is checked, which detects
corruption but not an attacker (anyone can recompute a digest).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import time as _time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Mapping, NamedTuple, Protocol

from mlgate.core.indexfmt import (
    INDEX_FORMAT,
    INDEX_FORMAT_V2,
    SHARD_FORMAT,
    index_canonical,
    index_digest,
    payload_signed_bytes,
    shard_path,
    split_envelope,
)
from mlgate.core.layout import NAME_RE, SHA256_RE, VERSION_RE, alias_names, version_numbers
from mlgate.core.rollout import ROLLOUT_MODES, Rollout, RolloutChange, classify, to_candidate
from mlgate.core.uris import DEFAULT_STAGES, ModelRef, parse_uri, plain_alias, version_named
from mlgate.errors import (
    ArtifactIntegrityError,
    ArtifactPathNotFound,
    DeprecatedVersion,
    IndexBadSignature,
    IndexDigestMismatch,
    IndexExpired,
    IndexRefused,
    IndexRollback,
    IndexUnsigned,
    IndexUntrustedKey,
    InputError,
    ManifestError,
    RolloutCandidateRefused,
    RolloutKeyError,
    ServingError,
    SourceUnavailable,
    StoreError,
    UnknownAlias,
    UnknownModel,
    UnknownVersion,
)
from mlgate.infra.store import fsspec_package, open_uri, sha256_of

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from mlgate.infra.git import ObjectReader
    from mlgate.infra.keys import TrustedKey, key_id, load_public_key  # re-exported lazily: see __getattr__

INDEX_MAX_BYTES = 256 << 20  # an index larger than this is refused unread
MANIFEST_MAX_BYTES = 1 << 20  # the validator's limit for one manifest (mlgate.yamlio.MAX_BYTES)
_MAX_INT = (1 << 63) - 1
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO, getattr(errno, "EMLINK", errno.ELOOP))

__all__ = [
    "AliasMove",
    "Arms",
    "ArtifactIntegrityError",
    "ArtifactPathNotFound",
    "DeprecatedVersion",
    "GitSource",
    "INDEX_FORMAT",
    "INDEX_FORMAT_V2",
    "INDEX_MAX_BYTES",
    "IndexBadSignature",
    "IndexDigestMismatch",
    "IndexExpired",
    "IndexRefused",
    "IndexRollback",
    "IndexSource",
    "IndexUnsigned",
    "IndexUntrustedKey",
    "MANIFEST_MAX_BYTES",
    "ModelRef",
    "ResolvedModel",
    "Rollout",
    "RolloutCandidateRefused",
    "RolloutKeyError",
    "ServingError",
    "Source",
    "SourceUnavailable",
    "StoreError",
    "TIME_FORMAT",
    "TrustedKey",
    "UnknownAlias",
    "UnknownModel",
    "UnknownVersion",
    "Watcher",
    "WorkTreeSource",
    "arms",
    "cache_path",
    "fetch",
    "fsspec_package",
    "unpack",
    "index_canonical",
    "index_digest",
    "key_id",
    "load_public_key",
    "mirror",
    "open_source",
    "parse_time",
    "parse_uri",
    "resolve",
    "route",
    "shadow",
    "watch",
]


@dataclass(frozen=True)
class ResolvedModel:
    """What a ``models:/`` URI points at: the version and its artifact, as the registry recorded them.

    ``rollout`` is the rollout under way on the URI's alias (``@ALIAS``, or the alias a stage stands for), or
    None. :func:`resolve` returns the holder (the version the alias points at); :func:`route` returns the holder
    or the candidate for a request key, and :attr:`arm` says which.
    """

    uri: str
    name: str
    alias: str | None
    version: int
    artifact_uri: str
    sha256: str
    size: int
    format: str
    commit: str | None
    manifest: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: a file or folder inside the artifact the URI ended in (``models:/NAME/3/MLmodel``), or ""
    path: str = ""
    #: the rollout under way on the alias (candidate, mode canary or shadow, percent), or None
    rollout: Rollout | None = None

    @property
    def arm(self) -> str | None:
        """``"candidate"`` or ``"holder"`` when a rollout is under way on the alias (log it with each request:
        it is what the online evaluation counts per arm), None otherwise."""
        if self.rollout is None:
            return None
        return "candidate" if self.version == self.rollout.candidate else "holder"


_new_object = object.__new__


@dataclass(frozen=True)
class AliasMove:
    """An alias that changed between two polls of a source (``new`` None: removed): its version, its rollout, or
    both. ``old_rollout``/``new_rollout`` are the rollout before and after (None: none under way), so a plain
    promotion compares equal to ``AliasMove(model, alias, old, new)`` as it always did.

    :attr:`kind` says what happened: ``"move"`` (the version changed, no rollout on either side), or a rollout's
    ``"start"``, ``"step"`` (up or down), ``"complete"`` or ``"abort"``. A ``git revert`` of a change is reported
    as the inverse move (old and new swapped): reverting a start is an abort, a step down mirrors a step up,
    reverting an abort restarts the rollout, and reverting a completion gives the alias back to the holder with
    the rollout at its last share (a ``"start"``).
    """

    model: str
    alias: str
    old: int | None
    new: int | None
    old_rollout: Rollout | None = None
    new_rollout: Rollout | None = None

    @property
    def rollout_change(self) -> RolloutChange | None:
        """What the move does to a rollout (:func:`mlgate.core.rollout.classify`), None for a plain move."""
        return classify(self.old, self.old_rollout, self.new, self.new_rollout)

    @property
    def kind(self) -> str:
        """``"move"``, ``"start"``, ``"step"``, ``"complete"`` or ``"abort"`` (an alias removed is a move)."""
        change = self.rollout_change
        return "move" if change is None or self.new is None else change.kind

    def inverse(self) -> AliasMove:
        """The move that undoes this one (what a ``git revert`` of its merge reports)."""
        return AliasMove(self.model, self.alias, self.new, self.old, self.new_rollout, self.old_rollout)


# --- keys and signatures (cryptography is imported only here, when an index is checked) ------------------


def _trusted_keys(keys: Iterable[TrustedKey]) -> dict[str, Any]:
    from mlgate.infra.keys import key_id, load_public_key

    if isinstance(keys, (str, bytes, bytearray, os.PathLike)):
        keys = [keys]
    loaded = [load_public_key(k) for k in keys]
    if not loaded:
        raise ServingError("trusted_keys is empty: pass at least one public key, or None to skip authentication")
    return {key_id(k): k for k in loaded}


def _check_signature(data: Mapping[str, Any], keys: Mapping[str, Any], where: str, message: bytes | None = None) -> str:
    """The id of the trusted key whose signature covers ``data``; an :class:`IndexRefused` otherwise."""
    from cryptography.exceptions import InvalidSignature

    sigs = data.get("signatures")
    if sigs is None or sigs == []:
        raise IndexUnsigned(
            f"{where} is not signed; refusing it (trusted keys were given: sign it with mlgate index --key)"
        )
    if (
        not isinstance(sigs, list)
        or len(sigs) > 16
        or not all(
            isinstance(s, dict) and isinstance(s.get("keyid"), str) and isinstance(s.get("sig"), str) for s in sigs
        )
    ):
        raise IndexBadSignature(f"{where}: 'signatures' is malformed (expected a list of {{keyid, sig}}); refusing it")
    ours = [s for s in sigs if s["keyid"] in keys]
    if not ours:
        theirs = ", ".join(re.sub(r"[^0-9A-Za-z]", "?", s["keyid"][:16]) for s in sigs)
        raise IndexUntrustedKey(
            f"{where} is signed by key {theirs}, which is not trusted (trusted: "
            f"{', '.join(k[:16] for k in keys)}); refusing it"
        )
    import base64
    import binascii

    message = index_canonical(data) if message is None else message
    for s in ours:
        try:
            keys[s["keyid"]].verify(base64.b64decode(s["sig"], validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            continue
        keyid: str = s["keyid"]  # a string: checked above
        return keyid
    raise IndexBadSignature(
        f"{where}: the signature by trusted key {ours[0]['keyid'][:16]} does not match the content; "
        "refusing an index altered after it was signed"
    )


def __getattr__(name: str) -> Any:
    """What this module re-exports from modules a cold start does not need (imported when first asked for)."""
    if name == "TIME_FORMAT":
        from mlgate.core.times import TIME_FORMAT

        return TIME_FORMAT
    if name in ("TrustedKey", "key_id", "load_public_key"):
        from mlgate.infra import keys

        return getattr(keys, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _format_time(when: datetime) -> str:
    from mlgate.core.times import format_time

    return format_time(when)


def parse_time(text: object, what: str = "time") -> datetime:
    """A UTC time written as ``YYYY-MM-DDTHH:MM:SSZ`` (the index's ``expires`` and ``generated_at``)."""
    from mlgate.core import times

    when = times.parse_time(text)
    if when is not None:
        return when
    raise ServingError(f"{what} {text!r} is not a UTC time like 2026-01-31T12:00:00Z")


def _now() -> datetime:
    from mlgate.core.times import now

    return now()


# --- sources -------------------------------------------------------------------------------


class Source(Protocol):
    """Where serving reads the registry from."""

    label: str

    def token(self) -> str:
        """A cheap value that changes whenever the registry may have changed."""

    def commit(self) -> str | None: ...
    def model_names(self) -> list[str]: ...
    def aliases(self, model: str) -> dict[str, int]: ...
    def rollouts(self, model: str) -> dict[str, Rollout]:
        """The rollouts under way on the model's aliases (only the aliases that have one)."""

    def versions(self, model: str) -> list[int]: ...
    def version(self, model: str, version: int) -> dict[str, Any]: ...
    def deprecated(self, model: str) -> set[int]: ...
    def stages(self) -> dict[str, str]:
        """The aliases MLflow's stages stand for (policy.yaml's ``stages:``, or the default mapping)."""


# The registry's one reader of each manifest field (mlgate.readers), imported only when a checkout or git
# source is read, so an index-only server never loads PyYAML.


def _alias_state(raw: bytes, where: str) -> tuple[int, Rollout | None]:
    from mlgate.registry.readers import alias_state

    try:
        version, rollout = alias_state(raw, where)
    except ManifestError as e:
        raise ServingError(str(e)) from None
    return version, None if rollout is None else Rollout.from_manifest(rollout)


def _version_entry(raw: bytes, where: str) -> dict[str, Any]:
    from mlgate.registry.readers import artifact

    try:
        return artifact(raw, where)
    except ManifestError as e:
        raise ServingError(str(e)) from None


def _stages(raw: bytes | None, where: str) -> dict[str, str]:
    from mlgate.registry.readers import stages

    try:
        return stages(raw, where)
    except ManifestError as e:
        raise ServingError(str(e)) from None


def _deprecated(raw: bytes | None, where: str) -> set[int]:
    from mlgate.registry.readers import deprecations

    try:
        return set(deprecations(raw, where))
    except ManifestError as e:
        raise ServingError(str(e)) from None


class _FileSource:
    """Shared logic of sources that hold the registry's files (a work tree or a git tree)."""

    label = ""

    def _read(self, path: str) -> bytes | None:
        raise NotImplementedError

    def _list(self, path: str) -> list[str]:
        raise NotImplementedError

    def model_names(self) -> list[str]:
        return sorted(n for n in self._list("registry/models") if NAME_RE.match(n))

    def _require(self, model: str) -> None:
        if not NAME_RE.match(model) or self._read(f"registry/models/{model}/model.yaml") is None:
            raise UnknownModel(f"no model {model!r} in {self.label}; models: {', '.join(self.model_names()) or 'none'}")

    def _alias_states(self, model: str) -> dict[str, tuple[int, Rollout | None]]:
        """Each alias's version and rollout, each alias file read once."""
        self._require(model)

        out = {}
        for name in alias_names(self._list(f"registry/models/{model}/aliases")):
            path = f"registry/models/{model}/aliases/{name}.yaml"
            raw = self._read(path)
            if raw is not None:
                out[name] = _alias_state(raw, path)
        return out

    def aliases(self, model: str) -> dict[str, int]:
        return {a: v for a, (v, _) in self._alias_states(model).items()}

    def rollouts(self, model: str) -> dict[str, Rollout]:
        return {a: r for a, (_, r) in self._alias_states(model).items() if r is not None}

    def versions(self, model: str) -> list[int]:
        self._require(model)

        return version_numbers(self._list(f"registry/models/{model}/versions"))

    def version(self, model: str, version: int) -> dict[str, Any]:
        path = f"registry/models/{model}/versions/{version}/version.yaml"
        raw = self._read(path)
        if raw is None:
            raise UnknownVersion(
                f"model {model!r} has no version {version}; versions: "
                f"{', '.join(map(str, self.versions(model))) or 'none'}"
            )
        return _version_entry(raw, path)

    def deprecated(self, model: str) -> set[int]:
        path = f"registry/models/{model}/model.yaml"
        return _deprecated(self._read(path), path)

    def stages(self) -> dict[str, str]:
        return _stages(self._read("registry/policy.yaml"), "registry/policy.yaml")

    def alias_map(self) -> dict[tuple[str, str], int]:
        return {(m, a): v for m in self.model_names() for a, v in self.aliases(m).items()}

    def alias_states(self) -> dict[tuple[str, str], tuple[int, Rollout | None]]:
        """Every alias's version and rollout, keyed by (model, alias): what :class:`Watcher` compares."""
        return {(m, a): state for m in self.model_names() for a, state in self._alias_states(m).items()}


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC  # a FIFO never blocks the open
_WALK_BY_FD = os.open in os.supports_dir_fd and bool(_O_NOFOLLOW)


class WorkTreeSource(_FileSource):
    """The registry in a checkout. No symlink is followed, in any component of a path below the root, and only
    regular files are read (each at most :data:`MANIFEST_MAX_BYTES`): a link or a special file reads as absent."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        from pathlib import Path

        self.root = Path(root)
        self.label = f"working tree {self.root}"
        fd = self._folder(["registry"])
        if fd is None:
            raise SourceUnavailable(f"no registry/ folder in {self.root} (a symlinked registry/ is not followed)")
        if fd >= 0:
            os.close(fd)

    def _folder(self, parts: list[str]) -> int | None:
        """An open descriptor of root/parts, each component opened without following a link; None if one is
        missing, a link or not a folder. The root itself is the operator's choice and may be a link.
        Without ``dir_fd`` (Windows) each component is checked with lstat instead, and -1 is returned."""
        if any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts):
            return None
        if not _WALK_BY_FD:
            here = self.root
            for part in parts:
                here = here / part
                try:
                    if not stat.S_ISDIR(os.lstat(here).st_mode):
                        return None
                except OSError:
                    return None
            return -1
        try:
            fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
        except OSError as e:
            raise SourceUnavailable(f"cannot read {self.label}: {e.strerror}") from None
        for part in parts:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in _MISSING:
                    return None
                raise ServingError(f"{self.label}: {'/'.join(parts)}: {e.strerror}") from None
            finally:
                os.close(fd)
            fd = nxt
        return fd

    def _read(self, path: str) -> bytes | None:
        *parents, name = path.split("/")
        folder = self._folder(parents)
        if folder is None:
            return None
        try:
            if name in ("", ".", ".."):
                return None
            if folder >= 0:
                fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
            elif stat.S_ISREG(os.lstat(self.root / path).st_mode):
                fd = os.open(self.root / path, _FILE_FLAGS)
            else:
                return None
        except OSError as e:
            if e.errno in _MISSING:
                return None
            raise ServingError(f"{path}: {e.strerror}") from None
        finally:
            if folder >= 0:
                os.close(folder)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            data = fh.read(MANIFEST_MAX_BYTES + 1)
        if len(data) > MANIFEST_MAX_BYTES:
            raise ServingError(
                f"{path}: larger than {MANIFEST_MAX_BYTES:,} bytes, the limit for a manifest; refusing it"
            )
        return data

    def _list(self, path: str) -> list[str]:
        fd = self._folder(path.split("/"))
        if fd is None:
            return []
        try:
            with os.scandir(fd if fd >= 0 else self.root / path) as it:
                return [e.name for e in it if not e.is_symlink()]
        finally:
            if fd >= 0:
                os.close(fd)

    def commit(self) -> str | None:
        return None

    def token(self) -> str:
        h = hashlib.sha256()
        for (m, a), (v, rollout) in sorted(self.alias_states().items()):
            h.update(f"{m}@{a}={v}\n".encode())
            if rollout is not None:  # a rollout step changes the token, not only a move of the version
                h.update(f"  {json.dumps(rollout.to_manifest(), sort_keys=True)}\n".encode())
        return h.hexdigest()


class GitSource(_FileSource):
    """A registry at a git URL and ref, fetched shallowly into a cache reused on the next start."""

    REF = "refs/mlgate/source"

    def __init__(
        self,
        url: str,
        ref: str = "main",
        cache_dir: str | os.PathLike[str] | None = None,
        allow_stale: bool = False,
        timeout: float = 60,
    ) -> None:
        self.url, self.ref, self.timeout = url, ref, timeout
        from pathlib import Path

        base = Path(cache_dir) if cache_dir else _cache_root() / "git"
        self.git_dir = base / hashlib.sha256(url.encode()).hexdigest()[:24]
        self.label = f"{url}#{ref}"
        self._cat: ObjectReader | None = None
        self._sha: str | None = None
        try:
            self.refresh()
        except SourceUnavailable:
            if not (allow_stale and self._local_sha()):
                raise
            self._sha = self._local_sha()

    def _git(self, *args: str) -> str:
        import subprocess

        try:
            proc = subprocess.run(
                ["git", "--git-dir", str(self.git_dir), *args], capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            raise SourceUnavailable(f"git {args[0]} of {self.label} timed out after {self.timeout:g} s") from None
        if proc.returncode != 0:
            raise SourceUnavailable(f"cannot read {self.label}: git {args[0]}: {proc.stderr.strip()}")
        return proc.stdout

    def _local_sha(self) -> str | None:
        try:
            return self._git("rev-parse", "--verify", "--quiet", self.REF).strip() or None
        except SourceUnavailable:
            return None

    def refresh(self) -> str:
        """Fetch the ref (shallow) and read from it; returns the commit."""
        if not self.git_dir.exists():
            self.git_dir.mkdir(parents=True)
            self._git("init", "--quiet", "--bare")
        self._git("fetch", "--quiet", "--depth", "1", "--no-tags", self.url, f"+{self.ref}:{self.REF}")
        self._sha = self._local_sha()
        if self._cat is not None:
            self._cat.close()
            self._cat = None
        return self._sha or ""

    def _objects(self) -> ObjectReader:
        if self._cat is None:
            from mlgate.infra.git import ObjectReader

            self._cat = ObjectReader(git_dir=self.git_dir)
        return self._cat

    def _read(self, path: str) -> bytes | None:
        got = self._objects().contents(f"{self._sha}:{path}")
        return got[1] if got and got[0] == "blob" else None

    def _list(self, path: str) -> list[str]:
        got = self._objects().contents(f"{self._sha}:{path}")
        if not got or got[0] != "tree":
            return []
        from mlgate.infra.git import SYMLINK, parse_tree

        width = 32 if len(self._sha or "") == 64 else 20
        return [name for name, entry in parse_tree(got[1], width).items() if entry.kind != SYMLINK]

    def commit(self) -> str | None:
        return self._sha

    def token(self) -> str:
        import subprocess

        try:
            proc = subprocess.run(
                ["git", "ls-remote", self.url, self.ref], capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            raise SourceUnavailable(f"git ls-remote {self.label} timed out") from None
        if proc.returncode != 0 or not proc.stdout.split():
            raise SourceUnavailable(f"cannot reach {self.label}: {proc.stderr.strip() or 'no such ref'}")
        remote = proc.stdout.split()[0]
        if remote != self._sha:
            self.refresh()
        return self._sha or ""


def _is_int(value: object, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= _MAX_INT


def _is_rollout(value: object) -> bool:
    if not isinstance(value, dict) or not set(value) <= {"candidate", "mode", "percent", "started_at"}:
        return False
    percent = value.get("percent")
    return (
        _is_int(value.get("candidate"), 1)
        and value.get("mode") in ROLLOUT_MODES
        and isinstance(percent, (int, float))
        and not isinstance(percent, bool)
        and 0 < percent <= 100
        and isinstance(value.get("started_at", ""), str)
    )


def _check_index(data: dict[str, Any], where: str, sharded: bool = False) -> None:
    """Enough structure that nothing later meets a wrong type: a hostile index fails here, in one line.
    ``sharded``: a sharded index's top level, whose models also name their shard."""
    _check_header(data, where)
    for name, model in data["models"].items():
        _check_model(name, model, where, sharded)


def _invalid(where: str, what: str) -> ServingError:
    return ServingError(f"{where} is not a valid mlgate index: {what}")


def _check_header(data: dict[str, Any], where: str) -> None:
    """The index's own fields (every model is checked by :func:`_check_model`)."""
    for key in ("commit", "source", "generated_at"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise _invalid(where, f"'{key}' must be a string")
    if "serial" in data and not _is_int(data["serial"]):
        raise _invalid(where, "'serial' must be a non-negative integer")
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(
        k in ("Production", "Staging") and isinstance(v, str) and NAME_RE.fullmatch(v) for k, v in stages.items()
    ):
        raise _invalid(where, "'stages' must map Production and/or Staging to alias names")


_EMPTY: dict[str, Any] = {}
_name_ok, _version_ok = NAME_RE.fullmatch, VERSION_RE.fullmatch
_HEX = "0123456789abcdef"
#: alias names and version keys already found valid: a registry has a handful of each, met in every model
_KNOWN_ALIASES: set[str] = set()
_KNOWN_VERSIONS: set[str] = set()


def _sha_ok(text: object) -> bool:
    """64 lower-case hex digits (``str.strip`` leaves something exactly when a character is not one)."""
    return type(text) is str and len(text) == 64 and not text.strip(_HEX)


def _artifact_ok(entry: dict[str, Any]) -> bool:
    """A version's entry as every rule requires it: a string uri and format, a 64-hex sha256, a size from 0 to
    2**63-1 (``type(x) is int`` refuses a bool). The full rules, the start-up check and an alias's answer all
    ask this one function."""
    get = entry.get
    size = get("size")
    return (
        _sha_ok(get("sha256"))
        and type(size) is int
        and 0 <= size <= _MAX_INT
        and type(get("uri")) is str
        and type(get("format", "")) is str
    )


def _numbers_ok(values: object) -> bool:
    """A list (or tuple) of version numbers, 1 to 2**63-1: a model's deprecated versions."""
    kind = type(values)
    if kind is not list and kind is not tuple:
        return False
    for v in values:  # type: ignore[attr-defined]  # a list or a tuple
        if type(v) is not int or v < 1 or v > _MAX_INT:
            return False
    return True


def _shard_ok(shard: object) -> bool:
    """A sharded top level's reference to a model's shard: {sha256: 64 hex digits, size: 0 to the index's limit}."""
    if type(shard) is not dict:
        return False
    size = shard.get("size")
    return _sha_ok(shard.get("sha256")) and type(size) is int and 0 <= size <= INDEX_MAX_BYTES


def _known(text: str, known: set[str], valid: Callable[[str], object]) -> bool:
    if text in known:
        return True
    if not valid(text):
        return False
    if len(known) < 4096:
        known.add(text)
    return True


def _check_model(name: str, model: Any, where: str, sharded: bool) -> None:
    """One model's entry: a hostile or malformed one raises, in one line, what is wrong with it."""
    if not _model_ok(name, model, sharded):
        _explain_model(name, model, where, sharded)


def _model_ok(name: object, model: Any, sharded: bool) -> bool:
    """True only for an entry :func:`_explain_model` accepts (False may be wrong: it then decides), in as few
    steps as Python allows: a cold start checks every model it resolves. ``type(x) is int`` refuses a bool;
    a rollout (rare) is left to the full rules."""
    if type(name) is not str or type(model) is not dict or not _name_ok(name):
        return False
    get = model.get
    aliases, deprecated, versions, rollouts = (
        get("aliases", _EMPTY),
        get("deprecated", ()),
        get("versions", _EMPTY),
        get("rollouts", _EMPTY),
    )
    if type(aliases) is not dict or type(versions) is not dict or type(rollouts) is not dict or rollouts:
        return False
    for alias, v in aliases.items():
        if type(v) is not int or v < 1 or v > _MAX_INT or alias not in _KNOWN_ALIASES:
            return False
    if not _numbers_ok(deprecated) or (sharded and not _shard_ok(get("shard"))):
        return False
    for number, entry in versions.items():
        if number not in _KNOWN_VERSIONS or type(entry) is not dict or not _artifact_ok(entry):
            return False
    return True


def _alias_read(
    entry: Any, alias: str, allow_deprecated: bool
) -> tuple[int, dict[str, Any], dict[str, Any] | None] | Literal[False] | None:
    """The version ``alias`` holds in a model's entry, its artifact and the alias's rollout, each checked as
    :func:`_explain_model` requires while it is read; None when the answer is not there (no such alias, a
    deprecated version, a version only the shard holds: the general path answers); False when something read
    breaks the rules (False may be wrong: the full rules then decide)."""
    if type(entry) is not dict:
        return False
    get = entry.get
    aliases = get("aliases", _EMPTY)
    if type(aliases) is not dict:
        return False
    version = aliases.get(alias)
    if version is None:
        return None
    if type(version) is not int or version < 1 or version > 999_999_999:  # str(version) must be a version key
        return False
    deprecated = get("deprecated", ())
    if not _numbers_ok(deprecated):
        return False
    if deprecated and not allow_deprecated and version in deprecated:
        return None
    versions = get("versions", _EMPTY)
    if type(versions) is not dict:
        return False
    held = versions.get(str(version))
    if held is None:
        return None
    if type(held) is not dict or not _artifact_ok(held):
        return False
    rollouts = get("rollouts", _EMPTY)
    if type(rollouts) is not dict:
        return False
    rollout = rollouts.get(alias) if rollouts else None
    if rollout is not None and not _is_rollout(rollout):
        return False
    return version, held, rollout


def _explain_model(name: str, model: Any, where: str, sharded: bool) -> None:
    """The full rules for one model's entry, raising what is wrong with it (``type(x) is int`` also refuses a
    bool); the alias names and version keys it finds valid are remembered for :func:`_model_ok`."""
    if type(name) is not str or not _name_ok(name) or type(model) is not dict:
        raise _invalid(where, f"model {str(name)[:80]!r} must be a model name with an object")
    aliases, deprecated, versions = (
        model.get("aliases", _EMPTY),
        model.get("deprecated", ()),
        model.get("versions", _EMPTY),
    )
    if type(aliases) is not dict:
        raise _invalid(where, f"{name}: 'aliases' must map alias names to version numbers")
    for alias, v in aliases.items():
        if type(v) is not int or not 1 <= v <= _MAX_INT or not _known(alias, _KNOWN_ALIASES, _name_ok):
            raise _invalid(where, f"{name}: 'aliases' must map alias names to version numbers")
    if not _numbers_ok(deprecated):
        raise _invalid(where, f"{name}: 'deprecated' must be a list of version numbers")
    rollouts = model.get("rollouts", _EMPTY)  # absent from indexes written before rollouts existed
    if type(rollouts) is not dict:
        raise _invalid(where, f"{name}: 'rollouts' must map alias names to rollouts")
    for alias, rollout in rollouts.items():
        if alias not in aliases:
            raise _invalid(where, f"{name}: 'rollouts' has {alias[:80]!r}, which is not one of the model's aliases")
        if not _is_rollout(rollout):
            raise _invalid(
                where,
                f"{name}@{alias}: a rollout needs a candidate version, a mode (canary or shadow), a percent "
                "above 0 and at most 100, and nothing else but a string started_at",
            )
    if type(versions) is not dict:
        raise _invalid(where, f"{name}: 'versions' must be an object")
    if sharded and not _shard_ok(model.get("shard")):
        raise _invalid(where, f"{name}: 'shard' must be {{sha256: 64 hex digits, size: a number of bytes}}")
    for number, entry in versions.items():
        if type(entry) is not dict or not _known(number, _KNOWN_VERSIONS, _version_ok) or not _artifact_ok(entry):
            raise _invalid(
                where,
                f"{name} version {str(number)[:20]!r}: needs a uri, a 64-hex sha256, a size (0 to 2**63-1) and a "
                "string format",
            )


# --- the highest serial accepted per index location, kept in a small JSON file under the cache -----------

_STATE_FORMAT = "mlgate.index-state/v1"


def _default_state_file() -> Path:
    return _cache_root() / "index-state.json"


def _state_load(path: Path) -> dict[str, Any]:
    from mlgate.infra.files import read_small

    try:
        raw = read_small(path, 1 << 20, "index state file")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ServingError(f"cannot read the index state file {path}: {e.strerror}") from None
    except InputError as e:
        raise ServingError(str(e)) from None
    try:
        data = json.loads(raw)
        if (
            not isinstance(data, dict)
            or data.get("format") != _STATE_FORMAT
            or not isinstance(data.get("indexes"), dict)
        ):
            raise ValueError("not an index state file")
        indexes: dict[str, Any] = data["indexes"]
        if not all(isinstance(v, dict) and _is_int(v.get("serial")) for v in indexes.values()):
            raise ValueError("an entry has no serial")
    except (ValueError, RecursionError) as e:
        raise ServingError(
            f"the index state file {path} is corrupt ({e}); delete it to start over, which forgets the serials seen"
        ) from None
    return indexes


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes and threads (none where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the rename below is still atomic
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _state_record(path: Path, location: str, serial: int, commit: str | None) -> None:
    """Remember ``serial`` for ``location`` unless a higher one is there already; atomic, under a lock."""
    from mlgate.infra.files import write_json

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(path.name + ".lock")):
            indexes = _state_load(path)
            if location in indexes and indexes[location]["serial"] > serial:
                return
            indexes[location] = {"serial": serial, "commit": commit, "accepted_at": _format_time(_now())}
            write_json(path, {"format": _STATE_FORMAT, "indexes": indexes})
    except OSError as e:
        raise ServingError(
            f"cannot record the accepted index serial in {path}: {e.strerror}; pass state_file=False to "
            "remember it in memory only"
        ) from None


class _IndexRead(NamedTuple):
    """An index as one read gave it: its bytes, what a conditional read compares next time, its token (the sha256
    of a sharded index's payload, or of a single file's bytes) and a sharded index's header and payload."""

    data: bytes
    validator: Any
    digest: str
    split: tuple[dict[str, Any], bytes] | None


class IndexSource:
    """The index ``mlgate index`` writes, checked against its own digest and, given ``trusted_keys``,
    authenticated (signature, expiry, serial never lower than one accepted before).

    Two layouts: a single file (every model in one JSON document), or a sharded folder's ``index.json`` (a small
    signed top level with each model's aliases, rollouts, deprecated versions and the versions they name, and
    the sha256 of each model's shard, which holds the model's every version). A shard is read only when a
    model's other versions are asked for (``models:/NAME/3``, ``latest``...) or when ``models`` names it
    (read at once, so a server fails at start-up rather than at its first request), and is refused unless its
    bytes match the sha256 the authenticated top level records.

    ``state_file`` (with trusted keys): where the highest serial accepted per index location is remembered across
    restarts; default ``$MLGATE_CACHE/index-state.json`` or ``~/.cache/mlgate/index-state.json``; ``False``
    remembers it in this object only. ``timeout``: seconds for one HTTP request.

    :meth:`token` (what :func:`watch` polls) is a conditional read: nothing is transferred when the index has
    not changed (see :mod:`mlgate.infra.conditional`).
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        trusted_keys: Iterable[TrustedKey] | None = None,
        state_file: str | os.PathLike[str] | bool | None = None,
        models: Iterable[str] | None = None,
        timeout: float = 60,
    ) -> None:
        self.location = os.fspath(location)
        self.label = f"index {self.location}"
        self.keys = None if trusted_keys is None else _trusted_keys(trusted_keys)
        self.state_file: Path | None = None
        if state_file is not False and self.keys is not None:
            from pathlib import Path

            self.state_file = Path(state_file) if isinstance(state_file, (str, os.PathLike)) else _default_state_file()
        self.timeout = timeout
        self.wanted = tuple(dict.fromkeys(models or ()))
        self._state_key = self.location if "://" in self.location else os.path.abspath(self.location)
        self.accepted: tuple[int, str | None] | None = None  # (serial, commit) of the newest index accepted
        self.keyid: str | None = None
        self.expires: datetime | None = None
        self._expires_at = float("inf")
        self.sharded = False
        self._validator: Any = None  # what the conditional read compares (ETag, object version, stat)
        self._raw: str | None = None  # sha256 of the bytes last read
        self._shards: dict[str, dict[str, Any]] = {}  # shard sha256 -> the model's whole entry
        self._checked: set[str] = set()  # the models whose entries have been checked
        self._header: dict[str, Any] | None = None  # the sharded header last accepted
        read = self._read(initial=True)
        assert read is not None  # the first read is never conditional
        self.data: dict[str, Any] = {}
        self._load(read)

    def _read(self, initial: bool = False) -> _IndexRead | None:
        """The index as read, or None when it has not changed since the last read (nothing transferred)."""
        from mlgate.infra.conditional import TooLarge, read_if_changed

        try:
            body = read_if_changed(self.location, None if initial else self._validator, INDEX_MAX_BYTES, self.timeout)
        except TooLarge:
            raise SourceUnavailable(
                f"{self.location} is larger than {INDEX_MAX_BYTES >> 20} MiB; refusing it unread"
            ) from None
        except (OSError, ServingError) as e:
            raise SourceUnavailable(f"cannot read the index {self.location}: {e}") from None
        if body is None:
            return None
        # the token: the sha256 of the payload a sharded index's digest covers (hashed once, for both), or of
        # a single file's bytes
        split = split_envelope(body.data)
        digest = hashlib.sha256(body.data if split is None else split[1]).hexdigest()
        if not initial and digest == self._raw and (split is None or split[0] == self._header):
            self._validator = body.validator  # read whole (no validator to compare, or a new one): same bytes
            return None
        return _IndexRead(body.data, body.validator, digest, split)

    def _parse(self, read: _IndexRead) -> tuple[dict[str, Any], bytes | None]:
        """The index document (the header, for the sharded layout) and, for the sharded layout, the payload
        bytes the digest and signature cover."""
        raw, split = read.data, read.split
        if split is not None:
            header, signed = split
            if header.get("digest") != read.digest:  # the payload's sha256 (see _read)
                raise IndexDigestMismatch(
                    f"{self.location}: the content does not match its digest; refusing an altered or truncated index"
                )
            return header, signed
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise IndexDigestMismatch(f"{self.location} is not a valid index (JSON: {str(e)[:200]})") from None
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("models"), dict):
            raise ServingError(f"{self.location} is not an mlgate index (format {INDEX_FORMAT} or {INDEX_FORMAT_V2})")
        if data.get("digest") != index_digest(data):
            raise IndexDigestMismatch(
                f"{self.location}: the content does not match its digest; refusing an altered or truncated index"
            )
        return data, None

    def _load(self, read: _IndexRead) -> dict[str, Any]:
        envelope, signed = self._parse(read)
        keyid = None
        if self.keys is not None:
            keyid = _check_signature(
                envelope, self.keys, self.location, None if signed is None else payload_signed_bytes(signed)
            )
        data = envelope
        if signed is not None:
            try:
                data = json.loads(signed, parse_constant=_no_constant)
            except (ValueError, RecursionError) as e:
                raise ServingError(f"{self.location}: the payload is not JSON ({str(e)[:200]})") from None
            if (
                not isinstance(data, dict)
                or data.get("format") != INDEX_FORMAT_V2
                or not isinstance(data.get("models"), dict)
            ):
                raise ServingError(f"{self.location}: the payload is not an mlgate index ({INDEX_FORMAT_V2})")
        # a sharded index's models are checked when first used at start-up (a replica serving one model checks
        # one); a single file, or a new index a watcher polls, is checked whole before it is used
        _check_header(data, self.location)
        checked: set[str] = set()
        if not all(map(_name_ok, data["models"])):  # names at once (cheap): model_names() lists them
            for name, model in data["models"].items():
                if not _name_ok(name):
                    _check_model(name, model, self.location, signed is not None)
        if self._raw is not None or signed is None:
            for name, model in data["models"].items():
                _check_model(name, model, self.location, signed is not None)
            checked = set(data["models"])
        accepted = None
        if self.keys is not None:
            accepted = self._fresh(data)
        shards = self._preload(data, signed is not None)
        # everything checked: only now does the new index replace the last good one
        if accepted is not None:
            if self.state_file and accepted[2]:
                _state_record(self.state_file, self._state_key, accepted[0], accepted[1])
            self.accepted, self.keyid, self.expires = (accepted[0], accepted[1]), keyid, accepted[3]
            self._expires_at = accepted[3].timestamp()  # compared on every look-up: a float is cheapest
        self._shards, self._checked = shards, checked
        self.data, self.sharded = data, signed is not None
        self._validator, self._raw = read.validator, read.digest
        self._header = envelope if signed is not None else None
        return data

    def _fresh(self, data: dict[str, Any]) -> tuple[int, str | None, bool, datetime]:
        """Serial, commit, whether to record it, expiry: an expired or older index is refused."""
        if not _is_int(data.get("serial")):
            raise ServingError(f"{self.location} is signed but has no serial; refusing it")
        serial, commit = data["serial"], data.get("commit")
        expires = parse_time(data.get("expires"), f"{self.location}: 'expires'")
        if _now() >= expires:
            raise IndexExpired(
                f"{self.location} expired at {data['expires']} (serial {serial}); refusing a stale or frozen "
                "index: the publisher must re-sign it (publish.yml does daily)"
            )
        stored = _state_load(self.state_file).get(self._state_key) if self.state_file else None
        seen = [s for s in (self.accepted, stored and (stored["serial"], stored.get("commit"))) if s]
        best = max(seen, key=lambda s: s[0]) if seen else None
        if best and serial < best[0]:
            raise IndexRollback(
                f"{self.location} has serial {serial}, older than serial {best[0]} accepted before; refusing "
                "a replayed or rolled-back index"
            )
        if best and serial == best[0] and best[1] and commit != best[1]:
            raise IndexRollback(
                f"{self.location} has serial {serial} for commit {str(commit)[:12]}, but serial {serial} was "
                f"accepted for commit {best[1][:12]}; refusing it (was history rewritten?)"
            )
        return serial, commit, stored is None or serial > stored["serial"], expires

    def _preload(self, data: dict[str, Any], sharded: bool) -> dict[str, dict[str, Any]]:
        """The shards to keep with ``data``: those already read that it still names, and those of ``models``."""
        if not sharded:
            return {}
        for model in self.wanted:
            if model in data["models"]:
                _check_model(model, data["models"][model], self.location, sharded)
        unknown = [m for m in self.wanted if m not in data["models"]]
        if unknown:
            raise UnknownModel(
                f"no model {', '.join(map(repr, unknown))} in {self.label}; models: "
                f"{', '.join(sorted(data['models'])[:50]) or 'none'}"
            )
        named = {e["shard"]["sha256"] for e in data["models"].values()} if self._shards else set()
        shards = {sha: entry for sha, entry in self._shards.items() if sha in named}
        for model in self.wanted:
            ref = data["models"][model]["shard"]
            if ref["sha256"] not in shards:
                shards[ref["sha256"]] = self._read_shard(model, ref)
        return shards

    def _shard_url(self, path: str) -> str:
        base = self.location.rsplit("/", 1)[0] if "/" in self.location else "."
        return f"{base}/{path}"

    def _read_shard(self, model: str, ref: Mapping[str, Any]) -> dict[str, Any]:
        """A model's shard, refused unless its bytes are the ones the top level pins (another model's shard, an
        older one or an altered one all fail the sha256)."""
        url = self._shard_url(shard_path(model, ref["sha256"]))
        from mlgate.infra.conditional import TooLarge, read_if_changed

        try:
            body = read_if_changed(url, None, ref["size"], self.timeout)
            assert body is not None  # an unconditional read
            raw = body.data
        except TooLarge:
            raw = b""  # refused below, as any other shard that is not the one recorded
        except (OSError, ServingError) as e:
            raise SourceUnavailable(f"cannot read the shard of model {model!r} at {url}: {e}") from None
        if len(raw) != ref["size"] or hashlib.sha256(raw).hexdigest() != ref["sha256"]:
            raise IndexDigestMismatch(
                f"{url}: the shard of model {model!r} does not match the size and sha256 the index records; "
                "refusing a swapped, older or altered shard"
            )
        try:
            shard = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise IndexDigestMismatch(f"{url}: the shard of model {model!r} is not JSON") from None
        if not isinstance(shard, dict) or shard.get("format") != SHARD_FORMAT or shard.get("model") != model:
            raise ServingError(f"{url} is not the shard of model {model!r} ({SHARD_FORMAT})")
        entry = {k: v for k, v in shard.items() if k not in ("format", "model")}
        _check_index({"models": {model: entry}}, url)
        return entry

    def _full(self, model: str) -> dict[str, Any]:
        """The model's whole entry: the single file's, or its shard (read now if it was not)."""
        entry = self._model(model)
        if not self.sharded:
            return entry
        ref = entry["shard"]
        shard = self._shards.get(ref["sha256"])
        if shard is None:
            shard = self._shards[ref["sha256"]] = self._read_shard(model, ref)
        return shard

    def token(self) -> str:
        """The digest of the index now; reads it only when it changed (an unchanged one is not transferred)."""
        read = self._read()
        if read is not None:
            self._load(read)
        elif self.expires is not None and _now() >= self.expires:
            raise IndexExpired(
                f"{self.location} expired at {self.data['expires']} and has not changed since; refusing a stale "
                "or frozen index: the publisher must re-sign it (publish.yml does daily)"
            )
        return self._raw or ""

    def commit(self) -> str | None:
        return self.data.get("commit")

    def model_names(self) -> list[str]:
        return sorted(self.data["models"])

    def _model(self, model: str) -> dict[str, Any]:
        if _time.time() >= self._expires_at:
            raise IndexExpired(
                f"{self.location} expired at {self.data['expires']} and no newer one was accepted; refusing "
                "to resolve from it"
            )
        try:
            entry: dict[str, Any] = self.data["models"][model]
        except KeyError:
            raise UnknownModel(
                f"no model {model!r} in {self.label}; models: {', '.join(self.model_names()) or 'none'}"
            ) from None
        if model not in self._checked:
            _check_model(model, entry, self.location, self.sharded)
            self._checked.add(model)
        return entry

    def _check_all(self) -> dict[str, Any]:
        """Every model checked (what a watcher compares reads them all); the models."""
        models: dict[str, Any] = self.data["models"]
        if len(self._checked) < len(models):
            for name, entry in models.items():
                if name not in self._checked:
                    _check_model(name, entry, self.location, self.sharded)
            self._checked = set(models)
        return models

    def resolve_alias(self, ref: ModelRef, allow_deprecated: bool) -> ResolvedModel | None:
        """``models:/NAME@ALIAS`` answered from the model's entry in one look-up (what a server resolving every
        champion at start-up does thousands of times), or None whenever anything is unusual (no such alias,
        a deprecated version, a version only a shard holds): :func:`resolve`'s general path then answers, or
        raises its error. Both give the same answer (tests/serving hold them equal)."""
        assert ref.alias is not None
        return self._alias(ref.name, ref.alias, str(ref), ref.path, allow_deprecated)

    def _alias(self, name: str, alias: str, uri: str, path: str, allow_deprecated: bool) -> ResolvedModel | None:
        """:meth:`resolve_alias` for a model this index holds (None for any other: the general path says so).

        What the answer reads (the alias, the deprecated versions, the alias's rollout, the version's artifact)
        is checked as it is read, so a model not yet checked whole costs one pass over its entry: anything wrong
        there raises what the full rules raise; the rest of the entry is checked whole when it is first used."""
        entry = self.data["models"].get(name)
        if entry is None:
            return None
        if _time.time() >= self._expires_at:
            self._model(name)  # raises IndexExpired
        if self._shards and self.sharded:
            entry = self._model(name)
            if entry["shard"]["sha256"] in self._shards:
                return None  # the shard's whole entry is the manifest once it is read
        got = _alias_read(entry, alias, allow_deprecated)
        if got is None:
            return None
        if got is False:
            self._model(name)  # the full rules: raise what is wrong
            return None  # (an entry they accept: the general path answers)
        version, held, rollout = got
        # ResolvedModel(...) built without the frozen dataclass's __init__ (one object.__setattr__ per field): a
        # cold start resolving every champion builds thousands; the same object (tests/serving hold both equal)
        made: ResolvedModel = _new_object(ResolvedModel)
        made.__dict__.update(
            uri=uri,
            name=name,
            alias=alias,
            version=version,
            artifact_uri=held["uri"],
            sha256=held["sha256"],
            size=held["size"],
            format=held.get("format", ""),
            commit=self.data.get("commit"),
            manifest=held,
            path=path,
            rollout=None if rollout is None else Rollout.from_manifest(rollout),
        )
        return made

    def aliases(self, model: str) -> dict[str, int]:
        return dict(self._model(model).get("aliases", {}))

    def rollouts(self, model: str) -> dict[str, Rollout]:
        return {a: Rollout.from_manifest(r) for a, r in self._model(model).get("rollouts", {}).items()}

    def versions(self, model: str) -> list[int]:
        return sorted(int(v) for v in self._full(model).get("versions", {}))

    def version(self, model: str, version: int) -> dict[str, Any]:
        top = self._model(model)
        entry = top.get("versions", {}).get(str(version))
        if self.sharded and (entry is None or top["shard"]["sha256"] in self._shards):
            # the shard when it is read (the whole entry), else the top level's uri, sha256, size and format
            entry = self._full(model).get("versions", {}).get(str(version))
        if entry is None:
            raise UnknownVersion(
                f"model {model!r} has no version {version}; versions: "
                f"{', '.join(map(str, self.versions(model))) or 'none'}"
            )
        return {**entry, "format": entry.get("format", ""), "manifest": entry}

    def deprecated(self, model: str) -> set[int]:
        return set(self._model(model).get("deprecated", []))

    def stages(self) -> dict[str, str]:
        return dict(self.data.get("stages") or DEFAULT_STAGES)

    def alias_map(self) -> dict[tuple[str, str], int]:
        return {(m, a): v for m, e in self._check_all().items() for a, v in e.get("aliases", {}).items()}

    def alias_states(self) -> dict[tuple[str, str], tuple[int, Rollout | None]]:
        """Every alias's version and rollout, keyed by (model, alias): what :class:`Watcher` compares."""
        out: dict[tuple[str, str], tuple[int, Rollout | None]] = {}
        for m, entry in self._check_all().items():
            rollouts = entry.get("rollouts", {})
            for a, v in entry.get("aliases", {}).items():
                out[m, a] = (v, Rollout.from_manifest(rollouts[a]) if a in rollouts else None)
        return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def open_source(
    spec: str | os.PathLike[str],
    *,
    ref: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    allow_stale: bool = False,
    trusted_keys: Iterable[TrustedKey] | None = None,
    state_file: str | os.PathLike[str] | bool | None = None,
    models: Iterable[str] | None = None,
) -> Source:
    """A source from a string: an index file (``*.json``, local or any fsspec URL), a git URL
    (``git+https://host/repo.git#main``, ``https://host/repo.git``, ``git@host:repo.git``), or a folder.

    ``trusted_keys`` (index files only): the publisher's ed25519 public keys (see :data:`TrustedKey`). With them the
    index must be signed by one of them, unexpired, and no older than the newest accepted before from the same
    location (remembered in ``state_file``, see :class:`IndexSource`); otherwise an :class:`IndexRefused`.
    Without them only the index's digest is checked: that detects corruption, not an attacker.

    ``models`` (a sharded index, ``DIR/index.json``): the models this server serves; their shards are read and
    verified now, and no other model's shard is read unless it is asked for. Aliases of every model resolve
    from the top level alone.
    """
    text = os.fspath(spec)
    if text.endswith(".json") or text.split("?")[0].endswith(".json"):
        return IndexSource(text, trusted_keys=trusted_keys, state_file=state_file, models=models)
    if trusted_keys is not None:
        raise ServingError(
            f"{text}: trusted_keys authenticate an index file; a git or checkout source is not signed "
            "(serve the index mlgate index writes instead)"
        )
    git_url = text[4:] if text.startswith("git+") else text
    if text.startswith("git+") or git_url.endswith(".git") or "#" in git_url or text.startswith("git@"):
        url, _, fragment = git_url.partition("#")
        return GitSource(url, ref or fragment or "main", cache_dir, allow_stale)
    if os.path.isdir(text):
        return WorkTreeSource(text)
    raise SourceUnavailable(f"{text!r} is not an index file, a git URL or a folder holding registry/")


# --- resolve --------------------------------------------------------------------------------


def resolve(uri: str | ModelRef, source: Source, *, allow_deprecated: bool = False) -> ResolvedModel:
    """The version and artifact a ``models:/`` URI names in ``source``, read as MLflow reads it.

    ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``models:/NAME/latest`` (the newest version) and MLflow's
    stages in any case (``models:/NAME/Production`` is the alias policy.yaml's ``stages:`` maps it to, by
    default ``champion``; ``Staging``: ``challenger``; ``Archived``: the newest deprecated version; ``None``:
    the newest in no stage), each optionally followed by a path inside the artifact (kept in ``path``; see
    :func:`fetch`). An unknown model, alias or version raises an error that lists what does exist; a
    deprecated version raises :class:`DeprecatedVersion` unless ``allow_deprecated``.

    It always returns the version the alias holds; when a rollout is under way on the alias (``@ALIAS``, or the
    alias a stage stands for) it is in ``rollout``, and :func:`route` / :func:`arms` split requests by it.
    """
    if type(source) is IndexSource and isinstance(uri, str):  # the common case, in one look-up (resolve_alias)
        plain = plain_alias(uri)
        found = source._alias(plain[0], plain[1], uri, "", allow_deprecated) if plain is not None else None
        if found is not None:
            return found
    ref = parse_uri(uri) if isinstance(uri, str) else uri
    if ref.alias is not None and type(source) is IndexSource:
        found = source.resolve_alias(ref, allow_deprecated)
        if found is not None:
            return found
    stages = source.stages() if ref.stage is not None else DEFAULT_STAGES
    version = version_named(ref, source.aliases, versions=source.versions, deprecated=source.deprecated, stages=stages)
    alias = _routed_alias(ref, stages)
    rollout = source.rollouts(ref.name).get(alias) if alias is not None else None
    return _resolved(ref, source, version, allow_deprecated, rollout)


def _routed_alias(ref: ModelRef, stages: Mapping[str, str]) -> str | None:
    """The alias whose rollout applies to ``ref``: its own, or the one its stage stands for (Production is the
    champion's traffic, rollout included); None for a version number, latest, Archived or None."""
    if ref.alias is not None:
        return ref.alias
    return stages.get(ref.stage) if ref.stage in ("Production", "Staging") else None


def _resolved(
    ref: ModelRef, source: Source, version: int, allow_deprecated: bool, rollout: Rollout | None
) -> ResolvedModel:
    entry = source.version(ref.name, version)
    if not allow_deprecated and version in source.deprecated(ref.name):
        raise DeprecatedVersion(f"{ref} is version {version}, which is deprecated; refusing to serve it")
    return ResolvedModel(
        str(ref),
        ref.name,
        ref.alias,
        version,
        entry["uri"],
        entry["sha256"],
        entry["size"],
        entry.get("format", ""),
        source.commit(),
        entry.get("manifest", {}),
        ref.path,
        rollout,
    )


# --- route: the arm of a rollout a request key goes to, the same on every replica -----------------------------


def _key(key: object) -> str:
    # an integer user id routes as its decimal string, so 42 and "42" are one user on every replica
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    raise RolloutKeyError(
        f"a routing key must be a string or an integer (a user or request id), not {type(key).__name__}"
    )


@dataclass(frozen=True)
class Arms:
    """The holder and, when a rollout is under way, the candidate of one ``models:/`` URI, resolved once.

    Routing a request is then a hash, with no I/O: resolve the arms when the server loads (and again when
    :func:`watch` reports a move), and call :meth:`route` (and, in shadow mode, :meth:`mirror`) per request.
    The key is whatever identifies who is asking (a user or account id): the same key gets the same arm on
    every replica and after every restart, and stays on the candidate when a step raises the share.
    """

    holder: ResolvedModel
    #: the rollout's candidate (canary or shadow) resolved, or None when no rollout is under way
    candidate: ResolvedModel | None = None
    #: the alias the rollout is on: the URI's, or the one its stage stands for (the routing hash includes it)
    alias: str | None = None
    #: why a shadow rollout's candidate is refused (missing or deprecated); :attr:`shadow` and :meth:`mirror`
    #: raise it while the holder keeps answering
    refused: str | None = None

    @property
    def rollout(self) -> Rollout | None:
        return self.holder.rollout

    def _to_candidate(self, key: str) -> bool:
        rollout = self.holder.rollout
        return (
            rollout is not None and self.alias is not None and to_candidate(rollout, self.holder.name, self.alias, key)
        )

    def route(self, key: str | int) -> ResolvedModel:
        """The arm that answers the request of ``key``: the candidate for a canary's share of keys, else the
        holder. In shadow mode the holder always answers (see :meth:`mirror`)."""
        text = _key(key)
        if self.candidate is not None and self.candidate.rollout is not None:
            if self.candidate.rollout.mode == "canary" and self._to_candidate(text):
                return self.candidate
        return self.holder

    @property
    def shadow(self) -> ResolvedModel | None:
        """The version to mirror requests to: the candidate of a shadow rollout, None when none is under way."""
        rollout = self.holder.rollout
        if rollout is None or rollout.mode != "shadow":
            return None
        if self.refused is not None or self.candidate is None:
            raise RolloutCandidateRefused(self.refused or f"{self.holder.uri}: the shadow candidate is not resolved")
        return self.candidate

    def mirror(self, key: str | int) -> bool:
        """Whether the request of ``key`` is also sent to :attr:`shadow` (its answer recorded, never returned):
        the shadow rollout's percent of keys, sticky as :meth:`route` is. False when no shadow rollout is under
        way."""
        text = _key(key)
        return self.shadow is not None and self._to_candidate(text)


def arms(uri: str | ModelRef, source: Source, *, allow_deprecated: bool = False) -> Arms:
    """The holder and candidate of ``uri`` (see :class:`Arms`).

    A rollout whose candidate the source does not have, or has deprecated, is refused with
    :class:`RolloutCandidateRefused` (``allow_deprecated`` serves a deprecated candidate, as it does a deprecated
    holder): no request is routed or mirrored to it, and its share is never quietly given to the holder. A
    canary is refused here, for every key alike (a load fails loudly, the same on every replica, rather than a
    share of users failing later); a shadow only where it is mirrored (:attr:`Arms.shadow`,
    :meth:`Arms.mirror`), since the holder answers every request anyway.
    """
    ref = parse_uri(uri) if isinstance(uri, str) else uri
    holder = resolve(ref, source, allow_deprecated=allow_deprecated)
    rollout = holder.rollout
    if rollout is None:
        return Arms(holder)
    alias = _routed_alias(ref, source.stages() if ref.stage is not None else DEFAULT_STAGES)
    where = f"{ref.base}: the {rollout.mode} rollout of version {rollout.candidate}"
    versions = source.versions(ref.name)
    refused = None
    if rollout.candidate not in versions:
        refused = (
            f"{where} names a version the model does not have (versions: {', '.join(map(str, versions)) or 'none'}); "
            "refusing to route to it"
        )
    elif not allow_deprecated and rollout.candidate in source.deprecated(ref.name):
        refused = f"{where}: that version is deprecated; refusing to route to it (abort the rollout)"
    if refused is None:
        return Arms(holder, _resolved(ref, source, rollout.candidate, True, rollout), alias)
    if rollout.mode == "canary":
        raise RolloutCandidateRefused(refused)
    return Arms(holder, None, alias, refused)


def route(uri: str | ModelRef, key: str | int, source: Source, *, allow_deprecated: bool = False) -> ResolvedModel:
    """The version that answers the request of ``key`` (a user or request id) for ``uri``: the holder, or the
    candidate when a canary rollout is under way and ``key`` falls in its share. Deterministic (a hash of model,
    alias, candidate and key), so every replica routes a key alike; in shadow mode, always the holder. The
    result's ``arm`` says which; :func:`fetch` takes it as it is. It reads the source on each call: per
    request, prefer :func:`arms` once and :meth:`Arms.route`."""
    _key(key)  # a wrong key type fails before the source is read
    return arms(uri, source, allow_deprecated=allow_deprecated).route(key)


def shadow(uri: str | ModelRef, source: Source, *, allow_deprecated: bool = False) -> ResolvedModel | None:
    """The version to mirror ``uri``'s requests to (its ``version``; :func:`fetch` it to load it): the candidate
    of a shadow rollout, None when none is under way (no rollout, or a canary)."""
    return arms(uri, source, allow_deprecated=allow_deprecated).shadow


def mirror(uri: str | ModelRef, key: str | int, source: Source, *, allow_deprecated: bool = False) -> bool:
    """Whether the request of ``key`` is mirrored to :func:`shadow`'s version: the shadow rollout's percent of
    keys, chosen as :func:`route` chooses (the same keys on every replica). False without a shadow rollout."""
    _key(key)
    return arms(uri, source, allow_deprecated=allow_deprecated).mirror(key)


# --- fetch --------------------------------------------------------------------------------------


def _cache_root() -> Path:
    from pathlib import Path

    return Path(os.environ.get("MLGATE_CACHE") or Path.home() / ".cache" / "mlgate")


def cache_path(sha256: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise ServingError(f"{sha256!r} is not a sha256 digest")
    from pathlib import Path

    root = Path(cache_dir) if cache_dir else _cache_root() / "artifacts"
    return root / "sha256" / sha256[:2] / sha256


def _cache_hit(final: Path, model: ResolvedModel, verify: bool) -> bool:
    """Whether the cache entry is a regular file (never a link) of the right size and, if ``verify``, digest.
    Anything else in its place is removed, so that it is downloaded again."""
    try:
        st = os.lstat(final)
    except FileNotFoundError:
        return False
    if stat.S_ISREG(st.st_mode) and st.st_size == model.size:
        if not verify:
            return True
        try:
            with os.fdopen(os.open(final, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC), "rb") as fh:
                if stat.S_ISREG(os.fstat(fh.fileno()).st_mode) and sha256_of(fh, model.size + 1) == (
                    model.sha256,
                    model.size,
                ):
                    return True
        except OSError:
            pass
    _remove(final)  # altered, a link or a special file in the cache: never hand it out
    return False


def _remove(path: Path) -> None:
    import shutil

    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _cache_dirs(final: Path) -> None:
    """``sha256/`` and ``sha256/<aa>/`` as real folders: a link planted there is removed, never written through."""
    for folder in (final.parent.parent, final.parent):
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                _remove(folder)
        except FileNotFoundError:
            pass
        folder.mkdir(parents=True, exist_ok=True)


def fetch(model: ResolvedModel, cache_dir: str | os.PathLike[str] | None = None, *, verify_cache: bool = True) -> Path:
    """The artifact of ``model`` as a local file, downloaded into a cache keyed by its sha256; for a URI that
    ended in a path inside a folder artifact (``models:/NAME/3/MLmodel``), that file or folder of the artifact
    unpacked by :func:`unpack`.

    A cache hit does no network I/O; it must be a regular file (a symlink or anything else there is dropped),
    it is re-hashed locally (``verify_cache``), and an entry that no longer matches is dropped and downloaded
    again. A download reads at most the recorded size plus one byte, is written to a temporary file, hashed as
    it streams, and renamed into place only if its size and sha256 match; otherwise it is deleted and
    :class:`ArtifactIntegrityError` is raised. Two processes fetching the same digest both succeed and leave
    one entry.
    """
    if model.path:
        inside = unpack(model, cache_dir, verify_cache=verify_cache) / model.path
        try:
            os.lstat(inside)
        except OSError:
            raise ArtifactPathNotFound(
                f"{model.uri}: the artifact of version {model.version} has no {model.path!r}"
            ) from None
        return inside
    return _fetch_file(model, cache_dir, verify_cache)


def _fetch_file(model: ResolvedModel, cache_dir: str | os.PathLike[str] | None, verify_cache: bool) -> Path:
    from mlgate.infra.files import atomic_output

    final = cache_path(model.sha256, cache_dir)
    try:
        _cache_dirs(final)
        if _cache_hit(final, model, verify_cache):
            return final
        # renamed into place only when the block ends without an error: a mismatch leaves nothing behind
        with open_uri(model.artifact_uri) as src, atomic_output(final) as out:
            digest, size = sha256_of(src, model.size + 1, out)
            if size != model.size or digest != model.sha256:
                got = f"more than {model.size:,} bytes" if size > model.size else f"{size:,} bytes with sha256 {digest}"
                raise ArtifactIntegrityError(
                    f"{model.uri}: {model.artifact_uri} has {got}, but the registry recorded {model.size:,} bytes "
                    f"with sha256 {model.sha256}; refusing it"
                )
    except OSError as e:
        raise SourceUnavailable(f"cannot fetch {model.artifact_uri}: {e}") from None
    return final


def unpack(model: ResolvedModel, cache_dir: str | os.PathLike[str] | None = None, *, verify_cache: bool = True) -> Path:
    """The folder artifact of ``model`` (format ``tar``: a folder registered as mlgate's deterministic archive),
    fetched and verified as :func:`fetch` does, unpacked into ``<digest>.d/`` beside it in the cache.

    Only regular files and folders are unpacked, each inside the destination (no absolute path, ``..``,
    backslash, link or device); anything else refuses the whole archive. It is unpacked into a temporary folder
    renamed into place, so a half-unpacked folder is never handed out; with ``verify_cache`` (the default) it is
    unpacked afresh from the re-hashed archive each time, so what is used is what the registry recorded.
    """
    if model.format != "tar":
        raise ServingError(
            f"{model.uri}: the artifact of version {model.version} is a {model.format or 'single'} file, not a "
            "folder archive (format tar): nothing to unpack"
        )
    archive = _fetch_file(model, cache_dir, verify_cache)
    final = archive.with_name(archive.name + ".d")
    try:
        if not verify_cache and stat.S_ISDIR(os.lstat(final).st_mode):
            return final
    except FileNotFoundError:
        pass
    import secrets
    import tarfile

    staging = archive.with_name(f".{archive.name}.d.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        staging.mkdir()
        with tarfile.open(archive, mode="r:") as tar:
            for member in tar:
                _unpack_member(tar, member, staging, model)
        _remove(final)
        try:
            os.rename(staging, final)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # another process unpacked the same verified archive at the same moment: theirs is as good
    except tarfile.TarError as e:
        raise ArtifactIntegrityError(f"{model.uri}: the artifact is not a readable tar archive: {e}") from None
    except OSError as e:
        raise SourceUnavailable(f"cannot unpack {model.artifact_uri}: {e}") from None
    finally:
        if staging.exists():
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return final


_BAD_MEMBER = re.compile(r"(^|/)\.{1,2}(/|$)|^/|\\|[\x00-\x1f]|//")


def _unpack_member(tar: Any, member: Any, dest: Path, model: ResolvedModel) -> None:
    name = member.name.rstrip("/")
    if not name or _BAD_MEMBER.search(name) or not (member.isreg() or member.isdir()):
        kind = "file" if member.isreg() else "folder" if member.isdir() else "link or special file"
        raise ArtifactIntegrityError(
            f"{model.uri}: the archive holds {kind} {member.name[:200]!r}, which would not stay a plain file or "
            "folder inside the destination; refusing it"
        )
    target = dest.joinpath(*name.split("/"))
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    src = tar.extractfile(member)
    assert src is not None  # a regular member
    mode = 0o755 if member.mode & 0o111 else 0o644
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, mode)
    import shutil

    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


# --- watch --------------------------------------------------------------------------------------


def _alias_states(source: Source) -> dict[tuple[str, str], tuple[int, Rollout | None]]:
    """Every alias's version and rollout: in one pass for mlgate's sources, through the protocol for others."""
    states = getattr(source, "alias_states", None)
    if states is not None:
        got: dict[tuple[str, str], tuple[int, Rollout | None]] = states()
        return got
    out: dict[tuple[str, str], tuple[int, Rollout | None]] = {}
    for m in source.model_names():
        rollouts = source.rollouts(m)
        out.update({(m, a): (v, rollouts.get(a)) for a, v in source.aliases(m).items()})
    return out


class Watcher:
    """Polls a source and reports alias moves and rollout changes; never lets an error escape into the serving
    process. ``state`` maps (model, alias) to the version, ``rollouts`` to the rollout under way, as last seen."""

    def __init__(
        self, source: Source, callback: Callable[[list[AliasMove], Exception | None], None], interval: float
    ) -> None:
        self.source, self.callback, self.interval = source, callback, interval
        self.token = source.token()
        self._remember(_alias_states(source))
        import threading

        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mlgate-watch", daemon=True)

    def _remember(self, states: Mapping[tuple[str, str], tuple[int, Rollout | None]]) -> None:
        self.state: dict[tuple[str, str], int] = {k: v for k, (v, _) in states.items()}
        self.rollouts: dict[tuple[str, str], Rollout] = {k: r for k, (_, r) in states.items() if r is not None}

    def poll_once(self) -> list[AliasMove]:
        """Check the source now; call back with the moves (or the error). Returns the moves."""
        try:
            token = self.source.token()
            if token == self.token:
                return []
            fresh = _alias_states(self.source)
        except Exception as e:  # noqa: BLE001 - keep serving the last good state, whatever went wrong
            self._report([], e)
            return []
        moves = []
        for m, a in sorted(set(self.state) | set(fresh)):
            new, new_rollout = fresh.get((m, a), (None, None))
            old, old_rollout = self.state.get((m, a)), self.rollouts.get((m, a))
            if (old, old_rollout) != (new, new_rollout):
                moves.append(AliasMove(m, a, old, new, old_rollout, new_rollout))
        self.token = token
        self._remember(fresh)
        if moves:
            self._report(moves, None)
        return moves

    def _report(self, moves: list[AliasMove], error: Exception | None) -> None:
        try:
            self.callback(moves, error)
        except Exception:  # noqa: BLE001 - a failing callback must not stop the watcher
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll_once()

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=self.interval + 5)


def watch(
    source: Source, callback: Callable[[list[AliasMove], Exception | None], None], interval: float = 30.0
) -> Watcher:
    """Start polling ``source`` every ``interval`` seconds in a daemon thread; ``callback(moves, error)``."""
    return Watcher(source, callback, interval).start()
