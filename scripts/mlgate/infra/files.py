"""Local files: the one atomic write, and bounded reads of small files.

The atomic write: a temporary file beside the target, flushed to disk, then renamed over it.

A reader never sees a half-written file, and a failure (or an interrupt) leaves the target as it was and no
temporary behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_output(path: str | os.PathLike[str], *, durable: bool = True) -> Iterator[IO[bytes]]:
    """A binary stream whose content replaces ``path`` when the block ends without an error.

    ``durable``: fsync the file before the rename (a crash then never leaves an empty target).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8)."""
    with atomic_output(path, durable=durable) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_json(path: str | os.PathLike[str], data: Any, *, indent: int = 1, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` as sorted, indented JSON and a final newline."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8", "surrogatepass"), durable=durable)


def read_small(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """A small file's bytes, refusing one larger than ``limit`` without reading it all (a key, a state file).

    :class:`mlgate.errors.InputError` for a larger one; ``OSError`` as raised when it cannot be opened.
    """
    from mlgate.errors import InputError

    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"larger than {limit // 1024} KiB: not a {what}", path=os.fspath(path))
    return data
