"""A commit's registry files read in one round: one ``git ls-tree`` and one ``git cat-file`` batch.

:class:`mlgate.registry.snapshot.Registry` asks its tree for one file at a time, a round trip to git each; a
catalog reads every manifest, so it hands the registry this tree instead, which has them all in memory.
"""

from __future__ import annotations

from typing import Any, Callable

from mlgate.check.gates import cached_loader
from mlgate.core import layout
from mlgate.core.model import FACTORIES
from mlgate.errors import InputError
from mlgate.infra.git import DIR, FILE, Entry, FileTooLarge, GitTree
from mlgate.registry.loader import Tree
from mlgate.registry.snapshot import Registry

#: files bigger than this are not read ahead (a card or an evidence file rarely is)
AHEAD_LIMIT = 1024 * 1024


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


def open_registry(repo: str, ref: str | None, names: list[str] | None = None) -> Registry:
    """The registry at ``ref``, the manifests of ``names`` (None: every model's) read from git in one round."""
    reg = Registry.open(repo, ref)
    if isinstance(reg.tree, GitTree):
        prefixes = tuple(f"{layout.model_dir(n)}/" for n in names) if names is not None else (layout.MODELS + "/",)

        def keep(path: str) -> bool:
            return path == layout.POLICY or path.startswith(prefixes)

        reg = _Snapshot(PrefetchedTree(reg.tree, layout.REGISTRY + "/", keep))
    return reg


class _Snapshot(Registry):
    """A registry whose commit cannot change: its model names are listed once (every look-up by name asks), and
    each manifest is parsed once for the registry's views and the gate's judge alike (:attr:`documents`)."""

    _names: list[str] | None = None

    def __init__(self, tree: Tree) -> None:
        super().__init__(tree)
        self.documents = cached_loader()

    def _load(self, path: str, kind: str) -> Any:
        if path not in self._cache:
            doc = self.documents(self.tree, path, kind)
            if doc is None:  # missing or invalid: the registry's own reading says why
                return super()._load(path, kind)  # type: ignore[call-overload]
            self._cache[path] = FACTORIES[kind].from_manifest(doc.data)
        return self._cache[path]

    def model_names(self) -> list[str]:
        if self._names is None:
            self._names = super().model_names()
        return list(self._names)
