"""A serving fleet on the index: conditional polls that move no bytes when nothing changed, and per-model shards
a replica reads only for the models it serves. Real git, real files, a real HTTP server on 127.0.0.1 that
counts what it sends."""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from mlgate import serving
from mlgate.core.indexfmt import shard_path, split_envelope
from mlgate.errors import MlgateError
from mlgate.registry.index import build_index, build_sharded, generate_key, load_signing_key, write_index, write_sharded
from mlgate.testing import RegistryRepo

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"


def _uris(source: serving.Source) -> list[str]:
    uris = []
    for m in source.model_names():
        uris += [f"models:/{m}@{a}" for a in source.aliases(m)]
        uris += [f"models:/{m}/{v}" for v in source.versions(m)]
        uris += [f"models:/{m}/latest", f"models:/{m}/Production", f"models:/{m}/Archived"]
    return uris


def _outcome(uri: str, source: serving.Source) -> object:
    try:
        r = serving.resolve(uri, source, allow_deprecated=True)
    except MlgateError as e:
        return type(e).__name__
    return (r.version, r.artifact_uri, r.sha256, r.size, r.format, r.rollout, r.commit)


def test_a_sharded_index_resolves_every_uri_as_the_single_file_does(repo: RegistryRepo, tmp_path: Path) -> None:
    write_index(build_index(repo.root, "main"), tmp_path / "single.json")
    write_sharded(build_sharded(repo.root, "main"), tmp_path / "sharded")
    single = serving.open_source(tmp_path / "single.json")
    sharded = serving.open_source(tmp_path / "sharded" / "index.json")
    uris = _uris(single)
    assert len(uris) > 20 and _uris(sharded) == uris
    assert [_outcome(u, sharded) for u in uris] == [_outcome(u, single) for u in uris]
    # the rollout under way in the example resolves to the same arms
    a, b = (
        serving.arms("models:/search-ranker@champion", single),
        serving.arms("models:/search-ranker@champion", sharded),
    )
    assert (a.holder.version, a.candidate and a.candidate.version) == (
        b.holder.version,
        b.candidate and b.candidate.version,
    )
    # once a shard is read, a version's manifest is the whole entry, as in the single file
    assert sharded.version("fraud-detector", 2)["manifest"] == single.version("fraud-detector", 2)["manifest"]


def test_a_replica_reads_only_the_shards_of_its_models(repo: RegistryRepo, tmp_path: Path) -> None:
    write_sharded(build_sharded(repo.root, "main"), tmp_path / "idx")
    with _Http(tmp_path / "idx") as http:
        source = serving.open_source(http.url("index.json"), models=["fraud-detector"])
        # every champion resolves from the top level; only fraud-detector's shard was read, at start-up
        assert {m: serving.resolve(f"models:/{m}@champion", source).version for m in source.model_names()} == {
            "churn-predictor": 3,
            "fraud-detector": 2,
            "search-ranker": 1,
        }
        assert serving.resolve("models:/fraud-detector/1", source, allow_deprecated=True).version == 1
        assert http.paths() == ["/index.json", f"/{_shard_of(tmp_path / 'idx', 'fraud-detector')}"]
        # another model's other versions are read from its shard on first use, and then kept
        assert source.versions("churn-predictor") == [1, 2, 3, 4]
        assert source.versions("churn-predictor") == [1, 2, 3, 4]
        assert http.paths()[2:] == [f"/{_shard_of(tmp_path / 'idx', 'churn-predictor')}"]
    with pytest.raises(serving.UnknownModel, match="no model 'nope'"):
        serving.open_source(tmp_path / "idx" / "index.json", models=["nope"])


def _shard_of(folder: Path, model: str) -> str:
    split = split_envelope((folder / "index.json").read_bytes())
    assert split is not None
    return shard_path(model, json.loads(split[1])["models"][model]["shard"]["sha256"])


def test_a_swapped_older_or_altered_shard_is_refused(repo: RegistryRepo, tmp_path: Path) -> None:
    key = generate_key(tmp_path / "key")
    signing = load_signing_key(key.private)
    old = tmp_path / "old"
    write_sharded(build_sharded(repo.root, "main", key=signing), old)
    repo.edit_yaml(CHAMPION, version=3)
    repo.commit("promote fraud-detector v3")
    new = tmp_path / "new"
    write_sharded(build_sharded(repo.root, "main", key=signing), new)
    target = new / _shard_of(new, "fraud-detector")
    good = target.read_bytes()
    attacks = {
        "another model's shard": (new / _shard_of(new, "search-ranker")).read_bytes(),
        "the model's older shard": (old / _shard_of(old, "fraud-detector")).read_bytes(),
        "an altered shard": good.replace(b'"size":', b'"size":1', 1),
        "a truncated shard": good[:-10],
    }
    for what, payload in attacks.items():
        assert payload != good, what
        target.write_bytes(payload)
        source = serving.open_source(new / "index.json", trusted_keys=[key.public], state_file=False)
        assert serving.resolve("models:/fraud-detector@champion", source).version == 3  # the top level is fine
        with pytest.raises(serving.IndexDigestMismatch, match="refusing a swapped, older or altered shard"):
            source.versions("fraud-detector")
        with pytest.raises(serving.IndexDigestMismatch):
            serving.open_source(
                new / "index.json", trusted_keys=[key.public], state_file=False, models=["fraud-detector"]
            )
    # pointing the top level at the older shard needs a new signature: refused with the key, as any edit is
    target.write_bytes(good)
    top = (new / "index.json").read_bytes()
    old_sha = _shard_of(old, "fraud-detector").split("/")[-1][:-5]
    new_sha = target.name[:-5]
    header, payload = split_envelope(top) or ({}, b"")
    forged = payload.replace(new_sha.encode(), old_sha.encode())
    shutil.copy(old / _shard_of(old, "fraud-detector"), new / "shards" / "fraud-detector")
    header["digest"] = hashlib.sha256(forged).hexdigest()
    (new / "index.json").write_bytes(json.dumps(header)[:-1].encode() + b',\n"payload":' + forged + b"}\n")
    with pytest.raises(serving.IndexBadSignature):
        serving.open_source(new / "index.json", trusted_keys=[key.public], state_file=False)


def test_a_signed_sharded_index_keeps_every_protection(repo: RegistryRepo, tmp_path: Path) -> None:
    key, other = generate_key(tmp_path / "key"), generate_key(tmp_path / "other")
    folder = tmp_path / "idx"
    write_sharded(build_sharded(repo.root, "main", key=load_signing_key(other.private)), folder)
    with pytest.raises(serving.IndexUntrustedKey):
        serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=False)
    write_sharded(build_sharded(repo.root, "main"), folder)
    with pytest.raises(serving.IndexUnsigned):
        serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=False)
    state = tmp_path / "state.json"
    write_sharded(build_sharded(repo.root, "main~0", key=load_signing_key(key.private)), folder)
    first = serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=state)
    assert first.accepted and first.accepted[0] == 1
    repo.edit_yaml(CHAMPION, version=3)
    repo.commit("promote")
    older = (folder / "index.json").read_bytes()
    write_sharded(build_sharded(repo.root, "main", key=load_signing_key(key.private)), folder)
    assert serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=state).accepted[0] == 2
    (folder / "index.json").write_bytes(older)  # a replay of the older, validly signed top level
    with pytest.raises(serving.IndexRollback):
        serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=state)
    write_sharded(
        build_sharded(
            repo.root,
            "main",
            key=load_signing_key(key.private),
            expires_in="1s",
            now=__import__("datetime").datetime(2020, 1, 1, tzinfo=__import__("datetime").timezone.utc),
        ),
        folder,
    )
    with pytest.raises(serving.IndexExpired):
        serving.open_source(folder / "index.json", trusted_keys=[key.public], state_file=False)


# --- conditional polling ---------------------------------------------------------------------------------


@dataclass
class _Log:
    requests: list[tuple[str, int, int]] = field(default_factory=list)  # (path, status, body bytes sent)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Http:
    """A static file server on 127.0.0.1 that counts the body bytes it sends. ``validators``: ``etag``,
    ``last-modified`` or ``none`` (a server that sends neither); ``redirects`` maps a path to another;
    ``fail`` makes every request a 500."""

    def __init__(self, root: Path, validators: str = "etag", redirects: dict[str, str] | None = None) -> None:
        self.root, self.validators, self.redirects, self.fail = root, validators, redirects or {}, False
        self.log = _Log()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                owner._get(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}"

    def __enter__(self) -> _Http:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [p for p, status, _ in self.log.requests if status == 200]

    def body_bytes(self) -> int:
        return sum(n for _, _, n in self.log.requests)

    def _answer(self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        with self.log.lock:  # logged before the client can see the answer, so a test reads a complete log
            self.log.requests.append((h.path, status, len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        if self.fail:
            return self._answer(h, 500, {}, b"")
        if h.path in self.redirects:
            return self._answer(h, 301, {"Location": self.redirects[h.path]})
        file = self.root / h.path.lstrip("/")
        if not file.is_file():
            return self._answer(h, 404, {})
        body = file.read_bytes()
        etag = f'"{hashlib.sha256(body).hexdigest()[:20]}"'
        modified = email.utils.formatdate(file.stat().st_mtime, usegmt=True)
        if self.validators == "etag":
            if h.headers.get("If-None-Match") == etag:
                return self._answer(h, 304, {"ETag": etag})
            return self._answer(h, 200, {"ETag": etag}, body)
        if self.validators == "last-modified":
            since = h.headers.get("If-Modified-Since")
            if since and email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(modified):
                return self._answer(h, 304, {})
            return self._answer(h, 200, {"Last-Modified": modified}, body)
        return self._answer(h, 200, {}, body)


def _publish(repo: RegistryRepo, folder: Path, sharded: bool) -> None:
    if sharded:
        write_sharded(build_sharded(repo.root, "main"), folder)
    else:
        write_index(build_index(repo.root, "main"), folder / "index.json")


def _promote(repo: RegistryRepo, version: int, when: int) -> None:
    repo.edit_yaml(CHAMPION, version=version)
    repo.commit(f"promote v{version}")


@pytest.mark.parametrize(
    "sharded, validators",
    [(True, "etag"), (False, "etag"), (True, "last-modified"), (False, "none")],
)
def test_a_poll_with_no_change_transfers_no_index(
    repo: RegistryRepo, tmp_path: Path, sharded: bool, validators: str
) -> None:
    folder = tmp_path / "served"
    _publish(repo, folder, sharded)
    os.utime(folder / "index.json", (10**9, 10**9))  # Last-Modified has a one-second granularity: the next is newer
    seen: list = []
    with _Http(folder, validators) as http:
        source = serving.open_source(http.url("index.json"))
        size = (folder / "index.json").stat().st_size
        assert http.body_bytes() == size
        watcher = serving.Watcher(source, lambda moves, error: seen.append((moves, error)), interval=3600)
        for _ in range(3):
            assert watcher.poll_once() == []
        # a server without validators: read whole at each poll (and when the watcher starts), but nothing reported
        unchanged = 0 if validators != "none" else 4 * size
        assert http.body_bytes() == size + unchanged and seen == []
        _promote(repo, 3, 1)
        _publish(repo, folder, sharded)
        assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 2, 3)]
        assert http.body_bytes() == size + unchanged + (folder / "index.json").stat().st_size
        assert serving.resolve("models:/fraud-detector@champion", source).version == 3
        assert watcher.poll_once() == []
        assert seen == [([serving.AliasMove("fraud-detector", "champion", 2, 3)], None)]


def test_conditional_polls_follow_redirects_and_report_errors(repo: RegistryRepo, tmp_path: Path) -> None:
    folder = tmp_path / "served"
    _publish(repo, folder, True)
    seen: list = []
    with _Http(folder, "etag", redirects={"/current/index.json": "/index.json"}) as http:
        source = serving.open_source(http.url("current/index.json"))
        watcher = serving.Watcher(source, lambda moves, error: seen.append((moves, error)), interval=3600)
        before = http.body_bytes()
        assert watcher.poll_once() == [] and http.body_bytes() == before
        assert [s for _, s, _ in http.log.requests[-2:]] == [301, 304]  # the If-None-Match went on to the target
        http.fail = True
        assert watcher.poll_once() == []
        assert isinstance(seen[-1][1], serving.SourceUnavailable) and "HTTP 500" in str(seen[-1][1])
        assert serving.resolve("models:/fraud-detector@champion", source).version == 2  # the last good index
        http.fail = False
        (folder / "index.json").write_bytes(b'{"digest":"00", "format": "mlgate.index/v2",\n"payload":{}}')
        assert watcher.poll_once() == []
        assert isinstance(seen[-1][1], serving.IndexDigestMismatch)
        assert watcher.state[("fraud-detector", "champion")] == 2
        assert serving.resolve("models:/fraud-detector@champion", source).version == 2


class _EtagMemory(MemoryFileSystem):
    """fsspec's memory filesystem with what S3 and GCS report (an ETag and a generation) and a count of reads:
    what the conditional poll asks of any fsspec filesystem, ``fs.info(path)``, answered as an object store does."""

    protocol = "etagmem"
    opens = 0

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(super()._strip_protocol(path.removeprefix("etagmem://")))

    def info(self, path: str, **kwargs: object) -> dict:
        out = dict(super().info(path, **kwargs))
        if out.get("type") == "file":
            body = self.store[self._strip_protocol(path)].getvalue()  # not through _open: that counts reads
            out["ETag"] = hashlib.md5(body).hexdigest()  # noqa: S324 - what S3 reports
        return out

    def _open(self, path: str, mode: str = "rb", **kwargs: object):  # type: ignore[no-untyped-def]
        type(self).opens += "r" in mode  # reads only (the test writes through pipe_file)
        return super()._open(path, mode, **kwargs)


@pytest.fixture
def etagmem() -> Iterator[type[_EtagMemory]]:
    fsspec.register_implementation("etagmem", _EtagMemory, clobber=True)
    _EtagMemory.opens = 0
    yield _EtagMemory
    _EtagMemory.store.clear()


def test_an_object_store_is_read_only_when_its_etag_changes(repo: RegistryRepo, tmp_path: Path, etagmem) -> None:
    write_index(build_index(repo.root, "main"), tmp_path / "index.json")
    fs = fsspec.filesystem("etagmem")
    fs.pipe_file("/bucket/index.json", (tmp_path / "index.json").read_bytes())
    source = serving.open_source("etagmem://bucket/index.json")
    watcher = serving.Watcher(source, lambda moves, error: None, interval=3600)
    opened = etagmem.opens
    assert [watcher.poll_once() for _ in range(3)] == [[], [], []]
    assert etagmem.opens == opened  # info() only: no body read
    _promote(repo, 3, 1)
    write_index(build_index(repo.root, "main"), tmp_path / "index.json")
    fs.pipe_file("/bucket/index.json", (tmp_path / "index.json").read_bytes())
    assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 2, 3)]
    assert etagmem.opens == opened + 1


def test_a_local_index_is_polled_by_stat(repo: RegistryRepo, tmp_path: Path) -> None:
    path = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), path)
    source = serving.open_source(path)
    watcher = serving.Watcher(source, lambda moves, error: None, interval=3600)
    assert watcher.poll_once() == []
    write_index(build_index(repo.root, "main"), path)  # the same content under a new inode: read, not reported
    assert watcher.poll_once() == []
    _promote(repo, 3, 1)
    write_index(build_index(repo.root, "main"), path)
    assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 2, 3)]


def test_a_hostile_model_entry_in_a_sharded_index_is_refused_when_used(repo: RegistryRepo, tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    write_sharded(build_sharded(repo.root, "main"), folder)
    source = serving.open_source(folder / "index.json")
    seen: list = []
    watcher = serving.Watcher(source, lambda moves, error: seen.append(error), interval=3600)
    header, payload = split_envelope((folder / "index.json").read_bytes()) or ({}, b"")
    data = json.loads(payload)
    data["models"]["fraud-detector"]["aliases"]["champion"] = "2"  # a string where a version number goes
    forged = json.dumps(data).encode()
    header["digest"] = hashlib.sha256(forged).hexdigest()
    (folder / "index.json").write_bytes(json.dumps(header)[:-1].encode() + b',\n"payload":' + forged + b"}\n")
    # a watcher checks the whole new index before it replaces the last good one
    assert watcher.poll_once() == [] and "is not a valid mlgate index" in str(seen[-1])
    assert serving.resolve("models:/fraud-detector@champion", source).version == 2
    # at start-up, a model is checked when first used: the others serve
    fresh = serving.open_source(folder / "index.json")
    assert serving.resolve("models:/churn-predictor@champion", fresh).version == 3
    with pytest.raises(serving.ServingError, match="fraud-detector: 'aliases' must map alias names to version numbers"):
        serving.resolve("models:/fraud-detector@champion", fresh)
