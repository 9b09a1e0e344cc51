"""The artifact repository MLflow gets for mlgate's download URIs: it hands out only verified bytes, unpacks a
folder archive without letting any path leave the destination, and is read-only."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from mlgate.interop.mlflow.artifacts import VerifyingArtifactRepository
from mlgate.interop.mlflow.uri import ArtifactRef


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def _stored(tmp_path: Path, data: bytes, fmt: str = "tar", size: int | None = None) -> VerifyingArtifactRepository:
    path = tmp_path / "artifact"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    ref = ArtifactRef("doubler", 3, path.as_uri(), digest, len(data) if size is None else size, fmt)
    repo = get_artifact_repository(ref.download_uri())
    assert isinstance(repo, VerifyingArtifactRepository)  # MLflow routes the scheme to the plugin
    return repo


def test_a_folder_archive_is_unpacked_listed_and_read_by_path(tmp_path: Path) -> None:
    repo = _stored(tmp_path, _tar([_file("MLmodel", b"flavors: {}\n"), _file("code/model.py", b"print(1)\n")]))
    dst = tmp_path / "out"
    dst.mkdir()
    assert repo.download_artifacts("", str(dst)) == str(dst)
    assert (dst / "MLmodel").read_bytes() == b"flavors: {}\n" and (dst / "code/model.py").is_file()
    assert [(f.path, f.is_dir) for f in repo.list_artifacts()] == [("MLmodel", False), ("code", True)]
    assert [f.path for f in repo.list_artifacts("code")] == ["code/model.py"]
    only = Path(repo.download_artifacts("code/model.py"))
    assert only.name == "model.py" and only.read_bytes() == b"print(1)\n"
    with pytest.raises(MlflowException, match="has no artifact 'nope'"):
        repo.download_artifacts("nope")
    with pytest.raises(MlflowException, match="leaves the model's folder"):
        repo.download_artifacts("../../etc")


def test_a_file_artifact_is_one_file(tmp_path: Path) -> None:
    repo = _stored(tmp_path, b"onnx bytes", fmt="onnx")
    assert [f.path for f in repo.list_artifacts()] == ["model.onnx"]
    assert Path(repo.download_artifacts("model.onnx")).read_bytes() == b"onnx bytes"


@pytest.mark.parametrize(
    "member",
    [
        _file("../escape.txt"),
        _file("/tmp/absolute.txt"),
        _file("code/../../escape.txt"),
        _link("link", "/etc/passwd"),
        _link("hard", "/etc/passwd", tarfile.LNKTYPE),
        _link("fifo", "", tarfile.FIFOTYPE),
    ],
    ids=["dotdot", "absolute", "nested-dotdot", "symlink", "hardlink", "fifo"],
)
def test_no_member_leaves_the_destination(tmp_path: Path, member: tuple[tarfile.TarInfo, bytes]) -> None:
    repo = _stored(tmp_path, _tar([_file("MLmodel"), member]))
    dst = tmp_path / "deep" / "out"
    dst.mkdir(parents=True)
    with pytest.raises(MlflowException) as e:
        repo.download_artifacts("", str(dst))
    assert "model 'doubler' version 3: refusing the artifact" in str(e.value) and "the archive holds" in str(e.value)
    assert not (tmp_path / "deep" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert not (dst / "link").exists()


def test_bytes_that_are_not_the_registered_ones_are_refused(tmp_path: Path) -> None:
    repo = _stored(tmp_path, b"onnx bytes", fmt="onnx", size=5)  # the registry recorded 5 bytes
    with pytest.raises(MlflowException) as e:
        repo.download_artifacts("")
    assert (
        f"model 'doubler' version 3: refusing the artifact (registered: sha256 {hashlib.sha256(b'onnx bytes').hexdigest()}, 5 bytes)"
        in str(e.value)
    )
    assert "more than 5 bytes" in str(e.value)
    assert e.value.error_code == "INVALID_STATE"


def test_it_is_read_only(tmp_path: Path) -> None:
    repo = _stored(tmp_path, b"onnx bytes", fmt="onnx")
    for write in (
        lambda: repo.log_artifact(__file__),
        lambda: repo.log_artifacts(str(tmp_path)),
        repo.delete_artifacts,
    ):
        with pytest.raises(MlflowException, match="are immutable: register a new version instead"):
            write()
