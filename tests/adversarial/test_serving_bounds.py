"""Serving reads are bounded and never follow links: an endless artifact, a FIFO, a hostile index, a symlink
anywhere in a checkout or in the artifact cache. Whatever an attacker plants, the server ends at once with a
one-line ServingError and never hands out bytes from outside what it controls.

Anything that would hang on a naive implementation runs in a child process with a timeout, so a regression
fails the test instead of hanging the suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.registry.index import build_index, write_index
from mlgate.testing import RegistryRepo

MODEL = "search-ranker"
V3 = f"registry/models/{MODEL}/versions/3/version.yaml"
ZEROS = hashlib.sha256(b"\0" * 4096).hexdigest()
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")


@pytest.fixture
def world(repo: RegistryRepo, tmp_path: Path) -> tuple[RegistryRepo, Path]:
    """search-ranker v3, champion, with a real 4096-byte artifact on disk, committed on main."""
    art = tmp_path / "store" / "ranker-v3.bin"
    art.parent.mkdir()
    art.write_bytes(os.urandom(4096))
    repo.add_version(MODEL, 3, like=2)
    _set_artifact(repo, art.as_uri(), hashlib.sha256(art.read_bytes()).hexdigest(), 4096)
    repo.edit_yaml(f"registry/models/{MODEL}/aliases/champion.yaml", version=3)
    repo.commit("v3 champion")
    return repo, art


def _set_artifact(repo: RegistryRepo, uri: str, sha256: str, size: int) -> None:
    data = repo.read_yaml(V3)
    data["artifact"] = {"uri": uri, "sha256": sha256, "size": size, "format": "bin"}
    repo.write(V3, data)


def _run(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout)


FETCH = """
import sys, time
from mlgate import serving
t = time.monotonic()
model = serving.resolve('models:/search-ranker@champion', serving.open_source(sys.argv[1]))
try:
    serving.fetch(model, cache_dir=sys.argv[2])
except serving.ServingError as e:
    print(type(e).__name__, round(time.monotonic() - t, 3), e)
"""


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() or p.is_symlink()] if folder.exists() else []


# --- artifacts: at most size + 1 bytes ------------------------------------------------------------------


@needs_dev_zero
def test_an_endless_artifact_ends_at_once_in_fetch(world, tmp_path: Path) -> None:
    repo, _ = world
    _set_artifact(repo, "file:///dev/zero", ZEROS, 4096)  # even the "right" digest of its first 4096 bytes
    cache = tmp_path / "cache"
    proc = _run(FETCH, str(repo.root), str(cache), timeout=30)
    name, seconds, message = proc.stdout.split(" ", 2)
    assert name == "ArtifactIntegrityError", proc.stderr
    assert float(seconds) < 5
    assert "file:///dev/zero has more than 4,096 bytes, but the registry recorded 4,096 bytes" in message
    assert _files(cache) == []


@needs_dev_zero
def test_an_endless_artifact_ends_at_once_in_verify(world) -> None:
    repo, _ = world
    _set_artifact(repo, "file:///dev/zero", ZEROS, 4096)
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "-C", str(repo.root), "verify", f"{MODEL}/3", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1, proc.stderr
    [result] = json.loads(proc.stdout)
    assert result["status"] == "mismatch" and result["detail"].startswith("more than 4,096 bytes (stopped reading)")


@needs_fifo
def test_a_fifo_artifact_does_not_block(world, tmp_path: Path) -> None:
    repo, _ = world
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _set_artifact(repo, fifo.as_uri(), ZEROS, 4096)
    proc = _run(FETCH, str(repo.root), str(tmp_path / "cache"), timeout=30)
    assert proc.stdout.startswith("ArtifactIntegrityError"), proc.stdout + proc.stderr
    verify = subprocess.run(
        [sys.executable, "-m", "mlgate", "-C", str(repo.root), "verify", f"{MODEL}/3"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 1 and "MISMATCH" in verify.stdout


def test_a_longer_artifact_is_not_read_to_its_end(world, tmp_path: Path) -> None:
    repo, art = world
    with art.open("ab") as fh:
        fh.write(b"\0" * (8 << 20))  # 8 MiB past the recorded size: refused after 4097 bytes, nothing cached
    with pytest.raises(serving.ArtifactIntegrityError, match="has more than 4,096 bytes"):
        serving.fetch(
            serving.resolve(f"models:/{MODEL}@champion", serving.open_source(repo.root)), cache_dir=tmp_path / "c"
        )
    assert _files(tmp_path / "c") == []


# --- the artifact cache never hands out a link -------------------------------------------------------------


def _model(repo: RegistryRepo) -> serving.ResolvedModel:
    return serving.resolve(f"models:/{MODEL}@champion", serving.open_source(repo.root))


@pytest.mark.parametrize("verify_cache", [True, False])
def test_a_symlink_planted_in_the_cache_is_not_handed_out(world, tmp_path: Path, verify_cache: bool) -> None:
    repo, art = world
    model = _model(repo)
    cache = tmp_path / "cache"
    entry = serving.cache_path(model.sha256, cache)
    entry.parent.mkdir(parents=True)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(art.read_bytes())  # even with the right bytes today: whoever owns it can change them later
    os.symlink(outside, entry)
    path = serving.fetch(model, cache_dir=cache, verify_cache=verify_cache)
    assert path == entry and not path.is_symlink() and path.read_bytes() == art.read_bytes()
    assert outside.read_bytes() == art.read_bytes()  # the link's target was neither read as the entry nor touched
    # a link to other bytes of the same size, trusted without re-hashing (verify_cache=False)
    entry.unlink()
    outside.write_bytes(b"p" * 4096)
    os.symlink(outside, entry)
    assert serving.fetch(model, cache_dir=cache, verify_cache=verify_cache).read_bytes() == art.read_bytes()
    assert outside.read_bytes() == b"p" * 4096


def test_a_symlinked_cache_folder_is_not_written_through(world, tmp_path: Path) -> None:
    repo, art = world
    model = _model(repo)
    cache = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache / "sha256").mkdir(parents=True)
    os.symlink(elsewhere, cache / "sha256" / model.sha256[:2])
    path = serving.fetch(model, cache_dir=cache)
    assert path.read_bytes() == art.read_bytes() and not path.parent.is_symlink()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("plant", ["folder", "fifo"])
def test_a_special_file_in_the_cache_is_replaced(world, tmp_path: Path, plant: str) -> None:
    repo, art = world
    model = _model(repo)
    entry = serving.cache_path(model.sha256, tmp_path / "cache")
    entry.parent.mkdir(parents=True)
    if plant == "folder":
        entry.mkdir()
        (entry / "x").write_bytes(b"x")
    elif not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    else:
        os.mkfifo(entry)
    assert serving.fetch(model, cache_dir=tmp_path / "cache").read_bytes() == art.read_bytes()


# --- checkouts: no link followed in any path component ---------------------------------------------------


def _outside_copy(repo: RegistryRepo, rel: str, tmp_path: Path) -> Path:
    """Move ``rel`` out of the checkout and leave a symlink to it in its place."""
    outside = tmp_path / "outside" / Path(rel).name
    outside.parent.mkdir(exist_ok=True)
    shutil.move(str(repo.path(rel)), str(outside))
    os.symlink(outside, repo.path(rel))
    return outside


def test_a_symlinked_aliases_folder_is_not_followed(world, tmp_path: Path) -> None:
    repo, _ = world
    _outside_copy(repo, f"registry/models/{MODEL}/aliases", tmp_path)
    source = serving.open_source(repo.root)
    assert source.aliases(MODEL) == {}
    with pytest.raises(serving.UnknownAlias, match="aliases: none"):
        serving.resolve(f"models:/{MODEL}@champion", source)


def test_a_symlinked_model_folder_is_not_followed(world, tmp_path: Path) -> None:
    repo, _ = world
    _outside_copy(repo, f"registry/models/{MODEL}", tmp_path)
    source = serving.open_source(repo.root)
    assert MODEL not in source.model_names()
    with pytest.raises(serving.UnknownModel, match=f"no model '{MODEL}'"):
        serving.resolve(f"models:/{MODEL}@champion", source)


def test_a_symlinked_version_folder_is_not_followed(world, tmp_path: Path) -> None:
    repo, _ = world
    _outside_copy(repo, f"registry/models/{MODEL}/versions/3", tmp_path)
    with pytest.raises(serving.UnknownVersion, match="versions: 1, 2"):
        serving.resolve(f"models:/{MODEL}@champion", serving.open_source(repo.root))


def test_a_symlinked_registry_folder_is_not_followed(world, tmp_path: Path) -> None:
    repo, _ = world
    _outside_copy(repo, "registry", tmp_path)
    with pytest.raises(serving.SourceUnavailable, match="no registry/ folder .*a symlinked registry/ is not followed"):
        serving.open_source(repo.root)
    # a checkout whose registry/ goes away later (replaced by a link) reads as unavailable, not as other content
    repo.path("registry").unlink()
    shutil.move(str(tmp_path / "outside" / "registry"), str(repo.path("registry")))
    source = serving.open_source(repo.root)
    _outside_copy(repo, "registry", tmp_path)
    assert source.model_names() == []


def test_the_checkout_root_itself_may_be_a_link(world, tmp_path: Path) -> None:
    repo, _ = world
    os.symlink(repo.root, tmp_path / "current")  # a deploy's "current -> releases/N" is the operator's choice
    assert serving.resolve(f"models:/{MODEL}@champion", serving.open_source(tmp_path / "current")).version == 3


@needs_fifo
def test_a_fifo_in_a_checkout_does_not_block(world, tmp_path: Path) -> None:
    repo, _ = world
    alias = repo.path(f"registry/models/{MODEL}/aliases/champion.yaml")
    alias.unlink()
    os.mkfifo(alias)
    code = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
        f"print(sorted(s.aliases({MODEL!r})))"
    )
    proc = _run(code, str(repo.root), timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == "['challenger']", proc.stderr


def test_an_oversized_manifest_in_a_checkout_is_refused(world) -> None:
    repo, _ = world
    repo.write(f"registry/models/{MODEL}/aliases/champion.yaml", "version: 3\n" + "#" * (1 << 20))
    with pytest.raises(serving.ServingError, match="larger than 1,048,576 bytes, the limit for a manifest"):
        serving.open_source(repo.root).aliases(MODEL)


# --- the index file: bounded, and structurally checked -------------------------------------------------------


@needs_dev_zero
def test_an_endless_index_is_refused(tmp_path: Path) -> None:
    endless = tmp_path / "registry-index.json"
    os.symlink("/dev/zero", endless)
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from mlgate import serving\n"
        "try:\n    serving.open_source(sys.argv[1])\nexcept serving.ServingError as e:\n    print(type(e).__name__, e)\n"
    )
    proc = _run(code, str(endless), timeout=60)
    assert proc.stdout.startswith("SourceUnavailable"), proc.stdout + proc.stderr[-500:]
    assert "is larger than 256 MiB; refusing it unread" in proc.stdout


def _hostile(models_edit=None, top=None):
    def apply(data: dict) -> dict:
        if models_edit:
            models_edit(data["models"][MODEL])
        data.update(top or {})
        return data

    return apply


HOSTILE = {
    "alias-is-a-string": _hostile(lambda m: m["aliases"].update(champion="3")),
    "alias-is-huge": _hostile(lambda m: m["aliases"].update(champion=10**30)),
    "alias-is-bool": _hostile(lambda m: m["aliases"].update(champion=True)),
    "aliases-is-a-list": _hostile(lambda m: m.update(aliases=[3])),
    "versions-is-a-string": _hostile(lambda m: m.update(versions="3")),
    "version-key-not-a-number": _hostile(lambda m: m["versions"].update({"03": m["versions"]["3"]})),
    "size-negative": _hostile(lambda m: m["versions"]["3"].update(size=-1)),
    "size-huge": _hostile(lambda m: m["versions"]["3"].update(size=2**64)),
    "size-float": _hostile(lambda m: m["versions"]["3"].update(size=4096.0)),
    "sha256-short": _hostile(lambda m: m["versions"]["3"].update(sha256="abc")),
    "sha256-newline": _hostile(lambda m: m["versions"]["3"].update(sha256=m["versions"]["3"]["sha256"] + "\n")),
    "uri-is-a-number": _hostile(lambda m: m["versions"]["3"].update(uri=42)),
    "entry-is-null": _hostile(lambda m: m["versions"].update({"3": None})),
    "deprecated-is-a-dict": _hostile(lambda m: m.update(deprecated={"3": True})),
    "model-is-a-list": lambda data: {**data, "models": {**data["models"], MODEL: []}},
    "serial-is-a-string": _hostile(top={"serial": "9"}),
    "commit-is-a-list": _hostile(top={"commit": ["x"]}),
    "bad-model-name": _hostile(top={"models": {"../etc": {}}}),
}


@pytest.mark.parametrize("edit", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_index_is_a_clear_serving_error(world, tmp_path: Path, edit) -> None:
    repo, _ = world
    path = tmp_path / "registry-index.json"
    data = edit(build_index(repo.root, "main"))
    data["digest"] = serving.index_digest(data)
    path.write_text(json.dumps(data))
    with pytest.raises(serving.ServingError, match="is not a valid mlgate index: "):
        serving.resolve(f"models:/{MODEL}@champion", serving.open_source(path))


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "mlgate.index/v1", "models": {}, "x": NaN}',
        "[" * 100_000 + "]" * 100_000,
        '{"a": ' + "9" * 10_000 + "}",
        "\xff\xfe",
        '{"format": "mlgate.index/v1", "models": {}, "x": "\\ud800"}',
    ],
    ids=["nan", "deep", "huge-int", "binary", "lone-surrogate"],
)
def test_hostile_json_is_a_clear_serving_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "registry-index.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape") if text != "\xff\xfe" else b"\xff\xfe")
    with pytest.raises(serving.ServingError):
        serving.open_source(path)


def test_a_written_index_reads_back(world, tmp_path: Path) -> None:
    repo, art = world
    write_index(build_index(repo.root, "main"), tmp_path / "i.json")
    model = serving.resolve(f"models:/{MODEL}@champion", serving.open_source(tmp_path / "i.json"))
    assert serving.fetch(model, cache_dir=tmp_path / "c").read_bytes() == art.read_bytes()
