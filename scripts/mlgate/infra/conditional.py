"""Conditional reads: fetch a small document (the serving index) only when it changed since the last read.

A :class:`Validator` is what identifies the version read last; :func:`read_if_changed` returns None, having
transferred no body, when the location still holds that version:

- a local path or ``file://``: ``os.stat`` (device, inode, size, modification and change times; an atomic
  replace gives a new inode);
- ``http://`` and ``https://`` (the standard library's urllib, no fsspec or aiohttp): ``If-None-Match`` with the
  last ``ETag``, else ``If-Modified-Since`` with the last ``Last-Modified``; a ``304 Not Modified`` has no body.
  Redirects are followed with the same conditional headers. A server that sends neither header is read whole;
- anything else (``s3://``, ``gs://``, ``az://``...) through fsspec: ``fs.info(path)`` first, and the body read
  only when the object's identity changed: its ``ETag`` (S3, Azure), ``generation`` (GCS), ``VersionId`` or
  ``md5Hash``, together with its size and modification time. An object store that reports none of these is
  read whole on every poll.

The caller compares the bytes of a full read with those it has (a digest), so a read that was not avoided
still costs no parsing when nothing changed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any

from mlgate.errors import StoreError

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
CHUNK = 1 << 20
#: fsspec ``info()`` keys that identify one version of an object (any of them changes when the object does)
_STRONG = ("ETag", "etag", "generation", "VersionId", "version_id", "md5Hash", "content_md5")
#: keys that change with the object too, but not reliably alone (a time has a granularity)
_WEAK = ("size", "LastModified", "last_modified", "updated", "mtime", "created")


@dataclass(frozen=True)
class Validator:
    """What a conditional read compares: ``kind`` (``stat``, ``http``, ``fsspec``) and the values seen."""

    kind: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Body:
    """A full read: the bytes and the validator of the version they are (None: the source gives none)."""

    data: bytes
    validator: Validator | None


class TooLarge(StoreError):
    """The document is larger than the limit it was read with."""


def read_if_changed(location: str, last: Validator | None, limit: int, timeout: float = 60) -> Body | None:
    """The document at ``location`` when it may differ from the version ``last`` names (None: read it anyway);
    None, with no body transferred, when it is that version.

    At most ``limit`` bytes are read (:class:`TooLarge` past it); ``OSError`` (or :class:`StoreError` for a
    missing fsspec package or a malformed URL) when it cannot be read.
    """
    if location.startswith(("http://", "https://")):
        return _http(location, last, limit, timeout)
    if location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return _local(unquote(urlparse(location).path), last, limit)
    if "://" not in location:
        return _local(location, last, limit)
    return _fsspec(location, last, limit)


def _read(stream: Any, limit: int, location: str) -> bytes:
    data = bytearray()
    while len(data) <= limit:
        chunk = stream.read(min(CHUNK, limit + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    if len(data) > limit:
        raise TooLarge(f"{location} is larger than {limit:,} bytes; refusing it unread")
    return bytes(data)


def _stat_validator(st: os.stat_result) -> Validator:
    return Validator("stat", (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))


def _local(path: str, last: Validator | None, limit: int) -> Body | None:
    if last is not None and last.kind == "stat":
        try:
            if _stat_validator(os.stat(path)) == last:
                return None
        except OSError:
            pass  # the open below reports it
    # O_NONBLOCK: a FIFO opens at once (and reads as empty) instead of hanging the server
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())  # the version read is the one opened, even if it is replaced meanwhile
        data: bytes | None = None
        if stat.S_ISREG(st.st_mode) and st.st_size <= limit:
            data = fh.read(st.st_size + 1)  # a file: in one read, without copying (an index is megabytes)
            if len(data) != st.st_size:  # it grew or shrank since: read it again, bounded
                fh.seek(0)
                data = None
        if data is None:
            data = _read(fh, limit, path)  # bounded: a device such as /dev/zero costs at most the limit
        return Body(data, _stat_validator(st) if stat.S_ISREG(st.st_mode) else None)


def _http(url: str, last: Validator | None, limit: int, timeout: float) -> Body | None:
    import urllib.error
    import urllib.request

    headers = {"Accept-Encoding": "identity", "User-Agent": "mlgate-serving"}
    if last is not None and last.kind == "http":
        etag, modified = last.values
        if etag:
            headers["If-None-Match"] = etag
        elif modified:
            headers["If-Modified-Since"] = modified
    request = urllib.request.Request(url, headers=headers)
    try:
        # urllib follows redirects and keeps these headers on the redirected request
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only, checked above
            etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
            data = _read(response, limit, url)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 304 and last is not None:
            return None
        raise OSError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise OSError(str(e.reason)) from None
    return Body(data, Validator("http", (etag, modified)) if etag or modified else None)


def _fsspec(location: str, last: Validator | None, limit: int) -> Body | None:
    from mlgate.infra.store import filesystem, store_error

    fs, path = filesystem(location, needs=f"reading {location} needs the package", cannot=f"cannot read {location}")
    try:
        validator = _fsspec_validator(fs.info(path))
        if validator is not None and validator == last:
            return None
        with fs.open(path, "rb") as fh:
            data = _read(fh, limit, location)
    except OSError as e:  # "Forbidden", a bare key: said as the artifact store says it (access denied, no such ...)
        raise store_error(e, location) from None
    # the object may have changed between info() and the read: then the next poll sees another validator and
    # reads again, and the caller finds the bytes it already has (one extra read, never a missed change)
    return Body(data, validator)


def _fsspec_validator(info: dict[str, Any]) -> Validator | None:
    strong = tuple((k, str(info[k])) for k in _STRONG if info.get(k) not in (None, ""))
    if not strong:
        return None  # a size and a time alone could miss a same-size rewrite within the time's granularity
    weak = tuple((k, str(info[k])) for k in _WEAK if info.get(k) not in (None, ""))
    return Validator("fsspec", strong + weak)
