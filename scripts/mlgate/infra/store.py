"""Artifact bytes wherever they live: local paths, ``file://`` and any fsspec URL (s3://, gs://, https://...).

The only importer of fsspec, and only when a URL needs it: local paths and ``file://`` are opened directly,
without following the stream past a limit. Every read is bounded (:func:`bounded`), so an endless or oversized
source (``file:///dev/zero``) costs at most the limit.

mlgate has no settings of its own for a store: fsspec's configuration and the store client's own (for S3 the
AWS variables, ``AWS_ENDPOINT_URL_S3`` for MinIO or moto) apply to every read and write alike. On S3 an upload
is one multipart upload to the final key, committed only when whole (:func:`put`).
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO

from mlgate.errors import StoreError, StorePackageMissing

CHUNK = 1 << 20
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


def fsspec_package(uri: str) -> str:
    """The package fsspec needs for a URI's protocol (what to tell a user who lacks it)."""
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    return {
        "s3": "s3fs",
        "s3a": "s3fs",
        "gs": "gcsfs",
        "gcs": "gcsfs",
        "az": "adlfs",
        "abfs": "adlfs",
        "http": "aiohttp",
        "https": "aiohttp",
    }.get(protocol, f"an fsspec implementation of {protocol}://")


def _open_local(path: str) -> BinaryIO:
    # O_NONBLOCK: a FIFO opens at once (and reads as empty) instead of hanging the server
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC)
    return os.fdopen(fd, "rb")


def filesystem(uri: str, *, needs: str, cannot: str) -> tuple[Any, str]:
    """fsspec's filesystem and path for ``uri``: :class:`StorePackageMissing` ("``needs`` PACKAGE (pip install
    PACKAGE)") when the protocol's package is missing, :class:`StoreError` ("``cannot``: why") for a malformed
    URL. ``needs`` and ``cannot`` begin the messages with what the caller was doing."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise StoreError(f"{needs} fsspec (pip install fsspec)") from None
    try:
        fs, path = fsspec.core.url_to_fs(uri)
    except ImportError as e:
        package = fsspec_package(uri)
        raise StorePackageMissing(f"{needs} {package} (pip install {package}): {e}") from None
    except ValueError as e:
        raise StoreError(f"{cannot}: {e}") from None
    return fs, path


def store_error(e: OSError, uri: str) -> OSError:
    """The same kind of error with a message a user can act on: an object store says only the key, "Forbidden"
    or the bucket's absence, never which URL, or what to check. Local paths keep the system's own message."""
    if "://" not in uri or uri.startswith("file://"):
        return e
    if isinstance(e, PermissionError):
        return PermissionError(
            errno.EACCES,
            f"access denied ({_why(e)}): check the credentials (AWS_ACCESS_KEY_ID... or the store's own) and the "
            "bucket's policy",
            uri,
        )
    if isinstance(e, FileNotFoundError):
        # s3fs says "The specified bucket does not exist" for a bucket, and only the path for an object
        what = "no such bucket" if "specified bucket" in str(e) else "no such object"
        return FileNotFoundError(errno.ENOENT, what, uri)
    return e


def open_uri(uri: str) -> BinaryIO:
    """A readable stream: local paths and file:// without fsspec, anything else through it.

    :class:`StoreError` when the URL is malformed, :class:`StorePackageMissing` when its package is missing;
    ``OSError`` when the object cannot be read (``FileNotFoundError``, ``PermissionError`` naming the URL).
    Where an object store's client finds its endpoint and credentials: see the README's "S3 and other object
    stores" (fsspec's configuration and the client's own variables, such as ``AWS_ENDPOINT_URL_S3``).
    """
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return _open_local(unquote(urlparse(uri).path))
    if "://" not in uri:
        return _open_local(uri)
    try:
        import fsspec
    except ImportError:
        raise StoreError(f"reading {uri} needs fsspec: pip install fsspec") from None
    try:
        stream: BinaryIO = fsspec.open(uri, "rb").open()
    except ImportError as e:
        package = fsspec_package(uri)
        raise StorePackageMissing(f"reading {uri} needs the package {package} (pip install {package}): {e}") from None
    except ValueError as e:
        raise StoreError(f"cannot read {uri}: {e}") from None
    except OSError as e:
        raise store_error(e, uri) from None
    return stream


def bounded(stream: BinaryIO, limit: int | None = None) -> Iterator[bytes]:
    """The stream's chunks, ``limit`` bytes at most in all (None: to its end)."""
    left = limit
    while left is None or left > 0:
        chunk = stream.read(CHUNK if left is None else min(CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def sha256_of(stream: BinaryIO, limit: int | None = None, out: IO[bytes] | None = None) -> tuple[str, int]:
    """sha256 (hex) and length of at most ``limit`` bytes of ``stream``, copied to ``out`` on the way."""
    h, size = hashlib.sha256(), 0
    for chunk in bounded(stream, limit):
        h.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return h.hexdigest(), size


def store_path(store: str, digest: str) -> str:
    """Where an artifact of ``digest`` lands in a content-addressed store: ``<store>/sha256/<aa>/<digest>``."""
    return f"{store.rstrip('/')}/sha256/{digest[:2]}/{digest}"


def _object_store(fs: Any) -> bool:
    """Whether an upload to ``fs`` appears whole or not at all (S3: an object exists once its upload completes).

    There mlgate writes the final key directly and aborts on failure; elsewhere (folders, memory://...) it writes
    a temporary name and renames it, and S3 would pay that rename as a copy of every byte plus a delete.
    """
    protocol = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return bool({"s3", "s3a"} & set(protocol))


def put(source: BinaryIO, store: str, digest: str, size: int, progress: Progress | None = None) -> str:
    """Copy ``source`` into ``store`` under ``digest`` unless it is there already; the stored URI.

    Already there means an object of that name and of ``size`` bytes (one metadata request, no copy); one of
    another size is replaced. The bytes are hashed as they are copied: if they are not ``digest`` and ``size``
    (the file changed since it was hashed), nothing is stored. A reader never sees a partial artifact: an object
    store's upload is committed only when complete (aborted otherwise); elsewhere the copy goes to a temporary
    name renamed into place. :class:`StoreError` when the store cannot be used (missing package, malformed URL,
    no such bucket, access denied, a failed write).
    """
    target = store_path(store, digest)
    fs, fs_path = filesystem(
        target, needs=f"artifact store {store!r} needs", cannot=f"cannot use artifact store {store!r}"
    )
    _usable(store, target)
    try:
        if not _present(fs, fs_path, size, store):
            copy = _upload if _object_store(fs) else _copy_then_rename
            copy(fs, fs_path, source, digest, size, progress)
    except OSError as e:  # the store's own failure (unwritable, full, a file in the way, no bucket, no access)
        raise StoreError(f"cannot write to artifact store {store!r}: {_why(store_error(e, target))}") from None
    if "://" in target:
        return target
    from pathlib import Path  # imported where used: serving imports this module at start-up

    return Path(target).resolve().as_uri()


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a URL fsspec opens (s3://, gs://, memory://...), not a local path or ``file://``."""
    text = os.fspath(location)
    return "://" in text and not text.startswith("file://")


def write_whole(uri: str, data: bytes, what: str) -> None:
    """Write ``data`` as the object ``uri`` (any fsspec URL), whole: a reader sees the object it replaces or this
    one, never part of it (on S3 one PUT, or past 100 MB a multipart upload completed only when every part is up
    and aborted otherwise; elsewhere a temporary name renamed into place). No bucket is created.
    :class:`StoreError` ("cannot write ``what`` to URI: why") when it fails."""
    write_objects({uri: data}, what)


def write_objects(objects: dict[str, bytes], what: str) -> None:
    """Write each of ``objects`` (URL -> bytes, all in one store) whole, as :func:`write_whole` does; on S3 many
    at once (fsspec's concurrent requests), elsewhere one after the other. Returns once every one is written;
    :class:`StoreError` for the first that fails (the others may be written or not, each whole)."""
    if not objects:
        return
    first = next(iter(objects))
    fs, _ = filesystem(first, needs=f"writing {what} to {first} needs", cannot=f"cannot write {what} to {first}")
    try:
        if _object_store(fs):
            fs.pipe({fs._strip_protocol(uri): data for uri, data in objects.items()})
            return
        import io

        for uri, data in objects.items():
            first = uri
            digest = hashlib.sha256(data).hexdigest()
            _copy_then_rename(fs, fs._strip_protocol(uri), io.BytesIO(data), digest, len(data), None)
    except OSError as e:
        where = first if len(objects) == 1 or not _object_store(fs) else f"{first.rsplit('/', 1)[0]}/..."
        raise StoreError(f"cannot write {what} to {where}: {_reason(e, first)}") from None


def object_sizes(prefix: str, what: str) -> dict[str, int]:
    """Every object under the folder ``prefix`` (an fsspec URL), by its path relative to it, with its size: one
    listing (S3: a request per 1,000 keys), fresh (not from fsspec's listing cache). :class:`StoreError` when the
    store cannot be listed (no such bucket, access denied)."""
    fs, root = filesystem(prefix, needs=f"{what} at {prefix} needs", cannot=f"cannot use {prefix}")
    root = root.rstrip("/")
    try:
        fs.invalidate_cache(root)
        found = fs.find(root, detail=True)
    except FileNotFoundError as e:
        if "specified bucket" not in str(e):
            return {}
        raise StoreError(f"cannot use {prefix} for {what}: {_reason(e, prefix)}") from None
    except OSError as e:
        raise StoreError(f"cannot use {prefix} for {what}: {_reason(e, prefix)}") from None
    start = len(root) + 1
    return {
        path[start:]: int(info.get("size") or 0)
        for path, info in found.items()
        if path.startswith(f"{root}/") and info.get("type") != "directory"
    }


def remove_objects(uris: list[str], what: str) -> None:
    """Delete the objects ``uris`` (one bulk request per 1,000 on S3); one already gone is no error."""
    if not uris:
        return
    fs, _ = filesystem(uris[0], needs=f"removing {what} needs", cannot=f"cannot remove {what}")
    paths = [fs._strip_protocol(u) for u in uris]
    try:
        fs.rm(paths)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise StoreError(f"cannot remove {what} ({uris[0]}...): {_reason(e, uris[0])}") from None


def _present(fs: Any, fs_path: str, size: int, store: str) -> bool:
    try:
        info = fs.info(fs_path)
    except FileNotFoundError:
        return False
    if info.get("type") == "directory":
        raise StoreError(f"artifact store {store!r} cannot be used: {fs_path} is a folder, where an artifact belongs")
    return bool(info.get("size") == size)


def _copy(source: BinaryIO, out: IO[bytes], digest: str, size: int, progress: Progress | None) -> None:
    h, done = hashlib.sha256(), 0
    for chunk in bounded(source, size + 1):
        h.update(chunk)
        out.write(chunk)
        done += len(chunk)
        if progress:
            progress(min(done, size), size)
    if done != size or h.hexdigest() != digest:
        raise StoreError(
            f"the artifact changed while it was copied ({done:,} bytes, sha256 {h.hexdigest()}; expected {size:,} "
            f"bytes, sha256 {digest}): nothing was stored; register it again once it is final"
        )


def _upload(fs: Any, fs_path: str, source: BinaryIO, digest: str, size: int, progress: Progress | None) -> None:
    # autocommit=False: the parts are uploaded as they fill (memory stays at one block), and the object appears
    # only at commit(); discard() aborts the multipart upload, so a failure leaves no object and no orphan parts
    out = fs.open(fs_path, "wb", autocommit=False)
    try:
        with out:
            _copy(source, out, digest, size, progress)
        out.commit()
    except BaseException:
        out.discard()
        raise
    finally:
        # fsspec also queues a file opened so for a later `with fs.transaction:`; committed or discarded here,
        # it must not stay there (the filesystem object is cached for the whole process)
        queued = fs.transaction.files
        if out in queued:
            queued.remove(out)


def _copy_then_rename(
    fs: Any, fs_path: str, source: BinaryIO, digest: str, size: int, progress: Progress | None
) -> None:
    fs.makedirs(fs_path.rsplit("/", 1)[0], exist_ok=True)
    tmp = f"{fs_path}.partial-{os.getpid()}"
    try:
        with fs.open(tmp, "wb") as out:
            _copy(source, out, digest, size, progress)
        fs.mv(tmp, fs_path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


def _reason(e: OSError, uri: str) -> str:
    """Why ``uri`` failed, for a message that names ``uri`` already."""
    err = store_error(e, uri)
    return err.strerror or str(err) or type(err).__name__


def _why(e: OSError) -> str:
    what = e.strerror or str(e) or type(e).__name__
    return f"{what} ({e.filename})" if e.filename else what


def _usable(store: str, target: str) -> None:
    """Refuse a local store that cannot hold ``target``: a file where a folder must be, or a folder not writable.

    Checked before anything is written, so the error names the store instead of an errno from deep inside
    fsspec. Other stores (s3://, gs://...) report their own problems when written, as :class:`StoreError` too.
    """
    if "://" in store and not store.startswith("file://"):
        return
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    folder = Path(unquote(urlparse(target).path) if target.startswith("file://") else target).parent
    for p in (folder, *folder.parents):
        if not p.exists():
            continue
        if not p.is_dir():
            raise StoreError(
                f"artifact store {store!r} cannot be used: {p} is a file, not a folder "
                "(--store takes a folder or an fsspec URL)"
            )
        if not os.access(p, os.W_OK | os.X_OK):
            raise StoreError(f"artifact store {store!r} is not writable ({p}): fix its permissions or pick another")
        return
