"""``mlgate index -o s3://...`` on a real S3 API (moto's server on 127.0.0.1, through s3fs): both layouts go up
whole, the sharded one shards first and index.json last, ``--previous`` reads the index in place, and a failure
half-way (access denied on one object, wrong credentials, no bucket) leaves the published index as it was."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.core.indexfmt import split_envelope
from mlgate.testing import RegistryRepo
from mlgate.testing.s3 import S3Server

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"


def _promote(repo: RegistryRepo, version: int) -> None:
    repo.edit_yaml(CHAMPION, version=version)
    repo.commit(f"promote v{version}")


def _index(run_cli, repo: RegistryRepo, *args: str | Path) -> tuple[int, str, str]:
    return run_cli("-C", repo.root, "index", "--ref", "main", *args)


def _shards_named(s3: S3Server, key: str) -> set[str]:
    header, payload = split_envelope(s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()) or ({}, b"")
    assert header
    prefix = key.rsplit("/", 1)[0]
    return {f"{prefix}/shards/{m}/{e['shard']['sha256']}.json" for m, e in json.loads(payload)["models"].items()}


def _errors(err: str) -> list[str]:
    """stderr but the warning every unsigned build prints: the error, in one line."""
    lines = [line for line in err.strip().splitlines() if "the index is NOT signed" not in line]
    assert all(line.startswith("mlgate: error: ") for line in lines), err
    return lines


def test_a_single_file_index_goes_up_whole_and_serves(repo: RegistryRepo, run_cli, s3: S3Server) -> None:
    url = s3.url("fleet/registry-index.json")
    code, _, err = _index(run_cli, repo, "-o", url)
    assert code == 0, err
    assert f"wrote {url}: " in err
    assert s3.keys() == ["fleet/registry-index.json"]  # the one object: nothing temporary beside it
    source = serving.open_source(url)
    assert serving.resolve("models:/fraud-detector@champion", source).version == 2
    local = repo.root.parent / "local.json"
    assert _index(run_cli, repo, "-o", local)[0] == 0
    stored = s3.client().get_object(Bucket=s3.bucket, Key="fleet/registry-index.json")["Body"].read()
    assert json.loads(stored)["models"] == json.loads(local.read_bytes())["models"]

    _promote(repo, 3)
    code, _, err = _index(run_cli, repo, "--previous", url, "-o", url)
    assert code == 0, err
    assert "note:" not in err  # the index in place was read from S3 and used
    assert serving.resolve("models:/fraud-detector@champion", serving.open_source(url)).version == 3


@pytest.mark.parametrize("given", ["idx", "idx/index.json"])
def test_a_sharded_index_goes_up_shards_first_and_a_replica_reads_only_its_shard(
    repo: RegistryRepo, run_cli, s3: S3Server, given: str
) -> None:
    code, _, err = _index(run_cli, repo, "--sharded", "-o", s3.url(given))
    assert code == 0, err
    assert f"wrote {s3.url('idx')}/index.json: " in err
    writes = [r.key for r in s3.traffic.log if r.method == "PUT"]
    assert writes[-1] == "idx/index.json" and writes.count("idx/index.json") == 1  # the top level last, once
    assert set(s3.keys()) == {"idx/index.json"} | _shards_named(s3, "idx/index.json")

    s3.traffic.clear()
    source = serving.open_source(s3.url("idx/index.json"), models=["fraud-detector"])
    assert serving.resolve("models:/fraud-detector/1", source).version == 1
    read = {r.key for r in s3.traffic.requests(method="GET") if r.received}
    assert read == {"idx/index.json"} | {k for k in _shards_named(s3, "idx/index.json") if "/fraud-detector/" in k}
    assert serving.resolve("models:/search-ranker@champion", source).version == 1  # from the top level alone


def test_an_incremental_sharded_upload_writes_only_what_changed_and_prunes_a_generation_late(
    repo: RegistryRepo, run_cli, s3: S3Server
) -> None:
    url = s3.url("idx")
    assert _index(run_cli, repo, "--sharded", "-o", url)[0] == 0
    first = _shards_named(s3, "idx/index.json")

    _promote(repo, 3)
    s3.traffic.clear()
    code, _, err = _index(run_cli, repo, "--sharded", "--previous", f"{url}/index.json", "-o", url)
    assert code == 0, err
    assert "note:" not in err
    second = _shards_named(s3, "idx/index.json")
    (new,) = second - first
    assert "/fraud-detector/" in new
    assert [r.key for r in s3.traffic.log if r.method == "PUT"] == [new, "idx/index.json"]
    # the replaced shard stays for a replica that read the previous index.json...
    assert set(s3.keys()) == {"idx/index.json"} | first | second

    _promote(repo, 2)
    code, _, err = _index(run_cli, repo, "--sharded", "--previous", f"{url}/index.json", "-o", url)
    assert code == 0, err
    # ...and goes one publication later; a foreign object under the prefix is never touched
    assert set(s3.keys()) == {"idx/index.json"} | second | _shards_named(s3, "idx/index.json")
    assert serving.resolve("models:/fraud-detector@champion", serving.open_source(f"{url}/index.json")).version == 2


def test_an_incremental_build_from_a_local_index_copies_the_unchanged_shards_up(
    repo: RegistryRepo, run_cli, s3: S3Server
) -> None:
    local = repo.root.parent / "idx"
    assert _index(run_cli, repo, "--sharded", "-o", local)[0] == 0
    _promote(repo, 3)
    code, _, err = _index(run_cli, repo, "--sharded", "--previous", local / "index.json", "-o", s3.url("idx"))
    assert code == 0, err
    assert set(s3.keys()) == {"idx/index.json"} | _shards_named(s3, "idx/index.json")
    source = serving.open_source(s3.url("idx/index.json"))
    for model in ("fraud-detector", "search-ranker"):
        assert serving.resolve(f"models:/{model}/1", source).version == 1  # every shard there, and the right one


@pytest.mark.parametrize("denied", ["idx/shards/fraud-detector/*", "idx/index.json"], ids=["a-shard", "index.json"])
def test_a_failed_upload_leaves_the_index_in_place_and_every_shard_it_names(
    repo: RegistryRepo, run_cli, s3: S3Server, monkeypatch: pytest.MonkeyPatch, denied: str
) -> None:
    import s3fs

    url = s3.url("idx")
    assert _index(run_cli, repo, "--sharded", "-o", url)[0] == 0
    before = s3.client().get_object(Bucket=s3.bucket, Key="idx/index.json")["Body"].read()
    published = _shards_named(s3, "idx/index.json")
    _promote(repo, 3)
    with s3.enforcing_auth(deny_writes=[denied]) as (access_key, secret):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        s3fs.S3FileSystem.clear_instance_cache()
        code, out, err = _index(run_cli, repo, "--sharded", "--previous", f"{url}/index.json", "-o", url)
        assert code == 2, out + err
        (line,) = _errors(err)
        assert line.startswith("mlgate: error: cannot write ") and "access denied" in line, err
    body = s3.client().get_object(Bucket=s3.bucket, Key="idx/index.json")["Body"].read()
    assert body == before  # the published top level, untouched
    assert published <= set(s3.keys())  # and every shard it names
    source = serving.open_source(f"{url}/index.json")
    assert serving.resolve("models:/fraud-detector@champion", source).version == 2
    assert serving.resolve("models:/fraud-detector/3", source).version == 3  # its shard read whole


def test_wrong_credentials_and_a_missing_bucket_are_one_line_exit_2(
    repo: RegistryRepo, run_cli, s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    for args in (["-o", "s3://no-such-bucket-mlgate/i.json"], ["--sharded", "-o", "s3://no-such-bucket-mlgate/i"]):
        code, out, err = _index(run_cli, repo, *args)
        assert code == 2, out + err
        (line,) = _errors(err)
        assert "no such bucket" in line, err
    assert "no-such-bucket-mlgate" not in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]

    with s3.enforcing_auth():
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        s3fs.S3FileSystem.clear_instance_cache()
        for args in (["-o", s3.url("i.json")], ["--sharded", "-o", s3.url("idx")]):
            code, out, err = _index(run_cli, repo, *args)
            assert code == 2, out + err
            (line,) = _errors(err)
            assert "access denied" in line and "check the credentials" in line, err
    assert s3.keys() == []


def test_any_fsspec_url_takes_the_index(repo: RegistryRepo, run_cli) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    try:
        assert _index(run_cli, repo, "-o", "memory://mlgate-test/single.json")[0] == 0
        assert _index(run_cli, repo, "--sharded", "-o", "memory://mlgate-test/idx")[0] == 0
        for url in ("memory://mlgate-test/single.json", "memory://mlgate-test/idx/index.json"):
            assert serving.resolve("models:/fraud-detector@champion", serving.open_source(url)).version == 2
        assert not [p for p in fs.find("/mlgate-test") if "partial" in p]  # no temporary left
    finally:
        fs.rm("/mlgate-test", recursive=True)


def test_the_help_example_publishes_to_s3(
    repo: RegistryRepo, run_cli, s3: S3Server, tmp_path: Path, monkeypatch
) -> None:
    """``mlgate index --help``'s S3 example, run as printed but for the bucket (the test's) and twice: a full build
    (no index there yet: a note), then an incremental one reading the published index back."""
    code, out, _ = run_cli("index", "--help")
    (example,) = [s for s in map(str.strip, out.splitlines()) if s.startswith("mlgate index") and "-o s3://" in s]
    args = shlex.split(re.sub(r"s3://acme-ml/", f"{s3.url()}/", example))[1:]
    monkeypatch.chdir(tmp_path)
    assert run_cli("index", "--generate-key", "index-key")[0] == 0
    code, _, err = run_cli("-C", repo.root, *args)
    assert code == 0 and "note: cannot read the previous index" in err and "no such object" in err, err
    _promote(repo, 3)
    code, _, err = run_cli("-C", repo.root, *args)
    assert code == 0 and "note:" not in err and "(1 shards written)" in err, err
    source = serving.open_source(s3.url("index/index.json"), trusted_keys=[tmp_path / "index-key.pub"])
    assert serving.resolve("models:/fraud-detector@champion", source).version == 3
