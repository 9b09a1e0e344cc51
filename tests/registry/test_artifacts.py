"""What register records about an artifact can always be read back and verified (B4), and a store that cannot
be used is a clear exit-2 error (B5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate import Registry
from mlgate.errors import StoreError, UsageError
from mlgate.registry.artifacts import record_local, upload, verify
from mlgate.testing import TrainingRun


@pytest.fixture
def run(tmp_path: Path) -> TrainingRun:
    return TrainingRun.write(tmp_path / "out", metrics={"auc": 0.93, "latency_p99_ms": 30})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "model"
    (d / "sub").mkdir(parents=True)
    (d / "weights.bin").write_bytes(b"\x01" * 100)
    (d / "sub" / "config.json").write_text("{}")
    return d


def _register_args(run: TrainingRun, artifact: Path, *extra: str | Path) -> list[str | Path]:
    args = run.register_args("fraud-detector")
    args[args.index("--artifact") + 1] = str(artifact)
    return [*args, "--as", "alice", "--no-pr", *extra]


def test_a_folder_without_a_store_is_refused_naming_store(repo, run, folder, run_cli) -> None:
    before = repo.status()
    code, _, err = run_cli("-C", repo.root, *_register_args(run, folder))
    assert code == 2
    assert f"the artifact {folder} is a folder" in err and "pass --store URI" in err
    assert repo.status() == before


def test_a_folder_in_a_store_verifies(repo, run, folder, run_cli, tmp_path: Path) -> None:
    code, _, err = run_cli("-C", repo.root, *_register_args(run, folder, "--store", tmp_path / "store"))
    assert code == 0, err
    code, out, err = run_cli(
        "-C", repo.root, "verify", "--ref", "mlgate/register-fraud-detector-v4", "fraud-detector/4"
    )
    assert code == 0 and out.startswith("OK"), out + err


def test_a_local_file_without_a_store_is_recorded_as_a_file_uri_that_verifies(repo, run, run_cli) -> None:
    code, _, err = run_cli("-C", repo.root, *_register_args(run, run.artifact))
    assert code == 0, err
    reg = Registry.open(repo.root, "mlgate/register-fraud-detector-v4")
    assert reg.version("fraud-detector", 4).artifact.uri == run.artifact.resolve().as_uri()
    assert [r.status for r in verify(reg, "fraud-detector/4")] == ["ok"]


def test_record_local_never_returns_what_verify_cannot_read(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder: .* pass --store"):
        record_local(folder, None)
    stored = record_local(folder, str(tmp_path / "store"))
    assert stored.format == "tar" and Path(stored.uri.removeprefix("file://")).is_file()


@pytest.mark.parametrize(
    ("store", "words"),
    [
        (lambda t: t / "a-file", "is a file, not a folder"),
        (lambda t: t / "a-file" / "store", "is a file, not a folder"),
        (lambda t: f"file://{t / 'a-file'}", "is a file, not a folder"),
    ],
    ids=["store-is-a-file", "store-under-a-file", "file-uri"],
)
def test_a_store_that_cannot_hold_files_is_a_store_error(run, tmp_path: Path, store, words) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreError, match=words):
        upload(run.artifact, str(store(tmp_path)))
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_register_into_a_file_store_exits_2_and_leaves_nothing(repo, run, run_cli, tmp_path: Path) -> None:
    """B5: it was an internal error (NotADirectoryError, exit 3)."""
    (tmp_path / "a-file").write_text("x")
    before = repo.status()
    code, _, err = run_cli("-C", repo.root, *_register_args(run, run.artifact, "--store", tmp_path / "a-file"))
    assert code == 2 and f"artifact store '{tmp_path / 'a-file'}' cannot be used" in err
    assert repo.status() == before
