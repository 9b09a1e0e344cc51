"""MLflow's artifact repository for the download URIs the registry store hands out (``mlgate-artifact://``).

MLflow loads ``models:/NAME@ALIAS`` by asking the registry store for a download URI, then the artifact
repository registered for that URI's scheme for the files. Here that repository fetches the artifact through
:func:`mlgate.serving.fetch` (a cache keyed by sha256; at most the recorded size plus one byte read; renamed into
place only when size and sha256 match), so MLflow never sees a byte the registry did not approve: a mismatch is
an ``MlflowException`` naming the model, the version, the recorded digest and the one found.

A folder artifact (mlgate's deterministic tar) is unpacked into the destination: only regular files and
folders, each at a relative path that stays inside it (no absolute path, no ``..``, no link, no device). Any
other artifact is one file, ``model.<format>``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, INVALID_STATE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from mlgate.errors import ArtifactIntegrityError, ServingError
from mlgate.interop.mlflow.uri import ArtifactRef, RegistryURIError, parse_download_uri
from mlgate.serving import ResolvedModel, fetch

#: the formats stored as mlgate's folder archive
FOLDER_FORMATS = ("tar",)


def _clean(path: str | None) -> str:
    """A path inside the artifact, as MLflow asks for it ('' is the root); never one that climbs out."""
    text = (path or "").replace("\\", "/").strip("/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise MlflowException(f"artifact path {path!r} leaves the model's folder", INVALID_PARAMETER_VALUE)
    return "/".join(parts)


def _member_name(member: tarfile.TarInfo, ref: ArtifactRef) -> str:
    """The member's path if it is a regular file or folder that stays inside the destination; else refused."""
    name = member.name.replace("\\", "/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts or not parts or not (member.isreg() or member.isdir()):
        raise MlflowException(
            f"model {ref.model!r} version {ref.version}: the archive holds {member.name!r} "
            f"({'a link or special file' if not (member.isreg() or member.isdir()) else 'a path outside the folder'}); "
            "refusing to unpack it",
            INVALID_STATE,
        )
    return "/".join(parts)


class VerifyingArtifactRepository(ArtifactRepository):
    """Read-only artifacts of one registered version, checked against the registry's sha256 and size."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        try:
            self.ref = parse_download_uri(artifact_uri)
        except RegistryURIError as e:
            raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from None

    @property
    def is_folder(self) -> bool:
        return self.ref.format in FOLDER_FORMATS

    @property
    def _file_name(self) -> str:
        return f"model.{self.ref.format}" if self.ref.format else "model"

    def verified(self) -> Path:
        """The artifact's bytes in mlgate's cache, checked against the registered sha256 and size."""
        ref = self.ref
        resolved = ResolvedModel(
            f"models:/{ref.model}/{ref.version}", ref.model, None, ref.version, ref.uri, ref.sha256, ref.size,
            ref.format, None,
        )  # fmt: skip
        try:
            return fetch(resolved)
        except ArtifactIntegrityError as e:
            raise MlflowException(
                f"model {ref.model!r} version {ref.version}: refusing the artifact, its bytes are not the ones "
                f"registered (expected sha256 {ref.sha256}, {ref.size:,} bytes): {e}",
                INVALID_STATE,
            ) from None
        except ServingError as e:
            raise MlflowException(f"model {ref.model!r} version {ref.version}: {e}", RESOURCE_DOES_NOT_EXIST) from None

    def _entries(self) -> dict[str, FileInfo]:
        """Every file and folder of the artifact, by path."""
        if not self.is_folder:
            return {self._file_name: FileInfo(self._file_name, False, self.ref.size)}
        entries: dict[str, FileInfo] = {}
        with tarfile.open(self.verified(), "r:") as tar:
            for member in tar:
                name = _member_name(member, self.ref)
                entries[name] = FileInfo(name, member.isdir(), None if member.isdir() else member.size)
                parent = posixpath.dirname(name)
                while parent and parent not in entries:  # folders an archive leaves implicit
                    entries[parent] = FileInfo(parent, True, None)
                    parent = posixpath.dirname(parent)
        return entries

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        folder = _clean(path)
        entries = self._entries()
        if folder and folder in entries and not entries[folder].is_dir:
            return []
        return sorted(
            (info for name, info in entries.items() if posixpath.dirname(name) == folder), key=lambda i: i.path
        )

    def _unpack(self, wanted: str, dst: Path) -> None:
        """The files at or under ``wanted`` ('' for all), written below ``dst`` at their own paths."""
        source = self.verified()
        if not self.is_folder:
            if wanted not in ("", self._file_name):
                raise self._missing(wanted)
            shutil.copyfile(source, dst / self._file_name)
            return
        found = wanted == ""
        with tarfile.open(source, "r:") as tar:
            for member in tar:
                name = _member_name(member, self.ref)
                if wanted and name != wanted and not name.startswith(wanted + "/"):
                    continue
                found = True
                target = dst.joinpath(*name.split("/"))
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file: checked by _member_name
                with stream, open(target, "wb") as out:
                    shutil.copyfileobj(stream, out)
                os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
        if not found:
            raise self._missing(wanted)

    def _missing(self, wanted: str) -> MlflowException:
        return MlflowException(
            f"model {self.ref.model!r} version {self.ref.version} has no artifact {wanted!r}", RESOURCE_DOES_NOT_EXIST
        )

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        wanted = _clean(artifact_path)
        dst = Path(dst_path).resolve() if dst_path else Path(tempfile.mkdtemp(prefix="mlgate-"))
        if not dst.is_dir():
            raise MlflowException(f"the download destination {dst} is not a folder", RESOURCE_DOES_NOT_EXIST)
        self._unpack(wanted, dst)
        return str(dst.joinpath(*wanted.split("/"))) if wanted else str(dst)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        with tempfile.TemporaryDirectory(prefix="mlgate-") as tmp:
            wanted = _clean(remote_file_path)
            self._unpack(wanted, Path(tmp))
            shutil.copyfile(Path(tmp).joinpath(*wanted.split("/")), local_path)

    def _read_only(self) -> MlflowException:
        return MlflowException(
            f"the artifacts of model {self.ref.model!r} version {self.ref.version} are immutable: register a new "
            "version instead",
            INVALID_PARAMETER_VALUE,
        )

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        raise self._read_only()

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        raise self._read_only()

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        raise self._read_only()
