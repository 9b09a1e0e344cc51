"""Serving tests' indexes: the registry of a repository written in either layout."""

from __future__ import annotations

from pathlib import Path

from mlgate.registry.index import build_index, build_sharded, write_index, write_sharded


def index_of(root: Path, folder: Path, *, sharded: bool, ref: str = "main") -> Path:
    """The index of ``root`` at ``ref`` written under ``folder``: a sharded folder's index.json, or one file.
    What serving is given (``open_source``) in both cases."""
    if sharded:
        write_sharded(build_sharded(root, ref), folder / "idx")
        return folder / "idx" / "index.json"
    write_index(build_index(root, ref), folder / "index.json")
    return folder / "index.json"
