"""Serving tricks: whatever happened to the store, the index or the registry, a server never loads bytes the
registry did not approve, and it says why."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.registry.index import build_index, write_index
from mlgate.testing import RegistryRepo

V = "registry/models/search-ranker/versions/3"


@pytest.fixture
def world(repo: RegistryRepo, tmp_path: Path) -> tuple[RegistryRepo, Path]:
    """search-ranker v3 with a real artifact on disk, champion, committed on main."""
    art = tmp_path / "store" / "ranker-v3.bin"
    art.parent.mkdir()
    art.write_bytes(os.urandom(4096))
    repo.add_version("search-ranker", 3, like=2)
    data = repo.read_yaml(f"{V}/version.yaml")
    data["artifact"] = {
        "uri": art.as_uri(),
        "sha256": hashlib.sha256(art.read_bytes()).hexdigest(),
        "size": 4096,
        "format": "bin",
    }
    repo.write(f"{V}/version.yaml", data)
    repo.edit_yaml("registry/models/search-ranker/aliases/champion.yaml", version=3)
    repo.commit("v3 champion")
    return repo, art


def _fetch(repo: RegistryRepo, cache: Path) -> Path:
    return serving.fetch(
        serving.resolve("models:/search-ranker@champion", serving.open_source(repo.root)), cache_dir=cache
    )


def _clean(cache: Path) -> bool:
    return not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: bytes([b[0] ^ 1]) + b[1:],  # one byte changed
        lambda b: b[:-1],  # truncated
        lambda b: b + b"\\0",  # padded
        lambda b: os.urandom(len(b)),  # swapped for other bytes of the same size
    ],
    ids=["one-byte", "truncated", "padded", "swapped"],
)
def test_tampered_artifacts_are_refused(world, tmp_path: Path, damage) -> None:
    repo, art = world
    art.write_bytes(damage(art.read_bytes()))
    with pytest.raises(serving.ArtifactIntegrityError, match="refusing it"):
        _fetch(repo, tmp_path / "cache")
    assert _clean(tmp_path / "cache")


@pytest.mark.parametrize("poison", [b"poison", b"p" * 4096], ids=["other-size", "same-size"])
def test_a_poisoned_cache_entry_is_never_handed_out(world, tmp_path: Path, poison: bytes) -> None:
    repo, art = world
    first = _fetch(repo, tmp_path / "cache")
    first.write_bytes(poison)  # someone writes into the cache
    assert _fetch(repo, tmp_path / "cache").read_bytes() == art.read_bytes()


def test_an_index_altered_after_publishing_is_refused(world, tmp_path: Path) -> None:
    repo, _ = world
    path = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), path)
    data = json.loads(path.read_text())
    data["models"]["search-ranker"]["versions"]["3"]["uri"] = "https://evil.example/model.bin"
    path.write_text(json.dumps(data))
    with pytest.raises(serving.IndexDigestMismatch):
        serving.open_source(path)
    data["digest"] = "0" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(serving.IndexDigestMismatch):
        serving.open_source(path)


def test_an_alias_to_a_deprecated_version_is_not_served(world) -> None:
    repo, _ = world
    model = repo.read_yaml("registry/models/search-ranker/model.yaml")
    model["deprecated"] = [{"version": 3, "reason": "recalled"}]
    repo.write("registry/models/search-ranker/model.yaml", model)
    with pytest.raises(serving.DeprecatedVersion):
        serving.resolve("models:/search-ranker@champion", serving.open_source(repo.root))


@pytest.mark.parametrize(
    "spec", ["git+/nonexistent/registry.git#main", "/nonexistent/index.json", "/nonexistent/folder"]
)
def test_an_unreachable_source_at_startup_is_an_error(spec: str, tmp_path: Path) -> None:
    with pytest.raises(serving.SourceUnavailable):
        serving.open_source(spec, cache_dir=tmp_path / "git")


def test_a_symlinked_alias_in_a_checkout_is_not_followed(world, tmp_path: Path) -> None:
    repo, _ = world
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: mlgate/v1\nkind: Alias\nmodel: search-ranker\nalias: champion\nversion: 1\n")
    repo.delete("registry/models/search-ranker/aliases/champion.yaml")
    os.symlink(outside, repo.path("registry/models/search-ranker/aliases/champion.yaml"))
    with pytest.raises(serving.UnknownAlias, match="aliases: challenger"):
        serving.resolve("models:/search-ranker@champion", serving.open_source(repo.root))
