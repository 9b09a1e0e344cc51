"""A commit's registry files read in one round: one ``git ls-tree`` and one ``git cat-file`` batch.

:class:`mlgate.registry.snapshot.Registry` asks its tree for one file at a time, a round trip to git each; what
reads every manifest (the serving index, the catalog) hands the registry this tree instead, which has them all
in memory: at 10,000 versions the index's reading takes 1.8 s instead of 4.8 s.
"""

from __future__ import annotations

from typing import Callable, Iterable

from mlgate.core import layout
from mlgate.errors import InputError
from mlgate.infra.git import DIR, FILE, Entry, FileTooLarge, GitTree
from mlgate.registry.snapshot import Registry


class PrefetchedTree:
    """The files under ``prefix`` of a :class:`GitTree` (only those ``keep`` accepts read ahead)."""

    def __init__(self, tree: GitTree, prefix: str, keep: Callable[[str], bool] | None = None) -> None:
        self.base = tree
        self.label = tree.label
        self._commit = tree.commit
        files = tree.walk(prefix)
        dirs: dict[str, dict[str, Entry]] = {}
        for path, entry in files.items():
            parent, _, name = path.rpartition("/")
            dirs.setdefault(parent, {})[name] = entry
            while parent:  # every folder above is listed in its own parent
                up, _, leaf = parent.rpartition("/")
                if leaf in dirs.setdefault(up, {}):
                    break
                dirs[up][leaf] = Entry(DIR)
                parent = up
        self._dirs = dirs
        wanted = [e.oid for p, e in files.items() if e.kind == FILE and e.oid and (keep is None or keep(p))]
        self._blobs = tree.repo.read_blobs(wanted)

    @property
    def commit(self) -> str | None:
        return self._commit

    def listdir(self, path: str) -> dict[str, Entry] | None:
        found = self._dirs.get(path)
        return dict(found) if found is not None else self.base.listdir(path)

    def entry(self, path: str) -> Entry | None:
        parent, _, name = path.rpartition("/")
        listing = self._dirs.get(parent)
        return listing.get(name) if listing is not None else self.base.entry(path)

    def walk(self, prefix: str) -> dict[str, Entry]:
        return self.base.walk(prefix)

    def read(self, path: str, limit: int | None = None) -> bytes:
        entry = self.entry(path)
        if entry is None or entry.kind != FILE:
            raise InputError(f"not a file in {self.label}", path=path)
        data = self._blobs.get(entry.oid or "")
        if data is None:
            return self.base.read(path, limit)
        if limit is not None and len(data) > limit:
            raise FileTooLarge(path, len(data))
        return data


def prefetched_tree(tree: object, names: Iterable[str] | None = None) -> PrefetchedTree | None:
    """The files of the models ``names`` (None: every model's) and the policy of a git commit's ``tree``, read
    ahead; None for a working tree (its files are read where they are)."""
    if not isinstance(tree, GitTree):
        return None
    prefixes = tuple(f"{layout.model_dir(n)}/" for n in names) if names is not None else (layout.MODELS + "/",)

    def keep(path: str) -> bool:
        return path == layout.POLICY or path.startswith(prefixes)

    return PrefetchedTree(tree, layout.REGISTRY + "/", keep)


def prefetched(reg: Registry, names: Iterable[str] | None = None) -> Registry:
    """``reg`` reading the files of the models ``names`` (None: every model's) from memory, read ahead in one
    round (see :func:`prefetched_tree`); ``reg`` itself when there is nothing to read ahead."""
    tree = prefetched_tree(reg.tree, names)
    return reg if tree is None else Registry(tree)
