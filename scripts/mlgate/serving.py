"""Serving: resolve ``models:/`` URIs from the registry and fetch verified artifacts, with a light import.

    from mlgate import serving
    source = serving.open_source("registry-index.json")      # or a checkout, or "git+https://host/repo.git#main"
    model = serving.resolve("models:/fraud-detector@champion", source)
    path = serving.fetch(model)                              # sha256-verified, cached by digest

Importing this module loads neither click, PyGithub, jsonschema nor the validator. The bytes a model is
loaded from are always the ones the registry approved: :func:`fetch` refuses anything whose sha256 or
size differs, and leaves nothing in the cache when it does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping, Protocol

from .errors import MlgateError, NotFoundError
from .uris import ModelRef, parse_uri

INDEX_FORMAT = "mlgate.index/v1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_CHUNK = 1 << 20

__all__ = [
    "AliasMove", "ArtifactIntegrityError", "DeprecatedVersion", "IndexDigestMismatch", "ResolvedModel",
    "ServingError", "SourceUnavailable", "UnknownAlias", "UnknownModel", "UnknownVersion", "Watcher",
    "fetch", "open_source", "resolve", "watch",
]


class ServingError(MlgateError):
    """Serving could not resolve or fetch a model."""


class UnknownModel(NotFoundError):
    """No such model; the message lists the models there are."""


class UnknownAlias(NotFoundError):
    """The model has no such alias; the message lists its aliases."""


class UnknownVersion(NotFoundError):
    """The model has no such version; the message lists its versions."""


class DeprecatedVersion(ServingError):
    """The version is deprecated in model.yaml; serving refuses it unless asked not to."""


class ArtifactIntegrityError(ServingError):
    """The bytes fetched are not the ones the registry recorded (sha256 or size)."""

    exit_code = 1


class IndexDigestMismatch(ServingError):
    """The index file's content does not match its own digest: it was altered or truncated."""


class SourceUnavailable(ServingError):
    """The registry source could not be read (network, missing file, git failure)."""


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


@dataclass(frozen=True)
class AliasMove:
    """An alias that changed between two polls of a source (``new`` None: removed)."""

    model: str
    alias: str
    old: int | None
    new: int | None


def index_canonical(data: Mapping[str, Any]) -> bytes:
    """The bytes an index's digest covers: everything but ``digest``, as sorted compact JSON."""
    body = {k: v for k, v in data.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def index_digest(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(index_canonical(data)).hexdigest()


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


def _alias_version(raw: bytes, where: str) -> int:
    from .yamlio import YamlError, load

    try:
        data = load(raw, where).data
    except YamlError as e:
        raise ServingError(f"{where}: {e.message}") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ServingError(f"{where}: 'version' must be a positive integer")
    return version


def _version_entry(raw: bytes, where: str) -> dict[str, Any]:
    from .yamlio import YamlError, load

    try:
        data = load(raw, where).data
    except YamlError as e:
        raise ServingError(f"{where}: {e.message}") from None
    art = data.get("artifact") if isinstance(data, dict) else None
    if not isinstance(art, dict) or not isinstance(art.get("uri"), str) or not _SHA256.match(str(art.get("sha256", ""))) \
            or not isinstance(art.get("size"), int) or art["size"] < 0:
        raise ServingError(f"{where}: artifact must have a uri, a 64-hex sha256 and a size")
    return {"uri": art["uri"], "sha256": art["sha256"], "size": art["size"], "format": str(art.get("format", "")),
            "manifest": data}


def _deprecated(raw: bytes | None, where: str) -> set[int]:
    if raw is None or b"deprecated" not in raw:
        return set()
    from .yamlio import YamlError, load

    try:
        data = load(raw, where).data
    except YamlError as e:
        raise ServingError(f"{where}: {e.message}") from None
    return {d["version"] for d in data.get("deprecated", []) if isinstance(d, dict) and isinstance(d.get("version"), int)}


class _FileSource:
    """Shared logic of sources that hold the registry's files (a work tree or a git tree)."""

    label = ""

    def _read(self, path: str) -> bytes | None: ...
    def _list(self, path: str) -> list[str]: ...

    def model_names(self) -> list[str]:
        return sorted(n for n in self._list("registry/models") if _NAME.match(n))

    def _require(self, model: str) -> None:
        if not _NAME.match(model) or self._read(f"registry/models/{model}/model.yaml") is None:
            raise UnknownModel(f"no model {model!r} in {self.label}; models: {', '.join(self.model_names()) or 'none'}")

    def aliases(self, model: str) -> dict[str, int]:
        self._require(model)
        from .layout import alias_names

        out = {}
        for name in alias_names(self._list(f"registry/models/{model}/aliases")):
            path = f"registry/models/{model}/aliases/{name}.yaml"
            raw = self._read(path)
            if raw is not None:
                out[name] = _alias_version(raw, path)
        return out

    def versions(self, model: str) -> list[int]:
        self._require(model)
        from .layout import version_numbers

        return version_numbers(self._list(f"registry/models/{model}/versions"))

    def version(self, model: str, version: int) -> dict[str, Any]:
        path = f"registry/models/{model}/versions/{version}/version.yaml"
        raw = self._read(path)
        if raw is None:
            raise UnknownVersion(f"model {model!r} has no version {version}; versions: "
                                 f"{', '.join(map(str, self.versions(model))) or 'none'}")
        return _version_entry(raw, path)

    def deprecated(self, model: str) -> set[int]:
        path = f"registry/models/{model}/model.yaml"
        return _deprecated(self._read(path), path)

    def alias_map(self) -> dict[tuple[str, str], int]:
        return {(m, a): v for m in self.model_names() for a, v in self.aliases(m).items()}


class WorkTreeSource(_FileSource):
    """The registry in a checkout. Symlinks are never followed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.label = f"working tree {self.root}"
        if not (self.root / "registry").is_dir():
            raise SourceUnavailable(f"no registry/ folder in {self.root}")

    def _read(self, path: str) -> bytes | None:
        try:
            fd = os.open(self.root / path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise ServingError(f"{path}: {e.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            return fh.read()

    def _list(self, path: str) -> list[str]:
        try:
            return [e.name for e in os.scandir(self.root / path) if not e.is_symlink()]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def commit(self) -> str | None:
        return None

    def token(self) -> str:
        h = hashlib.sha256()
        for (m, a), v in sorted(self.alias_map().items()):
            h.update(f"{m}@{a}={v}\n".encode())
        return h.hexdigest()


class _CatFile:
    """A persistent ``git cat-file --batch`` in a repository, for blobs and tree listings."""

    def __init__(self, git_dir: Path) -> None:
        self.proc = subprocess.Popen(["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lock = threading.Lock()
        # the process ends with this object, however the serving code lets go of it
        self._finalizer = weakref.finalize(self, _end_process, self.proc)

    def get(self, name: str) -> tuple[str, bytes] | None:
        with self.lock:
            self.proc.stdin.write(name.encode() + b"\n")
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().split()
            if len(header) < 3:
                return None
            data = self.proc.stdout.read(int(header[2]))
            self.proc.stdout.read(1)
            return header[1].decode(), data

    def close(self) -> None:
        self._finalizer()


def _end_process(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.stdout.close()
    proc.wait()


class GitSource(_FileSource):
    """A registry at a git URL and ref, fetched shallowly into a cache reused on the next start."""

    REF = "refs/mlgate/source"

    def __init__(self, url: str, ref: str = "main", cache_dir: str | os.PathLike[str] | None = None,
                 allow_stale: bool = False, timeout: float = 60) -> None:
        self.url, self.ref, self.timeout = url, ref, timeout
        base = Path(cache_dir) if cache_dir else _cache_root() / "git"
        self.git_dir = base / hashlib.sha256(url.encode()).hexdigest()[:24]
        self.label = f"{url}#{ref}"
        self._cat: _CatFile | None = None
        self._sha: str | None = None
        try:
            self.refresh()
        except SourceUnavailable:
            if not (allow_stale and self._local_sha()):
                raise
            self._sha = self._local_sha()

    def _git(self, *args: str) -> str:
        try:
            proc = subprocess.run(["git", "--git-dir", str(self.git_dir), *args], capture_output=True, text=True,
                                  timeout=self.timeout)
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

    def _objects(self) -> _CatFile:
        if self._cat is None:
            self._cat = _CatFile(self.git_dir)
        return self._cat

    def _read(self, path: str) -> bytes | None:
        got = self._objects().get(f"{self._sha}:{path}")
        return got[1] if got and got[0] == "blob" else None

    def _list(self, path: str) -> list[str]:
        got = self._objects().get(f"{self._sha}:{path}")
        if not got or got[0] != "tree":
            return []
        from .gitrepo import SYMLINK, parse_tree

        width = 32 if len(self._sha or "") == 64 else 20
        return [name for name, entry in parse_tree(got[1], width).items() if entry.kind != SYMLINK]

    def commit(self) -> str | None:
        return self._sha

    def token(self) -> str:
        try:
            proc = subprocess.run(["git", "ls-remote", self.url, self.ref], capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise SourceUnavailable(f"git ls-remote {self.label} timed out") from None
        if proc.returncode != 0 or not proc.stdout.split():
            raise SourceUnavailable(f"cannot reach {self.label}: {proc.stderr.strip() or 'no such ref'}")
        remote = proc.stdout.split()[0]
        if remote != self._sha:
            self.refresh()
        return self._sha or ""


class IndexSource:
    """The index file ``mlgate index`` writes: one JSON document, checked against its own digest."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.location = os.fspath(location)
        self.label = f"index {self.location}"
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            with _open_uri(self.location) as fh:
                raw = fh.read()
        except (OSError, ServingError) as e:
            raise SourceUnavailable(f"cannot read the index {self.location}: {e}") from None
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise IndexDigestMismatch(f"{self.location} is not a valid index (JSON: {e})") from None
        if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT or not isinstance(data.get("models"), dict):
            raise ServingError(f"{self.location} is not an mlgate index (format {INDEX_FORMAT})")
        if data.get("digest") != index_digest(data):
            raise IndexDigestMismatch(f"{self.location}: the content does not match its digest; refusing an altered or "
                                      "truncated index")
        return data

    def token(self) -> str:
        fresh = self._load()
        self.data = fresh
        return fresh["digest"]

    def commit(self) -> str | None:
        return self.data.get("commit")

    def model_names(self) -> list[str]:
        return sorted(self.data["models"])

    def _model(self, model: str) -> dict[str, Any]:
        try:
            return self.data["models"][model]
        except KeyError:
            raise UnknownModel(f"no model {model!r} in {self.label}; models: {', '.join(self.model_names()) or 'none'}") from None

    def aliases(self, model: str) -> dict[str, int]:
        return dict(self._model(model)["aliases"])

    def versions(self, model: str) -> list[int]:
        return sorted(int(v) for v in self._model(model)["versions"])

    def version(self, model: str, version: int) -> dict[str, Any]:
        entry = self._model(model)["versions"].get(str(version))
        if entry is None:
            raise UnknownVersion(f"model {model!r} has no version {version}; versions: "
                                 f"{', '.join(map(str, self.versions(model))) or 'none'}")
        return {**entry, "manifest": entry}

    def deprecated(self, model: str) -> set[int]:
        return set(self._model(model).get("deprecated", []))

    def alias_map(self) -> dict[tuple[str, str], int]:
        return {(m, a): v for m, e in self.data["models"].items() for a, v in e["aliases"].items()}


def open_source(spec: str | os.PathLike[str], *, ref: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
                allow_stale: bool = False) -> Source:
    """A source from a string: an index file (``*.json``, local or any fsspec URL), a git URL
    (``git+https://host/repo.git#main``, ``https://host/repo.git``, ``git@host:repo.git``), or a folder."""
    text = os.fspath(spec)
    if text.endswith(".json") or text.split("?")[0].endswith(".json"):
        return IndexSource(text)
    git_url = text[4:] if text.startswith("git+") else text
    if text.startswith("git+") or git_url.endswith(".git") or "#" in git_url or text.startswith("git@"):
        url, _, fragment = git_url.partition("#")
        return GitSource(url, ref or fragment or "main", cache_dir, allow_stale)
    if os.path.isdir(text):
        return WorkTreeSource(text)
    raise SourceUnavailable(f"{text!r} is not an index file, a git URL or a folder holding registry/")


# --- resolve --------------------------------------------------------------------------------


def resolve(uri: str | ModelRef, source: Source, *, allow_deprecated: bool = False) -> ResolvedModel:
    """The version and artifact a ``models:/`` URI names in ``source``.

    MLflow stage names (``models:/NAME/Production``) are the aliases ``production``/``staging``.
    An unknown model, alias or version raises an error that lists what does exist; a deprecated version
    raises :class:`DeprecatedVersion` unless ``allow_deprecated``.
    """
    ref = parse_uri(uri) if isinstance(uri, str) else uri
    version = ref.version
    if ref.alias is not None:
        aliases = source.aliases(ref.name)
        if ref.alias not in aliases:
            raise UnknownAlias(f"model {ref.name!r} has no alias {ref.alias!r}; aliases: {', '.join(sorted(aliases)) or 'none'}")
        version = aliases[ref.alias]
    entry = source.version(ref.name, version)
    if not allow_deprecated and version in source.deprecated(ref.name):
        raise DeprecatedVersion(f"{ref} is version {version}, which is deprecated; refusing to serve it")
    return ResolvedModel(str(ref), ref.name, ref.alias, version, entry["uri"], entry["sha256"], entry["size"],
                         entry.get("format", ""), source.commit(), entry.get("manifest", {}))


# --- fetch --------------------------------------------------------------------------------------


def _cache_root() -> Path:
    return Path(os.environ.get("MLGATE_CACHE") or Path.home() / ".cache" / "mlgate")


def fsspec_package(uri: str) -> str:
    """The package fsspec needs for a URI's protocol (what to tell a user who lacks it)."""
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    return {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "http": "aiohttp",
            "https": "aiohttp"}.get(protocol, f"an fsspec implementation of {protocol}://")


def _open_uri(uri: str) -> BinaryIO:
    """A readable stream: local paths and file:// without fsspec, anything else through it."""
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return open(unquote(urlparse(uri).path), "rb")
    if "://" not in uri:
        return open(uri, "rb")
    try:
        import fsspec
    except ImportError:
        raise ServingError(f"reading {uri} needs fsspec: pip install fsspec") from None
    try:
        return fsspec.open(uri, "rb").open()
    except ImportError as e:
        package = fsspec_package(uri)
        raise ServingError(f"reading {uri} needs the package {package} (pip install {package}): {e}") from None
    except ValueError as e:
        raise ServingError(f"cannot read {uri}: {e}") from None


def cache_path(sha256: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    if not _SHA256.match(sha256):
        raise ServingError(f"{sha256!r} is not a sha256 digest")
    root = Path(cache_dir) if cache_dir else _cache_root() / "artifacts"
    return root / "sha256" / sha256[:2] / sha256


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk


def _local_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in _chunks(fh):
            h.update(chunk)
    return h.hexdigest()


def fetch(model: ResolvedModel, cache_dir: str | os.PathLike[str] | None = None, *, verify_cache: bool = True) -> Path:
    """The artifact of ``model`` as a local file, downloaded into a cache keyed by its sha256.

    A cache hit does no network I/O; it is re-hashed locally (``verify_cache``), and an entry that no
    longer matches is dropped and downloaded again. A download is written to a temporary file, hashed as
    it streams, and renamed into place only if its size and sha256 match; otherwise it is deleted and
    :class:`ArtifactIntegrityError` is raised. Two processes fetching the same digest both succeed and
    leave one entry.
    """
    final = cache_path(model.sha256, cache_dir)
    if final.is_file():
        if final.stat().st_size == model.size and (not verify_cache or _local_digest(final) == model.sha256):
            return final
        final.unlink(missing_ok=True)  # altered in the cache: never hand it out
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{model.sha256}.{os.getpid()}.{uuid.uuid4().hex}.partial")
    try:
        h, size = hashlib.sha256(), 0
        with _open_uri(model.artifact_uri) as src, open(tmp, "wb") as out:
            for chunk in _chunks(src):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != model.size or h.hexdigest() != model.sha256:
            raise ArtifactIntegrityError(
                f"{model.uri}: {model.artifact_uri} has {size:,} bytes with sha256 {h.hexdigest()}, but the registry "
                f"recorded {model.size:,} bytes with sha256 {model.sha256}; refusing it")
        os.replace(tmp, final)
    except OSError as e:
        raise SourceUnavailable(f"cannot fetch {model.artifact_uri}: {e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return final


# --- watch --------------------------------------------------------------------------------------


class Watcher:
    """Polls a source and reports alias moves; never lets an error escape into the serving process."""

    def __init__(self, source: Source, callback: Callable[[list[AliasMove], Exception | None], None], interval: float) -> None:
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
        moves = [AliasMove(m, a, self.state.get((m, a)), fresh.get((m, a)))
                 for (m, a) in sorted(set(self.state) | set(fresh)) if self.state.get((m, a)) != fresh.get((m, a))]
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


def watch(source: Source, callback: Callable[[list[AliasMove], Exception | None], None], interval: float = 30.0) -> Watcher:
    """Start polling ``source`` every ``interval`` seconds in a daemon thread; ``callback(moves, error)``."""
    return Watcher(source, callback, interval).start()
