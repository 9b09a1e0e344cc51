"""Artifacts: digests of local files and folders, and the content-addressed store.

A folder is stored as a deterministic tar archive (sorted entries, fixed
times, owners and modes), so the same content always has the same digest.
The store is any fsspec URL; an artifact lands at ``<store>/sha256/<aa>/<digest>``
and an upload of a digest already there copies nothing.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from mlgate.errors import InputError, StoreError, StorePackageMissing, UsageError
from mlgate.infra.store import Progress, bounded, open_uri, put, sha256_of, store_path  # noqa: F401 - store_path re-exported


@dataclass(frozen=True)
class ArtifactInfo:
    """What version.yaml records about an artifact."""

    uri: str
    sha256: str
    size: int
    format: str


#: a folder's archive is built in memory up to this size, then in a temporary file
SPOOL_BYTES = 16 << 20


def _tar(folder: Path) -> BinaryIO:
    """A deterministic, uncompressed tar archive of ``folder`` (symlinks refused), rewound: in memory while
    small, in a temporary file beyond :data:`SPOOL_BYTES`, so a large model folder is never held in memory."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            entries = sorted(p for p in folder.rglob("*"))
            for path in entries:
                rel = path.relative_to(folder).as_posix()
                if path.is_symlink():
                    raise InputError("artifact folders may not contain symlinks", path=str(path))
                info = tarfile.TarInfo(rel)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if path.is_dir():
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    info.size = path.stat().st_size
                    info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                    with _opened(path) as fh:
                        tar.addfile(info, fh)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return cast(BinaryIO, spool)


def _opened(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(f"cannot read the artifact: {e.strerror or e}", path=str(path)) from None


def open_local(path: str | os.PathLike[str]) -> tuple[BinaryIO, str]:
    """A readable stream of a file, or of a folder's deterministic archive, and the default format."""
    p = Path(path)
    if p.is_dir():
        return _tar(p), "tar"
    if not p.is_file():
        raise InputError("artifact not found (expected a file or a folder)", path=str(p))
    return _opened(p), (p.suffix.lstrip(".").lower() or "bin")


def describe_local(path: str | os.PathLike[str], fmt: str | None = None) -> ArtifactInfo:
    """Digest and size of a local artifact; its URI is the file's own ``file://`` URI."""
    stream, default_fmt = open_local(path)
    with stream:
        digest, size = sha256_of(stream)
    return ArtifactInfo(Path(path).resolve().as_uri(), digest, size, fmt or default_fmt)


def upload(
    path: str | os.PathLike[str], store: str, fmt: str | None = None, progress: Progress | None = None
) -> ArtifactInfo:
    """Copy a local artifact into the content-addressed ``store``; idempotent per digest.

    Any fsspec URL works when its package is installed (s3fs for s3://, gcsfs for gs://...); a plain path
    or file:// works out of the box. No reader ever sees a partial copy (:func:`mlgate.infra.store.put`).
    """
    stream, default_fmt = open_local(path)
    with stream:
        digest, size = sha256_of(stream)
        stream.seek(0)  # the same archive (or file) is hashed, then copied: a folder is archived once
        uri = put(stream, store, digest, size, progress)
    return ArtifactInfo(uri, digest, size, fmt or default_fmt)


def record_local(
    path: str | os.PathLike[str], store: str | None, fmt: str | None = None, progress: Progress | None = None
) -> ArtifactInfo:
    """What a registration records for a local artifact: only ever a URI that :func:`verify` and
    ``mlgate.serving.fetch`` can read back and check against its sha256.

    With ``store``, the bytes are copied there (a folder as its deterministic archive). Without one, a file is
    recorded as its own ``file://`` URI; a folder is refused, since its digest is that of an archive that
    exists nowhere until a store holds it.
    """
    if store:
        return upload(path, store, fmt, progress)
    if Path(path).is_dir():
        raise UsageError(
            f"the artifact {os.fspath(path)} is a folder: mlgate records it as a tar archive, which must live in "
            "an artifact store; pass --store URI (a folder or an fsspec URL such as s3://bucket/models)"
        )
    return describe_local(path, fmt)


@dataclass(frozen=True)
class Verified:
    """One artifact checked against the registry: ``status`` is ok, mismatch or unreadable."""

    model: str
    version: int
    uri: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "uri": self.uri,
            "status": self.status,
            "detail": self.detail,
        }


def verify(registry: Any, selector: str | None = None, progress: Progress | None = None) -> list[Verified]:
    """Stream each selected artifact from its store and check its size and sha256.

    At most the recorded size plus one byte is read, so an endless or oversized source (``file:///dev/zero``)
    is a mismatch at once. ``selector``: None (everything), ``MODEL``, ``MODEL@ALIAS`` or ``MODEL/VERSION``.
    """
    targets: list[tuple[str, int]] = []
    if selector is None:
        targets = [(m, v) for m in registry.model_names() for v in registry.version_numbers(m)]
    elif "@" in selector or "/" in selector:
        resolved = registry.resolve(f"models:/{selector}")
        targets = [(resolved.ref.name, resolved.version.version)]
    else:
        targets = [(selector, v) for v in registry.version_numbers(selector)]
    results = []
    for model, n in targets:
        art = registry.version(model, n).artifact
        h, size = hashlib.sha256(), 0
        try:
            with open_uri(art.uri) as stream:
                for chunk in bounded(stream, art.size + 1):
                    h.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(min(size, art.size), art.size)
        except StorePackageMissing:
            raise  # the machine lacks a package (s3fs...), not the artifact its bytes: exit 2, nothing reported
        except (OSError, StoreError) as e:
            results.append(Verified(model, n, art.uri, "unreadable", str(e)))
            continue
        if size > art.size:
            results.append(
                Verified(
                    model,
                    n,
                    art.uri,
                    "mismatch",
                    f"more than {art.size:,} bytes (stopped reading); recorded {art.size:,} bytes, sha256 {art.sha256}",
                )
            )
        elif size != art.size or h.hexdigest() != art.sha256:
            results.append(
                Verified(
                    model,
                    n,
                    art.uri,
                    "mismatch",
                    f"{size:,} bytes, sha256 {h.hexdigest()}; recorded {art.size:,} bytes, sha256 {art.sha256}",
                )
            )
        else:
            results.append(Verified(model, n, art.uri, "ok", f"{size:,} bytes, sha256 {art.sha256[:12]}..."))
    return results
