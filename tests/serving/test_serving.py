"""Serving: light import, sources, resolve, sha256-verified fetch, watch; real files, real git."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.change.propose import promote, register, rollback
from mlgate.cli import main
from mlgate.errors import UsageError
from mlgate.forge.local import LocalForge
from mlgate.registry.index import build_index, write_index
from mlgate.testing import RegistryRepo, TrainingRun, merge_approved
from tests import ROOT
from tests.serving.indexes import index_of

README = (ROOT / "README.md").read_text()


#: what a serving process must not pay for at start-up: the CLI, PyGithub, schema validation, GitPython, fsspec,
#: signatures (until an index is checked), what only fetching, git sources and watching use, and mlgate's own
#: checks, write side, forges, audit, registry layer and domain model
HEAVY = ("click", "github", "jsonschema", "git", "fsspec", "cryptography", "subprocess", "shutil", "tempfile")
HEAVY += ("threading", "tarfile", "base64", "datetime", "pathlib", "mlgate.core.model", "mlgate.infra.files")
HEAVY += ("mlgate.infra.keys",)
HEAVY_MLGATE = ("mlgate.check", "mlgate.change", "mlgate.forge", "mlgate.registry", "mlgate.cli", "mlgate.audit")


def test_import_is_light() -> None:
    assert all(importlib.util.find_spec(m) for m in HEAVY_MLGATE)  # real names: a renamed module fails here
    code = f"import sys, mlgate.serving; print([m for m in {HEAVY + HEAVY_MLGATE!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    # and the same probe sees an import when there is one: the validator does load the registry layer
    code = f"import sys, mlgate.check.run; print([m for m in {HEAVY_MLGATE!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'mlgate.check'" in out and "'mlgate.registry'" in out


def test_every_public_name_is_there_though_some_load_when_first_asked_for() -> None:
    # names serving re-exports from modules a cold start does not need resolve when asked for, and dir() lists them
    code = (
        "import sys; from mlgate import serving; "
        "missing = [n for n in serving.__all__ if getattr(serving, n, None) is None]; "
        "print(missing, sorted(set(serving.__all__) - set(dir(serving))), 'mlgate.infra.keys' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] [] True"
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        serving.no_such_name  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("sharded", [False, True])
def test_a_cold_start_from_an_index_stays_light(served, tmp_path: Path, sharded: bool) -> None:
    # opening an index and resolving from it (what a server does at start-up) loads nothing HEAVY either:
    # cryptography only to check a signature, the rest only to fetch, watch or read git
    repo, _, _ = served
    location = index_of(repo.root, tmp_path, sharded=sharded)
    code = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
        "serving.resolve('models:/fraud-detector@champion', s); serving.resolve('models:/fraud-detector/1', s); "
        f"print([m for m in {HEAVY + HEAVY_MLGATE!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(location)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def served(tmp_path: Path) -> tuple[RegistryRepo, LocalForge, dict[int, Path]]:
    """A registry whose fraud-detector v1 and v2 have real artifacts on disk, v1 champion, merged by PR."""
    repo = RegistryRepo.create(tmp_path / "repo", example=False)
    repo.write(
        "registry/policy.yaml",
        "apiVersion: mlgate/v1\nkind: Policy\nadmins: [pat]\naliases:\n  '*': {approvals: {min: 1}}\n",
    )
    repo.commit("policy")
    forge = LocalForge(repo.root)
    files = {}
    for v in (1, 2):
        training = TrainingRun.write(tmp_path / f"v{v}", artifact=os.urandom(3000 + v), metrics={"auc": 0.9 + v / 100})
        files[v] = training.artifact
        p = register(
            repo.root,
            "fraud-detector",
            author="alice",
            model_description="Fraud.",
            owners=["alice"],
            forge=forge,
            **training.register_kwargs(),
        )
        merge_approved(repo.root, forge, p.pr.number, merger="pat")
    p = promote(repo.root, "fraud-detector", 1, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "bob")
    return repo, forge, files


def test_resolve_and_fetch_from_every_kind_of_source(served, tmp_path: Path) -> None:
    repo, _, files = served
    index = tmp_path / "index.json"
    assert main(["-C", str(repo.root), "index", "--ref", "main", "-o", str(index)]) == 0
    sources = [
        serving.open_source(index),
        serving.open_source(repo.root),
        serving.open_source(f"git+{repo.root}#main", cache_dir=tmp_path / "gitcache"),
    ]
    for source in sources:
        model = serving.resolve("models:/fraud-detector@champion", source)
        assert (model.name, model.alias, model.version) == ("fraud-detector", "champion", 1), source.label
        assert model.sha256 == hashlib.sha256(files[1].read_bytes()).hexdigest()
        assert model.commit in (repo.rev("main"), None)
        path = serving.fetch(model, cache_dir=tmp_path / "cache")
        assert path.read_bytes() == files[1].read_bytes()
        assert path == tmp_path / "cache" / "sha256" / model.sha256[:2] / model.sha256
        assert serving.resolve("models:/fraud-detector/2", source).version == 2


def test_mlflow_stages_and_errors_that_list_what_exists(served, tmp_path: Path) -> None:
    repo, _, _ = served
    source = serving.open_source(repo.root)
    # the default stages: Production is the champion (v1), Staging the challenger (none yet)
    for uri in ("models:/fraud-detector/Production", "models:/fraud-detector/PRODUCTION"):
        assert serving.resolve(uri, source).version == 1
    with pytest.raises(serving.UnknownAlias, match=r"no version in stage Staging \(the alias 'challenger'"):
        serving.resolve("models:/fraud-detector/Staging", source)
    # policy.yaml's stages: decides, on every replica alike
    repo.write(
        "registry/policy.yaml",
        "apiVersion: mlgate/v1\nkind: Policy\nadmins: [pat]\nstages: {Production: prod, Staging: champion}\n"
        "aliases:\n  '*': {approvals: {min: 1}}\n",
    )
    repo.write(
        "registry/models/fraud-detector/aliases/prod.yaml",
        {"apiVersion": "mlgate/v1", "kind": "Alias", "model": "fraud-detector", "alias": "prod", "version": 2},
    )
    assert serving.resolve("models:/fraud-detector/Production", source).version == 2
    assert serving.resolve("models:/fraud-detector/staging", source).version == 1
    with pytest.raises(serving.UnknownVersion, match="has no version in stage None"):
        serving.resolve("models:/fraud-detector/None", source)  # v1 and v2 are both in a stage
    with pytest.raises(serving.UnknownModel, match=r"no model 'fraud' .*; models: fraud-detector"):
        serving.resolve("models:/fraud@champion", source)
    with pytest.raises(serving.UnknownAlias, match="aliases: champion, prod"):
        serving.resolve("models:/fraud-detector@shadow", source)
    with pytest.raises(serving.UnknownVersion, match="versions: 1, 2"):
        serving.resolve("models:/fraud-detector/7", source)


def test_latest_and_archived_as_mlflow_means_them(served) -> None:
    repo, _, _ = served
    source = serving.open_source(repo.root)
    for uri in ("models:/fraud-detector/latest", "models:/fraud-detector@latest", "models:/fraud-detector/LATEST"):
        assert serving.resolve(uri, source).version == 2
    assert serving.resolve("models:/fraud-detector/None", source).version == 2  # v1 is the champion
    assert serving.resolve("models:/fraud-detector@Champion", source).version == 1  # aliases in any case
    data = repo.read_yaml("registry/models/fraud-detector/model.yaml")
    data["deprecated"] = [{"version": 2, "reason": "leaked labels"}]
    repo.write("registry/models/fraud-detector/model.yaml", data)
    # the newest version is deprecated: latest still means it (as in MLflow), and serving still refuses it
    with pytest.raises(serving.DeprecatedVersion, match="models:/fraud-detector/latest is version 2"):
        serving.resolve("models:/fraud-detector/latest", source)
    assert serving.resolve("models:/fraud-detector/Archived", source, allow_deprecated=True).version == 2
    with pytest.raises(serving.UnknownVersion, match="has no version in stage None"):
        serving.resolve("models:/fraud-detector/None", source)
    with pytest.raises(UsageError, match="'v2' is reserved"):
        serving.resolve("models:/fraud-detector@v2", source)


def test_a_path_inside_a_folder_artifact(tmp_path: Path) -> None:
    """models:/NAME/VERSION/PATH is a file of the folder artifact, unpacked from the verified archive."""
    repo = RegistryRepo.create(tmp_path / "repo", example=False)
    repo.write(
        "registry/policy.yaml",
        "apiVersion: mlgate/v1\nkind: Policy\nadmins: [pat]\naliases:\n  '*': {approvals: {min: 1}}\n",
    )
    repo.commit("policy")
    folder = tmp_path / "model"
    (folder / "data").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "data" / "weights.bin").write_bytes(os.urandom(2048))
    forge = LocalForge(repo.root)
    kwargs = {**TrainingRun.write(tmp_path / "run", metrics={"auc": 0.9}).register_kwargs(), "artifact": str(folder)}
    p = register(
        repo.root,
        "fraud-detector",
        store=str(tmp_path / "store"),
        **kwargs,
        author="alice",
        model_description="Fraud.",
        owners=["alice"],
        forge=forge,
    )
    merge_approved(repo.root, forge, p.pr.number, merger="pat")
    source = serving.open_source(repo.root)
    cache = tmp_path / "cache"
    model = serving.resolve("models:/fraud-detector/1/data/weights.bin", source)
    assert model.path == "data/weights.bin" and model.format == "tar"
    got = serving.fetch(model, cache_dir=cache)
    assert got.read_bytes() == (folder / "data" / "weights.bin").read_bytes()
    whole = serving.unpack(serving.resolve("models:/fraud-detector/latest", source), cache_dir=cache)
    assert sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*")) == [
        "MLmodel",
        "data",
        "data/weights.bin",
    ]
    with pytest.raises(serving.ArtifactPathNotFound, match="has no 'nothing/here'"):
        serving.fetch(serving.resolve("models:/fraud-detector/1/nothing/here", source), cache_dir=cache)
    # an archive altered in the store is refused before anything is unpacked from it
    stored = next((tmp_path / "store").rglob(model.sha256))
    blob = bytearray(stored.read_bytes())
    blob[600] ^= 0xFF  # one byte inside the first file's content
    stored.write_bytes(bytes(blob))
    with pytest.raises(serving.ArtifactIntegrityError, match="refusing it"):
        serving.fetch(model, cache_dir=tmp_path / "cache2")


def test_a_hostile_archive_is_refused_whole(tmp_path: Path) -> None:
    """An archive that would write outside its folder, or holds a link, is refused, even with the right digest."""
    import io
    import tarfile

    for name, kind in (("../escape", tarfile.REGTYPE), ("/abs", tarfile.REGTYPE), ("ok/link", tarfile.SYMTYPE)):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 3
                tar.addfile(info, io.BytesIO(b"bad"))
        blob = tmp_path / "blob.tar"
        blob.write_bytes(buf.getvalue())
        digest = hashlib.sha256(buf.getvalue()).hexdigest()
        model = serving.ResolvedModel(
            "models:/m/1/x", "m", None, 1, blob.as_uri(), digest, len(buf.getvalue()), "tar", None, {}, "x"
        )
        with pytest.raises(serving.ArtifactIntegrityError, match="refusing it"):
            serving.unpack(model, cache_dir=tmp_path / "cache")
        assert not (tmp_path / "escape").exists() and not (tmp_path / "cache" / "abs").exists()
        leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".")]
        assert leftovers == []


def test_a_deprecated_version_is_not_served(served) -> None:
    repo, _, _ = served
    data = repo.read_yaml("registry/models/fraud-detector/model.yaml")
    data["deprecated"] = [{"version": 1, "reason": "leak"}]
    repo.write("registry/models/fraud-detector/model.yaml", data)
    source = serving.open_source(repo.root)
    with pytest.raises(serving.DeprecatedVersion, match="deprecated; refusing to serve it"):
        serving.resolve("models:/fraud-detector@champion", source)
    assert serving.resolve("models:/fraud-detector@champion", source, allow_deprecated=True).version == 1


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()]


@pytest.mark.parametrize("damage", ["one-byte", "truncated", "longer"])
def test_damaged_artifacts_are_refused_and_leave_the_cache_clean(served, tmp_path: Path, damage: str) -> None:
    repo, _, files = served
    model = serving.resolve("models:/fraud-detector@champion", serving.open_source(repo.root))
    data = bytearray(files[1].read_bytes())
    if damage == "one-byte":
        data[100] ^= 0x01
    elif damage == "truncated":
        data = data[:-10]
    else:
        data += b"x"
    files[1].write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(serving.ArtifactIntegrityError, match="refusing it"):
        serving.fetch(model, cache_dir=cache)
    assert _leftovers(cache) == []


def test_a_cache_hit_reads_nothing_from_the_store(served, tmp_path: Path) -> None:
    repo, _, files = served
    model = serving.resolve("models:/fraud-detector@champion", serving.open_source(repo.root))
    first = serving.fetch(model, cache_dir=tmp_path / "cache")
    files[1].unlink()  # the store is gone: a hit must not need it
    assert serving.fetch(model, cache_dir=tmp_path / "cache") == first


def test_fsspec_memory_filesystem(tmp_path: Path) -> None:
    import fsspec

    payload = b"weights" * 1000
    with fsspec.open("memory://store/model.bin", "wb") as fh:
        fh.write(payload)
    digest = hashlib.sha256(payload).hexdigest()
    good = serving.ResolvedModel(
        "models:/m@a", "m", "a", 1, "memory://store/model.bin", digest, len(payload), "bin", None
    )
    assert serving.fetch(good, cache_dir=tmp_path / "c").read_bytes() == payload
    bad = serving.ResolvedModel(
        "models:/m@a", "m", "a", 1, "memory://store/model.bin", "0" * 64, len(payload), "bin", None
    )
    with pytest.raises(serving.ArtifactIntegrityError):
        serving.fetch(bad, cache_dir=tmp_path / "c2")
    missing = serving.ResolvedModel("models:/m@a", "m", "a", 1, "memory://store/nope.bin", digest, 1, "bin", None)
    with pytest.raises(serving.SourceUnavailable):
        serving.fetch(missing, cache_dir=tmp_path / "c3")


def test_a_missing_fsspec_backend_names_its_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # s3fs made unimportable (whether or not this machine has it), so the test always asserts something
    monkeypatch.setitem(sys.modules, "s3fs", None)
    model = serving.ResolvedModel("models:/m@a", "m", "a", 1, "s3://bucket/model.bin", "0" * 64, 1, "bin", None)
    with pytest.raises(serving.StoreError, match=r"needs the package s3fs \(pip install s3fs\)"):
        serving.fetch(model, cache_dir=tmp_path)


def test_two_processes_fetching_the_same_digest(served, tmp_path: Path) -> None:
    repo, _, _ = served
    cache = tmp_path / "cache"
    code = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
        "m = serving.resolve('models:/fraud-detector@champion', s); print(serving.fetch(m, cache_dir=sys.argv[2]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(repo.root), str(cache)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate()[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    assert len(_leftovers(cache)) == 1


def test_every_source_resolves_stages_and_latest_alike(served, tmp_path: Path) -> None:
    """A checkout, a git URL and an index answer models:/NAME/Production by the same policy.yaml stages:."""
    repo, _, _ = served
    repo.write(
        "registry/policy.yaml",
        "apiVersion: mlgate/v1\nkind: Policy\nadmins: [pat]\nstages: {Production: prod}\n"
        "aliases:\n  '*': {approvals: {min: 1}}\n",
    )
    repo.write(
        "registry/models/fraud-detector/aliases/prod.yaml",
        {"apiVersion": "mlgate/v1", "kind": "Alias", "model": "fraud-detector", "alias": "prod", "version": 2},
    )
    repo.commit("stages")
    index = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), index)
    data = json.loads(index.read_text())
    assert data["stages"] == {"Production": "prod"}
    assert data["models"]["fraud-detector"]["owners"] == ["alice"]  # what MLflow's entities show, without git
    sources = [repo.root, f"git+{repo.root}#main", index]
    for spec in sources:
        source = (
            serving.open_source(spec, cache_dir=tmp_path / "git") if "git+" in str(spec) else serving.open_source(spec)
        )
        assert source.stages() == {"Production": "prod"}, spec
        assert serving.resolve("models:/fraud-detector/Production", source).version == 2, spec
        assert serving.resolve("models:/fraud-detector/latest", source).version == 2, spec
        with pytest.raises(serving.UnknownAlias, match="maps no alias to Staging"):
            serving.resolve("models:/fraud-detector/Staging", source)
    data["stages"] = {"Production": "../x"}
    data.pop("digest")
    from mlgate.core.indexfmt import index_digest

    data["digest"] = index_digest(data)
    index.write_text(json.dumps(data))
    with pytest.raises(serving.ServingError, match="'stages' must map Production and/or Staging to alias names"):
        serving.open_source(index)


def test_index_digest_protects_the_index(served, tmp_path: Path) -> None:
    repo, _, _ = served
    path = tmp_path / "index.json"
    write_index(build_index(repo.root, "main"), path)
    data = json.loads(path.read_text())
    data["models"]["fraud-detector"]["aliases"]["champion"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(serving.IndexDigestMismatch, match="does not match its digest"):
        serving.open_source(path)
    path.write_text(path.read_text()[:200])
    with pytest.raises(serving.IndexDigestMismatch):
        serving.open_source(path)
    with pytest.raises(serving.SourceUnavailable):
        serving.open_source(tmp_path / "missing.json")


def test_git_source_cache_is_reused_and_staleness_is_explicit(served, tmp_path: Path) -> None:
    repo, _, _ = served
    cache = tmp_path / "gitcache"
    url = str(repo.root)
    serving.open_source(f"git+{url}#main", cache_dir=cache)
    moved = tmp_path / "moved"
    repo.root.rename(moved)  # the remote is unreachable at the next start
    with pytest.raises(serving.SourceUnavailable, match="cannot read"):
        serving.open_source(f"git+{url}#main", cache_dir=cache)
    stale = serving.open_source(f"git+{url}#main", cache_dir=cache, allow_stale=True)
    assert serving.resolve("models:/fraud-detector@champion", stale).version == 1


def test_watch_sees_a_promotion_and_then_a_revert(served, tmp_path: Path) -> None:
    repo, forge, _ = served
    source = serving.open_source(f"git+{repo.root}#main", cache_dir=tmp_path / "gitcache")
    seen: list = []
    watcher = serving.Watcher(source, lambda moves, error: seen.append((moves, error)), interval=3600)
    assert watcher.poll_once() == []
    p = promote(repo.root, "fraud-detector", 2, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "bob")
    assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 1, 2)]
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "bob")
    assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 2, 1)]
    assert [m for m, e in seen] == [
        [serving.AliasMove("fraud-detector", "champion", 1, 2)],
        [serving.AliasMove("fraud-detector", "champion", 2, 1)],
    ]
    # the source goes away: the error is reported, the last good state kept, nothing raised
    repo.root.rename(tmp_path / "gone")
    assert watcher.poll_once() == []
    assert isinstance(seen[-1][1], serving.SourceUnavailable)
    assert watcher.state[("fraud-detector", "champion")] == 1


def test_watch_thread_stops_cleanly(served) -> None:
    repo, _, _ = served
    watcher = serving.watch(serving.open_source(repo.root), lambda m, e: None, interval=0.01)
    watcher.stop()
    assert not watcher.thread.is_alive()


def test_verify_command(served, capsys) -> None:
    repo, _, files = served
    assert main(["-C", str(repo.root), "verify", "fraud-detector"]) == 0
    assert capsys.readouterr()[0].splitlines()[-1] == "2 of 2 artifacts verified"
    files[2].write_bytes(b"tampered")
    assert main(["-C", str(repo.root), "verify", "--json"]) == 1
    results = json.loads(capsys.readouterr()[0])
    assert [r["status"] for r in results] == ["ok", "mismatch"]
    assert main(["-C", str(repo.root), "verify", "fraud-detector@champion"]) == 0


def test_the_readme_serving_example_runs(served, tmp_path: Path) -> None:
    repo, forge, files = served
    code = re.search(r"<!-- serving-example -->\n```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 15
    from mlgate.registry.index import generate_key, load_signing_key

    generate_key(tmp_path / "index-key")
    write_index(
        build_index(repo.root, "main", key=load_signing_key(tmp_path / "index-key")), tmp_path / "registry-index.json"
    )
    env = {**os.environ, "MLGATE_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nprint(len(model_bytes), current.version)\nwatcher.stop()\n"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(files[1].stat().st_size), "1"]


def test_register_into_a_memory_store_then_serve_it(tmp_path: Path) -> None:
    repo = RegistryRepo.create(tmp_path / "repo")
    training = TrainingRun.write(tmp_path / "training", artifact=b"\x01" * 5000)
    p = register(
        repo.root,
        "search-ranker",
        author="alice",
        store="memory://mlgate-store",
        open_pr=False,
        **training.register_kwargs(),
    )
    source = serving.open_source(repo.root)
    repo.switch(p.branch)
    model = serving.resolve("models:/search-ranker/3", source)
    assert model.artifact_uri == f"memory://mlgate-store/sha256/{model.sha256[:2]}/{model.sha256}"
    assert serving.fetch(model, cache_dir=tmp_path / "cache").read_bytes() == training.artifact.read_bytes()


def test_a_store_without_its_package_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlgate.errors import EXIT_USAGE, StoreError
    from mlgate.registry.artifacts import upload

    monkeypatch.setitem(sys.modules, "gcsfs", None)  # absent, whether or not this machine has it
    art = tmp_path / "m.bin"
    art.write_bytes(b"x")
    with pytest.raises(StoreError, match=r"needs gcsfs \(pip install gcsfs\)") as raised:
        upload(art, "gs://bucket/models")
    assert raised.value.exit_code == EXIT_USAGE
