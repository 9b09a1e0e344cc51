"""Serving: resolve ``models:/`` URIs from the registry and fetch verified artifacts, with a light import.

    from mlgate import serving
    source = serving.open_source("registry-index.json")      # or a checkout, or "git+https://host/repo.git#main"
    model = serving.resolve("models:/fraud-detector@champion", source)
    path = serving.fetch(model)                              # sha256-verified, cached by digest

Importing this module loads neither click, PyGithub, jsonschema nor the validator (``cryptography`` is
imported only when an index is checked against trusted keys). The bytes a model is loaded from are always
the ones the registry approved: :func:`fetch` refuses anything whose sha256 or size differs, reads no
more than the recorded size plus one byte, and leaves nothing in the cache when it does.

An index source is authenticated only when it is given the publisher's public keys::

    source = serving.open_source("registry-index.json", trusted_keys=["/etc/mlgate/index-key.pub"])

It then refuses an unsigned index, one signed by another key or altered after signing, an expired one
(a frozen mirror) and one older than the newest it has accepted (a replay or rollback), each with its own
:class:`IndexRefused` subclass. Without trusted keys the index's own digest is checked, which detects
corruption but not an attacker (anyone can recompute a digest).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Protocol

from mlgate.core import times
from mlgate.core.indexfmt import INDEX_FORMAT, index_canonical, index_digest
from mlgate.core.layout import NAME_RE, SHA256_RE, VERSION_RE, alias_names, version_numbers
from mlgate.core.times import TIME_FORMAT, format_time
from mlgate.core.uris import DEFAULT_STAGES, ModelRef, parse_uri, version_named
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
    ServingError,
    SourceUnavailable,
    StoreError,
    UnknownAlias,
    UnknownModel,
    UnknownVersion,
)
from mlgate.infra.files import atomic_output, read_small, write_json
from mlgate.infra.keys import TrustedKey, key_id, load_public_key
from mlgate.infra.store import bounded, fsspec_package, open_uri, sha256_of

if TYPE_CHECKING:
    from mlgate.infra.git import ObjectReader

INDEX_MAX_BYTES = 256 << 20  # an index larger than this is refused unread
MANIFEST_MAX_BYTES = 1 << 20  # the validator's limit for one manifest (mlgate.yamlio.MAX_BYTES)
_MAX_INT = (1 << 63) - 1
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO, getattr(errno, "EMLINK", errno.ELOOP))

__all__ = [
    "AliasMove",
    "ArtifactIntegrityError",
    "ArtifactPathNotFound",
    "DeprecatedVersion",
    "GitSource",
    "INDEX_FORMAT",
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
    "cache_path",
    "fetch",
    "fsspec_package",
    "unpack",
    "index_canonical",
    "index_digest",
    "key_id",
    "load_public_key",
    "open_source",
    "parse_time",
    "parse_uri",
    "resolve",
    "watch",
]


@dataclass(frozen=True)
class ResolvedModel:
    """What a ``models:/`` URI points at: the version and its artifact, as the registry recorded them."""

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


@dataclass(frozen=True)
class AliasMove:
    """An alias that changed between two polls of a source (``new`` None: removed)."""

    model: str
    alias: str
    old: int | None
    new: int | None


# --- keys and signatures (cryptography is imported only here, when an index is checked) ------------------


def _trusted_keys(keys: Iterable[TrustedKey]) -> dict[str, Any]:
    if isinstance(keys, (str, bytes, bytearray, os.PathLike)):
        keys = [keys]
    loaded = [load_public_key(k) for k in keys]
    if not loaded:
        raise ServingError("trusted_keys is empty: pass at least one public key, or None to skip authentication")
    return {key_id(k): k for k in loaded}


def _check_signature(data: Mapping[str, Any], keys: Mapping[str, Any], where: str) -> str:
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
    message = index_canonical(data)
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


def parse_time(text: object, what: str = "time") -> datetime:
    """A UTC time written as ``YYYY-MM-DDTHH:MM:SSZ`` (the index's ``expires`` and ``generated_at``)."""
    when = times.parse_time(text)
    if when is not None:
        return when
    raise ServingError(f"{what} {text!r} is not a UTC time like 2026-01-31T12:00:00Z")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- sources -------------------------------------------------------------------------------


class Source(Protocol):
    """Where serving reads the registry from."""

    label: str

    def token(self) -> str:
        """A cheap value that changes whenever the registry may have changed."""

    def commit(self) -> str | None: ...
    def model_names(self) -> list[str]: ...
    def aliases(self, model: str) -> dict[str, int]: ...
    def versions(self, model: str) -> list[int]: ...
    def version(self, model: str, version: int) -> dict[str, Any]: ...
    def deprecated(self, model: str) -> set[int]: ...
    def stages(self) -> dict[str, str]:
        """The aliases MLflow's stages stand for (policy.yaml's ``stages:``, or the default mapping)."""


# The registry's one reader of each manifest field (mlgate.readers), imported only when a checkout or git
# source is read, so an index-only server never loads PyYAML.


def _alias_version(raw: bytes, where: str) -> int:
    from mlgate.registry.readers import alias_version

    try:
        return alias_version(raw, where)
    except ManifestError as e:
        raise ServingError(str(e)) from None


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

    def aliases(self, model: str) -> dict[str, int]:
        self._require(model)

        out = {}
        for name in alias_names(self._list(f"registry/models/{model}/aliases")):
            path = f"registry/models/{model}/aliases/{name}.yaml"
            raw = self._read(path)
            if raw is not None:
                out[name] = _alias_version(raw, path)
        return out

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


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC  # a FIFO never blocks the open
_WALK_BY_FD = os.open in os.supports_dir_fd and bool(_O_NOFOLLOW)


class WorkTreeSource(_FileSource):
    """The registry in a checkout. No symlink is followed, in any component of a path below the root, and only
    regular files are read (each at most :data:`MANIFEST_MAX_BYTES`): a link or a special file reads as absent."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
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
        for (m, a), v in sorted(self.alias_map().items()):
            h.update(f"{m}@{a}={v}\n".encode())
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


def _check_index(data: dict[str, Any], where: str) -> None:
    """Enough structure that nothing later meets a wrong type: a hostile index fails here, in one line."""

    def bad(what: str) -> ServingError:
        return ServingError(f"{where} is not a valid mlgate index: {what}")

    for key in ("commit", "source", "generated_at"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise bad(f"'{key}' must be a string")
    if "serial" in data and not _is_int(data["serial"]):
        raise bad("'serial' must be a non-negative integer")
    stages = data.get("stages", {})
    if not isinstance(stages, dict) or not all(
        k in ("Production", "Staging") and isinstance(v, str) and NAME_RE.fullmatch(v) for k, v in stages.items()
    ):
        raise bad("'stages' must map Production and/or Staging to alias names")
    models = data["models"]
    for name, model in models.items():
        if not NAME_RE.fullmatch(name) or not isinstance(model, dict):
            raise bad(f"model {name[:80]!r} must be a model name with an object")
        aliases, deprecated, versions = model.get("aliases", {}), model.get("deprecated", []), model.get("versions", {})
        if not isinstance(aliases, dict) or not all(NAME_RE.fullmatch(a) and _is_int(v, 1) for a, v in aliases.items()):
            raise bad(f"{name}: 'aliases' must map alias names to version numbers")
        if not isinstance(deprecated, list) or not all(_is_int(v, 1) for v in deprecated):
            raise bad(f"{name}: 'deprecated' must be a list of version numbers")
        if not isinstance(versions, dict):
            raise bad(f"{name}: 'versions' must be an object")
        for number, entry in versions.items():
            if (
                not VERSION_RE.fullmatch(number)
                or not isinstance(entry, dict)
                or not isinstance(entry.get("uri"), str)
                or not isinstance(entry.get("sha256"), str)
                or not SHA256_RE.fullmatch(entry["sha256"])
                or not _is_int(entry.get("size"))
                or not isinstance(entry.get("format", ""), str)
            ):
                raise bad(
                    f"{name} version {number[:20]!r}: needs a uri, a 64-hex sha256, a size (0 to 2**63-1) and a "
                    "string format"
                )


# --- the highest serial accepted per index location, kept in a small JSON file under the cache -----------

_STATE_FORMAT = "mlgate.index-state/v1"


def _default_state_file() -> Path:
    return _cache_root() / "index-state.json"


def _state_load(path: Path) -> dict[str, Any]:
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(path.name + ".lock")):
            indexes = _state_load(path)
            if location in indexes and indexes[location]["serial"] > serial:
                return
            indexes[location] = {"serial": serial, "commit": commit, "accepted_at": format_time(_now())}
            write_json(path, {"format": _STATE_FORMAT, "indexes": indexes})
    except OSError as e:
        raise ServingError(
            f"cannot record the accepted index serial in {path}: {e.strerror}; pass state_file=False to "
            "remember it in memory only"
        ) from None


class IndexSource:
    """The index file ``mlgate index`` writes: one JSON document, checked against its own digest and, given
    ``trusted_keys``, authenticated (signature, expiry, serial never lower than one accepted before).

    ``state_file`` (with trusted keys): where the highest serial accepted per index location is remembered across
    restarts; default ``$MLGATE_CACHE/index-state.json`` or ``~/.cache/mlgate/index-state.json``; ``False``
    remembers it in this object only.
    """

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        trusted_keys: Iterable[TrustedKey] | None = None,
        state_file: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        self.location = os.fspath(location)
        self.label = f"index {self.location}"
        self.keys = None if trusted_keys is None else _trusted_keys(trusted_keys)
        self.state_file = (
            None
            if state_file is False or self.keys is None
            else Path(state_file)
            if isinstance(state_file, (str, os.PathLike))
            else _default_state_file()
        )
        self._state_key = self.location if "://" in self.location else os.path.abspath(self.location)
        self.accepted: tuple[int, str | None] | None = None  # (serial, commit) of the newest index accepted
        self.keyid: str | None = None
        self.expires: datetime | None = None
        self.data = self._load()

    def _fetch(self) -> dict[str, Any]:
        try:
            raw = bytearray()
            with open_uri(self.location) as fh:
                for chunk in bounded(fh, INDEX_MAX_BYTES + 1):
                    raw += chunk
        except (OSError, ServingError) as e:
            raise SourceUnavailable(f"cannot read the index {self.location}: {e}") from None
        if len(raw) > INDEX_MAX_BYTES:
            raise SourceUnavailable(f"{self.location} is larger than {INDEX_MAX_BYTES >> 20} MiB; refusing it unread")
        try:
            data = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise IndexDigestMismatch(f"{self.location} is not a valid index (JSON: {str(e)[:200]})") from None
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("models"), dict):
            raise ServingError(f"{self.location} is not an mlgate index (format {INDEX_FORMAT})")
        if data.get("digest") != index_digest(data):
            raise IndexDigestMismatch(
                f"{self.location}: the content does not match its digest; refusing an altered or truncated index"
            )
        return data

    def _load(self) -> dict[str, Any]:
        data = self._fetch()
        keyid = _check_signature(data, self.keys, self.location) if self.keys is not None else None
        _check_index(data, self.location)
        if self.keys is None:
            return data
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
        if self.state_file and (stored is None or serial > stored["serial"]):
            _state_record(self.state_file, self._state_key, serial, commit)
        self.accepted, self.keyid, self.expires = (serial, commit), keyid, expires
        return data

    def token(self) -> str:
        fresh = self._load()
        self.data = fresh
        digest: str = fresh["digest"]  # a string: checked against the content by _load
        return digest

    def commit(self) -> str | None:
        return self.data.get("commit")

    def model_names(self) -> list[str]:
        return sorted(self.data["models"])

    def _model(self, model: str) -> dict[str, Any]:
        if self.expires is not None and _now() >= self.expires:
            raise IndexExpired(
                f"{self.location} expired at {self.data['expires']} and no newer one was accepted; refusing "
                "to resolve from it"
            )
        try:
            entry: dict[str, Any] = self.data["models"][model]
            return entry
        except KeyError:
            raise UnknownModel(
                f"no model {model!r} in {self.label}; models: {', '.join(self.model_names()) or 'none'}"
            ) from None

    def aliases(self, model: str) -> dict[str, int]:
        return dict(self._model(model).get("aliases", {}))

    def versions(self, model: str) -> list[int]:
        return sorted(int(v) for v in self._model(model).get("versions", {}))

    def version(self, model: str, version: int) -> dict[str, Any]:
        entry = self._model(model).get("versions", {}).get(str(version))
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
        return {(m, a): v for m, e in self.data["models"].items() for a, v in e.get("aliases", {}).items()}


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
) -> Source:
    """A source from a string: an index file (``*.json``, local or any fsspec URL), a git URL
    (``git+https://host/repo.git#main``, ``https://host/repo.git``, ``git@host:repo.git``), or a folder.

    ``trusted_keys`` (index files only): the publisher's ed25519 public keys (see :data:`TrustedKey`). With them the
    index must be signed by one of them, unexpired, and no older than the newest accepted before from the same
    location (remembered in ``state_file``, see :class:`IndexSource`); otherwise an :class:`IndexRefused`.
    Without them only the index's digest is checked: that detects corruption, not an attacker.
    """
    text = os.fspath(spec)
    if text.endswith(".json") or text.split("?")[0].endswith(".json"):
        return IndexSource(text, trusted_keys=trusted_keys, state_file=state_file)
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
    """
    ref = parse_uri(uri) if isinstance(uri, str) else uri
    version = version_named(
        ref,
        source.aliases,
        versions=source.versions,
        deprecated=source.deprecated,
        stages=source.stages() if ref.stage is not None else DEFAULT_STAGES,
    )
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
    )


# --- fetch --------------------------------------------------------------------------------------


def _cache_root() -> Path:
    return Path(os.environ.get("MLGATE_CACHE") or Path.home() / ".cache" / "mlgate")


def cache_path(sha256: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    if not SHA256_RE.fullmatch(sha256):
        raise ServingError(f"{sha256!r} is not a sha256 digest")
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
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


# --- watch --------------------------------------------------------------------------------------


class Watcher:
    """Polls a source and reports alias moves; never lets an error escape into the serving process."""

    def __init__(
        self, source: Source, callback: Callable[[list[AliasMove], Exception | None], None], interval: float
    ) -> None:
        self.source, self.callback, self.interval = source, callback, interval
        self.token = source.token()
        self.state = source.alias_map()  # type: ignore[attr-defined]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="mlgate-watch", daemon=True)

    def poll_once(self) -> list[AliasMove]:
        """Check the source now; call back with the moves (or the error). Returns the moves."""
        try:
            token = self.source.token()
            if token == self.token:
                return []
            fresh = self.source.alias_map()  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001 - keep serving the last good state, whatever went wrong
            self._report([], e)
            return []
        moves = [
            AliasMove(m, a, self.state.get((m, a)), fresh.get((m, a)))
            for (m, a) in sorted(set(self.state) | set(fresh))
            if self.state.get((m, a)) != fresh.get((m, a))
        ]
        self.token, self.state = token, fresh
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
