"""The artifact store and the serving index on a real S3 API (moto's server on 127.0.0.1, through s3fs): what
``mlgate register --store s3://...`` writes is what ``mlgate verify`` and ``mlgate.serving`` read back."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.core.indexfmt import index_digest
from mlgate.registry.artifacts import describe_local
from mlgate.testing import TrainingRun
from mlgate.testing.s3 import S3Server

MODEL = "fraud-detector"
BRANCH = f"mlgate/register-{MODEL}-v4"


@pytest.fixture
def run(tmp_path: Path) -> TrainingRun:
    return TrainingRun.write(tmp_path / "run", artifact=b"weights of a model\n" * 5000, metrics={"auc": 0.93})


def register(run_cli, repo, run: TrainingRun, store: str, *, model: str = MODEL, artifact: Path | None = None):
    args = run.register_args(model)
    if artifact is not None:
        args[args.index("--artifact") + 1] = str(artifact)
    return run_cli("-C", repo.root, *args, "--as", "alice", "--no-pr", "--store", store)


def publish_index(run_cli, repo, s3: S3Server, ref: str = BRANCH, key: str = "registry-index.json") -> str:
    """``mlgate index`` of ``ref``, put on S3 as a publisher would (``aws s3 cp``); its s3:// URL."""
    out = repo.root.parent / "registry-index.json"
    code, _, err = run_cli("-C", repo.root, "index", "--ref", ref, "-o", out)
    assert code == 0, err
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=out.read_bytes())
    return s3.url(key)


def test_a_file_registered_into_s3_verifies_and_is_served_from_an_index_on_s3(
    repo, run, run_cli, s3: S3Server, tmp_path: Path
) -> None:
    code, _, err = register(run_cli, repo, run, s3.url("models"))
    assert code == 0, err
    digest = hashlib.sha256(run.artifact.read_bytes()).hexdigest()
    key = f"models/sha256/{digest[:2]}/{digest}"
    # the one object, whole, at its content address: no temporary or partial object left beside it
    assert s3.keys() == [key]
    assert s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read() == run.artifact.read_bytes()

    code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
    assert code == 0, out + err
    assert out.startswith("OK") and s3.url(key) in out

    source = serving.open_source(publish_index(run_cli, repo, s3))
    model = serving.resolve(f"models:/{MODEL}/4", source)
    assert model.artifact_uri == s3.url(key) and model.sha256 == digest
    path = serving.fetch(model, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == run.artifact.read_bytes()
    gets = s3.traffic.count(key, "GET")
    assert serving.fetch(model, cache_dir=tmp_path / "cache") == path
    assert s3.traffic.count(key, "GET") == gets  # a cache hit reads nothing from S3


def test_a_folder_registered_into_s3_is_its_deterministic_archive_and_unpacks(
    repo, run, run_cli, s3: S3Server, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 64)
    code, _, err = register(run_cli, repo, run, s3.url("models/"), artifact=folder)
    assert code == 0, err
    local = describe_local(folder)  # the archive's digest, as registering into a folder store would record it
    key = f"models/sha256/{local.sha256[:2]}/{local.sha256}"
    assert s3.keys() == [key]
    stored = s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == local.sha256 and len(stored) == local.size
    with tarfile.open(fileobj=io.BytesIO(stored)) as tar:
        assert sorted(tar.getnames()) == ["MLmodel", "sub", "sub/weights.bin"]

    code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
    assert code == 0, out + err

    source = serving.open_source(publish_index(run_cli, repo, s3))
    model = serving.resolve(f"models:/{MODEL}/4", source)
    assert model.format == "tar"
    unpacked = serving.unpack(model, cache_dir=tmp_path / "cache")
    assert (unpacked / "MLmodel").read_text() == "flavors: {}\n"
    assert (unpacked / "sub" / "weights.bin").read_bytes() == bytes(range(256)) * 64
    inside = serving.fetch(serving.resolve(f"models:/{MODEL}/4/sub/weights.bin", source), cache_dir=tmp_path / "c2")
    assert inside.read_bytes() == bytes(range(256)) * 64


def test_the_same_digest_registered_twice_is_uploaded_once(repo, run, run_cli, s3: S3Server) -> None:
    code, _, err = register(run_cli, repo, run, s3.url("models"))
    assert code == 0, err
    (key,) = s3.keys()
    writes, first = len(s3.traffic.writes(key)), s3.head(key)
    assert writes >= 1
    s3.traffic.clear()

    code, _, err = register(run_cli, repo, run, s3.url("models"), model="churn-predictor")
    assert code == 0, err
    assert s3.traffic.writes(key) == []  # no PUT, no multipart upload: one metadata request decided it
    assert [r.method for r in s3.traffic.requests(key)] == ["HEAD"]
    again = s3.head(key)
    assert (again["LastModified"], again["ETag"]) == (first["LastModified"], first["ETag"])
    assert s3.keys() == [key]


def test_an_object_of_the_wrong_size_at_the_address_is_replaced(repo, run, run_cli, s3: S3Server) -> None:
    digest = hashlib.sha256(run.artifact.read_bytes()).hexdigest()
    key = f"models/sha256/{digest[:2]}/{digest}"
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=b"half an upload from another tool")
    code, _, err = register(run_cli, repo, run, s3.url("models"))
    assert code == 0, err
    assert s3.client().get_object(Bucket=s3.bucket, Key=key)["Body"].read() == run.artifact.read_bytes()
    code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
    assert code == 0, out + err


def test_a_signed_index_on_s3_is_authenticated(repo, run, run_cli, s3: S3Server, tmp_path: Path) -> None:
    code, _, err = register(run_cli, repo, run, s3.url("models"))
    assert code == 0, err
    code, _, err = run_cli("index", "--generate-key", tmp_path / "key")
    assert code == 0, err
    index = tmp_path / "registry-index.json"
    code, _, err = run_cli("-C", repo.root, "index", "--ref", BRANCH, "--key", tmp_path / "key", "-o", index)
    assert code == 0, err
    s3.client().put_object(Bucket=s3.bucket, Key="registry-index.json", Body=index.read_bytes())

    source = serving.open_source(
        s3.url("registry-index.json"), trusted_keys=[tmp_path / "key.pub"], state_file=tmp_path / "state.json"
    )
    assert serving.resolve(f"models:/{MODEL}/4", source).version == 4
    # another bucket in the artifact's URI and the digest recomputed, as an attacker who can write the bucket would
    tampered = json.loads(index.read_bytes().replace(s3.bucket.encode(), b"attacker-bucket"))
    tampered["digest"] = index_digest(tampered)
    s3.client().put_object(Bucket=s3.bucket, Key="registry-index.json", Body=json.dumps(tampered).encode())
    with pytest.raises(serving.IndexBadSignature):
        serving.open_source(
            s3.url("registry-index.json"), trusted_keys=[tmp_path / "key.pub"], state_file=tmp_path / "state.json"
        )
