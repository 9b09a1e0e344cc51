"""What a team hits with an S3 store, on a real S3 API (moto's server): an object altered or deleted after
registration, a missing bucket, wrong credentials, an upload that fails half-way. Each is refused in one line that
names the version or the URL, and leaves nothing behind: no object, no pending multipart upload, no cache entry."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import fsspec
import pytest

from mlgate import serving
from mlgate.errors import StoreError
from mlgate.infra.store import put
from mlgate.testing import TrainingRun
from mlgate.testing.s3 import S3Server
from tests.s3.test_register_serve import BRANCH, MODEL, publish_index, register

MiB = 1 << 20


@pytest.fixture
def run(tmp_path: Path) -> TrainingRun:
    return TrainingRun.write(tmp_path / "run", artifact=b"0123456789abcdef" * 4096, metrics={"auc": 0.93})


@pytest.fixture
def registered(repo, run, run_cli, s3: S3Server) -> tuple[str, serving.ResolvedModel]:
    """fraud-detector v4 registered into the S3 store and resolved from an index on S3: its key and model."""
    code, _, err = register(run_cli, repo, run, s3.url("models"))
    assert code == 0, err
    (key,) = s3.keys("models/")
    model = serving.resolve(f"models:/{MODEL}/4", serving.open_source(publish_index(run_cli, repo, s3)))
    return key, model


def cached_files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if not p.is_dir()) if cache.exists() else []


@pytest.mark.parametrize(
    "altered",
    [
        lambda b: b[:-1] + b"!",  # same size, one byte changed
        lambda b: b + b"appended",  # longer
        lambda b: b[: len(b) // 2],  # truncated
    ],
    ids=["same-size", "longer", "truncated"],
)
def test_an_object_altered_on_s3_fails_verify_and_fetch(
    repo, run, run_cli, s3: S3Server, registered, tmp_path: Path, altered
) -> None:
    key, model = registered
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=altered(run.artifact.read_bytes()))

    code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
    assert code == 1, out + err
    bad = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert bad == [f"MISMATCH   {MODEL} v4  {s3.url(key)}"], out
    assert out.count("MISMATCH") == 1

    cache = tmp_path / "cache"
    with pytest.raises(serving.ArtifactIntegrityError, match=f"{MODEL}/4: {s3.url(key)} has .* refusing it"):
        serving.fetch(model, cache_dir=cache)
    assert cached_files(cache) == []  # nothing half-written, nothing a later fetch could mistake for the artifact


def test_a_deleted_object_is_unreadable_naming_its_url(repo, run_cli, s3: S3Server, registered, tmp_path: Path) -> None:
    key, model = registered
    s3.client().delete_object(Bucket=s3.bucket, Key=key)

    code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
    assert code == 1, out + err
    assert out.startswith(f"UNREADABLE {MODEL} v4  {s3.url(key)}")
    assert f"no such object: '{s3.url(key)}'" in out

    with pytest.raises(serving.SourceUnavailable, match=f"cannot fetch {s3.url(key)}: .*no such object"):
        serving.fetch(model, cache_dir=tmp_path / "cache")
    assert cached_files(tmp_path / "cache") == []


def test_a_missing_bucket_is_an_exit_2_error_and_is_never_created(repo, run, run_cli, s3: S3Server) -> None:
    before = repo.status()
    missing = "s3://no-such-bucket-mlgate/models"
    code, out, err = register(run_cli, repo, run, missing)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert f"cannot write to artifact store {missing!r}: no such bucket" in err
    assert repo.status() == before  # nothing committed, no branch left
    assert "no-such-bucket-mlgate" not in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]


def test_an_index_or_artifact_in_a_missing_bucket_is_unavailable(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(serving.SourceUnavailable, match=r"s3://no-such-bucket-mlgate/registry-index.json: .*no such"):
        serving.open_source("s3://no-such-bucket-mlgate/registry-index.json")
    model = serving.ResolvedModel(
        "models:/m/1", "m", None, 1, "s3://no-such-bucket-mlgate/m.bin", "0" * 64, 1, "bin", None
    )
    with pytest.raises(serving.SourceUnavailable, match="no such bucket"):
        serving.fetch(model, cache_dir=tmp_path)
    # in a bucket that exists, whatever its name says, a missing key is a missing object
    bucket = s3.create_bucket("models-bucket-mlgate")
    model = serving.ResolvedModel("models:/m/1", "m", None, 1, f"s3://{bucket}/m.bin", "0" * 64, 1, "bin", None)
    with pytest.raises(serving.SourceUnavailable, match=f"no such object: 's3://{bucket}/m.bin'"):
        serving.fetch(model, cache_dir=tmp_path)


def test_wrong_credentials_are_refused_as_access_denied(
    repo, run, run_cli, s3: S3Server, registered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    key, model = registered
    index = s3.url("registry-index.json")
    with s3.enforcing_auth() as (access_key, secret):
        # the right credentials still work (so what follows is about the credentials, not the server)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        s3fs.S3FileSystem.clear_instance_cache()
        code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
        assert code == 0, out + err

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        s3fs.S3FileSystem.clear_instance_cache()
        code, out, err = run_cli("-C", repo.root, "verify", "--ref", BRANCH, f"{MODEL}/4")
        assert code == 1 and out.startswith(f"UNREADABLE {MODEL} v4"), out + err
        assert "access denied" in out and "check the credentials" in out
        with pytest.raises(serving.SourceUnavailable, match=f"cannot fetch {s3.url(key)}: .*access denied"):
            serving.fetch(model, cache_dir=tmp_path / "cache")
        with pytest.raises(serving.SourceUnavailable, match="access denied"):
            serving.open_source(index)

        before = repo.status()
        other = TrainingRun.write(tmp_path / "other", artifact=b"another model", metrics={"auc": 0.93})
        code, _, err = register(run_cli, repo, other, s3.url("models"), model="churn-predictor")
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"cannot write to artifact store {s3.url('models')!r}: access denied" in err
        assert repo.status() == before
    assert s3.keys("models/") == [key]
    assert cached_files(tmp_path / "cache") == []


class Failing(io.RawIOBase):
    """A source that fails after ``good`` bytes, as a disk or network read might."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        if self.left <= 0:
            raise OSError(5, "Input/output error")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> int:
    """s3fs uploads in 5 MiB parts (S3's smallest), set through fsspec's configuration as a user would."""
    import s3fs

    monkeypatch.setitem(fsspec.config.conf, "s3", {"default_block_size": 5 * MiB})
    s3fs.S3FileSystem.clear_instance_cache()
    return 5 * MiB


def pending_uploads(s3: S3Server) -> list[str]:
    return [u["Key"] for u in s3.client().list_multipart_uploads(Bucket=s3.bucket).get("Uploads", [])]


def test_an_upload_failing_half_way_leaves_no_object_and_no_pending_upload(s3: S3Server, small_blocks: int) -> None:
    size = 3 * small_blocks
    with pytest.raises(StoreError, match="Input/output error"):
        put(Failing(2 * small_blocks + 1), s3.url("models"), "a" * 64, size)
    assert s3.traffic.count(method="PUT") >= 2  # parts went up before the failure...
    assert s3.keys() == [] and pending_uploads(s3) == []  # ...and were aborted with the upload


def test_a_file_changed_since_it_was_hashed_is_not_stored(s3: S3Server, small_blocks: int) -> None:
    recorded = b"the bytes that were hashed" * 300_000
    digest = hashlib.sha256(recorded).hexdigest()
    changed = recorded[:-1] + b"?"
    with pytest.raises(StoreError, match=r"the artifact changed while it was copied .* nothing was stored"):
        put(io.BytesIO(changed), s3.url("models"), digest, len(recorded))
    assert s3.keys() == [] and pending_uploads(s3) == []
    # and the bytes that match go up whole, in parts
    uri = put(io.BytesIO(recorded), s3.url("models"), digest, len(recorded))
    assert uri == s3.url(f"models/sha256/{digest[:2]}/{digest}")
    assert s3.client().get_object(Bucket=s3.bucket, Key=uri.split("/", 3)[3])["Body"].read() == recorded
    assert len([r for r in s3.traffic.requests(method="PUT") if "partNumber" in r.query]) >= 2


def test_uploads_leave_nothing_queued_in_a_long_running_process(s3: S3Server) -> None:
    import s3fs

    for n in range(3):
        data = f"model {n}".encode()
        put(io.BytesIO(data), s3.url("models"), hashlib.sha256(data).hexdigest(), len(data))
    with pytest.raises(StoreError):
        put(io.BytesIO(b"changed"), s3.url("models"), "b" * 64, 7)
    fs = s3fs.S3FileSystem()  # the instance mlgate used (fsspec caches it per process and options)
    assert list(fs.transaction.files) == [] and not fs._intrans
    assert len(s3.keys("models/")) == 3
