"""MLflow's artifact repository for the download URIs the registry store hands out (``mlgate-artifact://``).

MLflow loads ``models:/NAME@ALIAS`` by asking the registry store for a download URI, then the artifact
repository registered for that URI's scheme for the files. Here that repository fetches the artifact through
:func:`mlgate.serving.fetch` (a cache keyed by sha256; at most the recorded size plus one byte read; renamed into
place only when size and sha256 match), so MLflow never sees a byte the registry did not approve: a mismatch is
an ``MlflowException`` naming the model, the version, the recorded digest and the one found.

A folder artifact (mlgate's deterministic tar) is unpacked by :func:`mlgate.serving.unpack` (only regular files
and folders, each inside the destination: no absolute path, ``..``, link or device) and copied to where MLflow
asks. Any other artifact is one file, ``model.<format>``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, INVALID_STATE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from mlgate.errors import ArtifactIntegrityError, ServingError
from mlgate.interop.mlflow.uri import RegistryURIError, parse_download_uri
from mlgate.serving import ResolvedModel, fetch, unpack

#: the formats stored as mlgate's folder archive
FOLDER_FORMATS = ("tar",)


def _clean(path: str | None) -> str:
    """A path inside the artifact, as MLflow asks for it ('' is the root); never one that climbs out."""
    text = (path or "").replace("\\", "/").strip("/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise MlflowException(f"artifact path {path!r} leaves the model's folder", INVALID_PARAMETER_VALUE)
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
        """The artifact, checked against the registered sha256 and size: a folder artifact unpacked, else the file."""
        ref = self.ref
        resolved = ResolvedModel(
            f"models:/{ref.model}/{ref.version}", ref.model, None, ref.version, ref.uri, ref.sha256, ref.size,
            ref.format, None,
        )  # fmt: skip
        try:
            return unpack(resolved) if self.is_folder else fetch(resolved)
        except ArtifactIntegrityError as e:
            raise MlflowException(
                f"model {ref.model!r} version {ref.version}: refusing the artifact (registered: sha256 {ref.sha256}, "
                f"{ref.size:,} bytes): {e}",
                INVALID_STATE,
            ) from None
        except ServingError as e:
            raise MlflowException(f"model {ref.model!r} version {ref.version}: {e}", RESOURCE_DOES_NOT_EXIST) from None

    def _local(self, wanted: str) -> Path:
        """The verified file or folder at ``wanted`` ('' for the whole artifact)."""
        root = self.verified()
        if not self.is_folder:
            if wanted not in ("", self._file_name):
                raise self._missing(wanted)
            return root
        here = root.joinpath(*wanted.split("/")) if wanted else root
        if not os.path.lexists(here):
            raise self._missing(wanted)
        return here

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        folder = _clean(path)
        if not self.is_folder:
            return [FileInfo(self._file_name, False, self.ref.size)] if not folder else []
        here = self._local(folder)
        if not here.is_dir():
            return []
        prefix = f"{folder}/" if folder else ""
        with os.scandir(here) as entries:
            return sorted(
                (
                    FileInfo(prefix + e.name, e.is_dir(), None if e.is_dir() else e.stat().st_size)
                    for e in entries
                    if not e.is_symlink()
                ),
                key=lambda i: i.path,
            )

    def _missing(self, wanted: str) -> MlflowException:
        return MlflowException(
            f"model {self.ref.model!r} version {self.ref.version} has no artifact {wanted!r}", RESOURCE_DOES_NOT_EXIST
        )

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        wanted = _clean(artifact_path)
        dst = Path(dst_path).resolve() if dst_path else Path(tempfile.mkdtemp(prefix="mlgate-"))
        if not dst.is_dir():
            raise MlflowException(f"the download destination {dst} is not a folder", RESOURCE_DOES_NOT_EXIST)
        source = self._local(wanted)
        name = wanted or (self._file_name if not self.is_folder else "")
        target = dst.joinpath(*name.split("/")) if name else dst
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return str(dst.joinpath(*wanted.split("/"))) if wanted else str(dst)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        shutil.copyfile(self._local(_clean(remote_file_path)), local_path)

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
