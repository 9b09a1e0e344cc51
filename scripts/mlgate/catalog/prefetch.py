"""The registry a catalog reads: every manifest read from git in one round (:mod:`mlgate.registry.prefetch`), each
parsed once for the registry's views and the gate's judge alike."""

from __future__ import annotations

from typing import Any

from mlgate.check.gates import cached_loader
from mlgate.core.model import FACTORIES
from mlgate.registry.loader import Tree
from mlgate.registry.prefetch import prefetched_tree
from mlgate.registry.snapshot import Registry


def open_registry(repo: str, ref: str | None, names: list[str] | None = None) -> Registry:
    """The registry at ``ref``, the manifests of ``names`` (None: every model's) read from git in one round."""
    reg = Registry.open(repo, ref)
    tree = prefetched_tree(reg.tree, names)
    return reg if tree is None else _Snapshot(tree)


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
