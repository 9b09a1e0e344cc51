"""A serving fleet polling an index on S3 (moto's S3 server on 127.0.0.1, through s3fs): a poll with no change
asks for the object's metadata only and downloads no index body; a replica of one model reads only its shard."""

from __future__ import annotations

from pathlib import Path

from mlgate import serving
from mlgate.registry.index import build_index, build_sharded, write_index, write_sharded
from mlgate.testing import RegistryRepo
from mlgate.testing.s3 import S3Server

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"


def _upload(s3: S3Server, folder: Path, prefix: str) -> None:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        s3.client().put_object(Bucket=s3.bucket, Key=f"{prefix}/{path.relative_to(folder)}", Body=path.read_bytes())


def _promote(repo: RegistryRepo, version: int) -> None:
    repo.edit_yaml(CHAMPION, version=version)
    repo.commit(f"promote v{version}")


def test_an_unchanged_index_on_s3_is_polled_without_its_body(repo: RegistryRepo, tmp_path: Path, s3: S3Server) -> None:
    write_index(build_index(repo.root, "main"), tmp_path / "index.json")
    _upload(s3, tmp_path, "fleet")
    key = "fleet/index.json"
    source = serving.open_source(s3.url(key))
    watcher = serving.Watcher(source, lambda moves, error: None, interval=3600)
    downloaded = s3.traffic.body_bytes(key, "GET")
    assert downloaded >= (tmp_path / "index.json").stat().st_size  # the start-up read the whole index once
    assert [watcher.poll_once() for _ in range(5)] == [[]] * 5
    assert s3.traffic.body_bytes(key, "GET") == downloaded  # five polls: metadata only, no index body
    assert s3.traffic.count(key) > 0

    _promote(repo, 3)
    write_index(build_index(repo.root, "main"), tmp_path / "index.json")
    _upload(s3, tmp_path, "fleet")
    assert watcher.poll_once() == [serving.AliasMove("fraud-detector", "champion", 2, 3)]
    assert s3.traffic.body_bytes(key, "GET") > downloaded  # a change: read once
    assert serving.resolve("models:/fraud-detector@champion", source).version == 3
    after = s3.traffic.body_bytes(key, "GET")
    assert watcher.poll_once() == [] and s3.traffic.body_bytes(key, "GET") == after


def test_a_replica_of_one_model_reads_only_its_shard_on_s3(repo: RegistryRepo, tmp_path: Path, s3: S3Server) -> None:
    folder = tmp_path / "sharded"
    write_sharded(build_sharded(repo.root, "main"), folder)
    _upload(s3, folder, "idx")
    source = serving.open_source(s3.url("idx/index.json"), models=["fraud-detector"])
    assert serving.resolve("models:/fraud-detector/1", source).version == 1
    read = {r.key for r in s3.traffic.requests(method="GET") if r.received}
    shards = {r for r in read if r.startswith("idx/shards/")}
    assert shards and all(r.startswith("idx/shards/fraud-detector/") for r in shards), read
    # every alias resolves from the top level alone
    assert serving.resolve("models:/search-ranker@champion", source).version == 1
    assert {r.key for r in s3.traffic.requests(method="GET") if r.received} == read
