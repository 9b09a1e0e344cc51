"""``mlgate index --previous``: an incremental build equals a full build, over random sequences of registry changes
(registrations, promotions, deprecations, rollouts, policy stage changes, deletions, merges), in both layouts;
and a previous index that cannot be trusted is refused or ignored as the README says. Real git throughout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.cli import main
from mlgate.core.indexfmt import shard_path, split_envelope
from mlgate.registry.index import build_index, build_sharded, generate_key, load_signing_key, write_index, write_sharded
from mlgate.testing import RegistryRepo

MODELS = ("churn-predictor", "fraud-detector", "search-ranker")
VOLATILE = ("generated_at", "expires", "digest", "signatures")


def _versions(repo: RegistryRepo, model: str) -> list[int]:
    folder = repo.path(f"registry/models/{model}/versions")
    return sorted(int(p.name) for p in folder.iterdir()) if folder.is_dir() else []


def _held(repo: RegistryRepo, model: str) -> set[int]:
    folder = repo.path(f"registry/models/{model}/aliases")
    held = set()
    for f in folder.glob("*.yaml") if folder.is_dir() else []:
        data = repo.read_yaml(f"registry/models/{model}/aliases/{f.name}")
        held.add(data["version"])
        if "rollout" in data:
            held.add(data["rollout"]["candidate"])
    return held


def _alive(repo: RegistryRepo) -> list[str]:
    return [m for m in MODELS if repo.path(f"registry/models/{m}/model.yaml").is_file()]


def _apply(repo: RegistryRepo, step: tuple[str, int, int]) -> None:
    """One change to the registry, chosen by (kind, a, b); a change that does not apply is a no-op commit."""
    kind, a, b = step
    models = _alive(repo)
    if not models:
        return
    model = models[a % len(models)]
    versions = _versions(repo, model)
    deprecated = {d["version"] for d in repo.read_yaml(f"registry/models/{model}/model.yaml").get("deprecated", [])}
    usable = [v for v in versions if v not in deprecated]
    alias_dir = f"registry/models/{model}/aliases"
    if kind == "register" and versions:
        repo.add_version(model, max(versions) + 1, like=versions[0])
    elif kind == "promote" and usable:
        alias = ("champion", "challenger", "staging")[b % 3]
        repo.write(
            f"{alias_dir}/{alias}.yaml",
            {
                "apiVersion": "mlgate/v1",
                "kind": "Alias",
                "model": model,
                "alias": alias,
                "version": usable[b % len(usable)],
            },
        )
    elif kind == "deprecate":
        free = [v for v in usable if v not in _held(repo, model)]
        if free:
            data = repo.read_yaml(f"registry/models/{model}/model.yaml")
            data["deprecated"] = [
                *data.get("deprecated", []),
                {"version": free[b % len(free)], "reason": "Superseded.", "date": "2026-03-01T00:00:00Z"},
            ]
            repo.write(f"registry/models/{model}/model.yaml", data)
    elif kind == "rollout" and len(usable) > 1 and repo.path(f"{alias_dir}/champion.yaml").is_file():
        data = repo.read_yaml(f"{alias_dir}/champion.yaml")
        if "rollout" in data and b % 2:
            del data["rollout"]  # the rollout ends
        else:
            candidate = next(v for v in usable if v != data["version"])
            data["rollout"] = {"candidate": candidate, "mode": ("canary", "shadow")[b % 2], "percent": 1 + b % 50}
        repo.write(f"{alias_dir}/champion.yaml", data)
    elif kind == "stages":
        policy = repo.read_yaml("registry/policy.yaml")
        policy["stages"] = (
            {"Production": "champion", "Staging": "challenger"}
            if b % 2
            else {"Production": "challenger", "Staging": "champion"}
        )
        repo.write("registry/policy.yaml", policy)
    elif kind == "delete-alias":
        aliases = sorted(repo.path(alias_dir).glob("*.yaml")) if repo.path(alias_dir).is_dir() else []
        if aliases:
            repo.delete(f"{alias_dir}/{aliases[b % len(aliases)].name}")
    elif kind == "delete-model" and len(models) > 1:
        repo.delete(f"registry/models/{model}")


def _commit(repo: RegistryRepo, step: tuple[str, int, int], n: int) -> None:
    if step[2] % 4 == 3:  # a pull request: the change on a branch, merged with a merge commit (first parent: main)
        repo.branch(f"pr-{n}")
        _apply(repo, step)
        repo.commit(f"change {n}: {step[0]}")
        repo.merge(f"pr-{n}", message=f"Merge pull request #{n}")
    else:
        _apply(repo, step)
        repo.commit(f"change {n}: {step[0]}")


def _stable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in VOLATILE}


def _payload(folder: Path) -> dict[str, Any]:
    split = split_envelope((folder / "index.json").read_bytes())
    assert split is not None
    payload: dict[str, Any] = json.loads(split[1])
    return payload


def _named(payload: dict[str, Any]) -> set[str]:
    return {shard_path(m, e["shard"]["sha256"]) for m, e in payload["models"].items()}


def _shards(folder: Path, payload: dict[str, Any]) -> dict[str, bytes]:
    return {m: (folder / shard_path(m, e["shard"]["sha256"])).read_bytes() for m, e in payload["models"].items()}


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["register", "promote", "deprecate", "rollout", "stages", "delete-alias", "delete-model"]),
        st.integers(0, 50),
        st.integers(0, 50),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_an_incremental_build_equals_a_full_build(tmp_path_factory: pytest.TempPathFactory, steps) -> None:
    tmp = tmp_path_factory.mktemp("incr")
    repo = RegistryRepo.create(tmp / "repo")
    try:
        single, folder = tmp / "single.json", tmp / "sharded"
        write_index(build_index(repo.root, "main"), single)
        write_sharded(build_sharded(repo.root, "main"), folder)
        for n, step in enumerate(steps):
            _commit(repo, step, n)
            notes: list[str] = []
            incremental = build_index(repo.root, "main", previous=single, notes=notes)
            assert notes == []
            assert _stable(incremental) == _stable(build_index(repo.root, "main"))
            write_index(incremental, single)
            write_sharded(build_sharded(repo.root, "main", previous=folder / "index.json", notes=notes), folder)
            assert notes == []
            full = tmp / f"full-{n}"
            write_sharded(build_sharded(repo.root, "main"), full)
            assert _stable(_payload(folder)) == _stable(_payload(full))
            assert _shards(folder, _payload(folder)) == _shards(full, _payload(full))
        # a model keeps at most two shards: the one the index names and the one before (for a replica that read
        # the previous index.json)
        named = _named(_payload(folder))
        on_disk = [p.relative_to(folder).as_posix() for p in (folder / "shards").rglob("*.json")]
        assert named <= set(on_disk)
        for path in named:
            assert sum(1 for other in on_disk if other.split("/")[1] == path.split("/")[1]) <= 2
    finally:
        repo.close()


def test_an_incremental_build_rebuilds_only_what_changed(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "idx"
    assert main(["-C", str(repo.root), "index", "--ref", "main", "--sharded", "-o", str(folder)]) == 0
    before = _payload(folder)
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("promote")
    capsys.readouterr()
    args = ["-C", str(repo.root), "index", "--ref", "main", "--sharded", "--previous", str(folder / "index.json")]
    assert main([*args, "-o", str(folder)]) == 0
    assert "3 models (1 shards written)" in capsys.readouterr().err
    after = _payload(folder)
    assert after["serial"] == before["serial"] + 1
    assert {m for m in after["models"] if after["models"][m] != before["models"][m]} == {"fraud-detector"}
    # into another folder: the unchanged models' shards are copied from the previous one, checked
    assert main([*args, "-o", str(tmp_path / "elsewhere")]) == 0
    assert _shards(tmp_path / "elsewhere", after) == _shards(folder, after)


def test_a_previous_index_that_cannot_be_used_means_a_full_build(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    other = RegistryRepo.create(tmp_path / "other")
    other.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    other.commit("another history")
    write_index(build_index(other.root, "main"), tmp_path / "foreign.json")
    (tmp_path / "garbage.json").write_text("{not json")
    expected = _stable(build_index(repo.root, "main"))
    for previous, why in [
        (tmp_path / "foreign.json", "which this repository does not have"),
        (tmp_path / "garbage.json", "is not JSON"),
        (tmp_path / "missing.json", "cannot read the previous index"),
    ]:
        out = tmp_path / "out.json"
        capsys.readouterr()
        assert main(["-C", str(repo.root), "index", "--ref", "main", "--previous", str(previous), "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert "mlgate: note: " in err and why in err and "building the whole index" in err
        assert _stable(json.loads(out.read_text())) == expected
    other.close()


def test_a_previous_index_that_fails_its_digest_or_signature_is_refused(
    repo: RegistryRepo, tmp_path: Path, capsys
) -> None:
    key, other = generate_key(tmp_path / "key"), generate_key(tmp_path / "other")
    write_index(build_index(repo.root, "main", key=load_signing_key(other.private)), tmp_path / "theirs.json")
    write_index(build_index(repo.root, "main"), tmp_path / "unsigned.json")
    mine = build_index(repo.root, "main", key=load_signing_key(key.private))
    mine["models"]["fraud-detector"]["versions"]["2"]["uri"] = "https://attacker.example/model.bin"
    (tmp_path / "forged.json").write_text(
        json.dumps({**mine, "digest": __import__("mlgate.core.indexfmt", fromlist=["x"]).index_digest(mine)})
    )
    (tmp_path / "altered.json").write_text(json.dumps(mine))
    sharded = tmp_path / "sharded"
    write_sharded(build_sharded(repo.root, "main", key=load_signing_key(other.private)), sharded)
    cases = [
        ("theirs.json", [], "not signed by the signing key"),
        ("unsigned.json", [], "not signed by the signing key"),
        ("forged.json", [], "its signature does not match its content"),
        ("altered.json", [], "does not match its digest"),
        ("sharded/index.json", ["--sharded"], "not signed by the signing key"),
    ]
    for previous, extra, message in cases:
        out = tmp_path / ("out" if extra else "out.json")
        args = ["index", "--ref", "main", "--key", str(key.private), "--previous", str(tmp_path / previous), *extra]
        assert main(["-C", str(repo.root), *args, "-o", str(out)]) == 2, previous
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
    assert main(["-C", str(repo.root), "index", "--previous", str(tmp_path / "unsigned.json")]) == 2
    assert "--previous needs --ref" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ref", "main", "--sharded"], "--sharded writes a folder: give it with -o DIR"),
        (
            ["--ref", "main", "--sharded", "-o", "{tmp}/file"],
            "is not a folder: a sharded index is written into a folder",
        ),
        (["--previous", "x.json"], "--previous needs --ref REF"),
    ],
)
def test_sharded_usage_errors_are_one_line_exit_2(repo: RegistryRepo, tmp_path: Path, capsys, args, message) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["-C", str(repo.root), "index", *(a.format(tmp=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_an_index_published_to_an_object_store_is_the_one_written_to_a_folder(
    tmp_path_factory: pytest.TempPathFactory, steps
) -> None:
    """Published incrementally to an fsspec URL (memory://, in this process: the same code as s3:// but for the
    upload, see tests/s3/test_index_upload.py) after each change, both layouts hold what an incremental build
    writes into a folder: the same top level and single file, and exactly the shards the new and the replaced
    index name, byte for byte the folder's."""
    import fsspec

    tmp = tmp_path_factory.mktemp("remote")
    repo = RegistryRepo.create(tmp / "repo")
    fs = fsspec.filesystem("memory")
    url = f"memory://mlgate-{tmp.name}"
    try:
        folder = tmp / "sharded"
        write_sharded(build_sharded(repo.root, "main"), folder)
        write_sharded(build_sharded(repo.root, "main"), f"{url}/idx")
        write_index(build_index(repo.root, "main"), f"{url}/single.json")
        root = f"/mlgate-{tmp.name}/idx/"
        for n, step in enumerate(steps):
            _commit(repo, step, n)
            notes: list[str] = []
            replaced = _named(_payload_of(fs.cat_file(f"{root}index.json")))
            write_sharded(build_sharded(repo.root, "main", previous=folder / "index.json", notes=notes), folder)
            write_sharded(build_sharded(repo.root, "main", previous=f"{url}/idx/index.json", notes=notes), f"{url}/idx")
            single = build_index(repo.root, "main", previous=f"{url}/single.json", notes=notes)
            write_index(single, f"{url}/single.json")
            assert notes == []  # each previous index read back from the store and used
            local = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
            remote = {p[len(root) :]: fs.cat_file(p) for p in fs.find(root)}
            assert _stable(_payload_of(remote.pop("index.json"))) == _stable(_payload(folder))
            # the shards of the new index and of the one it replaced (a replica may have read it), each what the
            # folder holds too; a model's older shards go at once (a folder keeps them until the model changes)
            assert set(remote) == _named(_payload(folder)) | replaced
            assert all(remote[k] == local[k] for k in remote)
            assert _stable(json.loads(fs.cat_file(f"/mlgate-{tmp.name}/single.json"))) == _stable(
                build_index(repo.root, "main")
            )
    finally:
        repo.close()
        if fs.exists(f"/mlgate-{tmp.name}"):
            fs.rm(f"/mlgate-{tmp.name}", recursive=True)


def _payload_of(raw: bytes) -> dict[str, Any]:
    split = split_envelope(raw)
    assert split is not None
    payload: dict[str, Any] = json.loads(split[1])
    return payload
