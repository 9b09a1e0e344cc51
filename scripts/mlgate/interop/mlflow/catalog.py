"""What MLflow reads of the registry: a :mod:`mlgate.serving` source (checkout, git ref or index), plus what
MLflow's entities carry that serving does not need (descriptions, tags, owners, who created a version, when).

A checkout or git source has every manifest; a serving index (``mlgate index``) carries the same metadata
(descriptions, owners, tags, who created a version and when, its run id), but not lineage or evaluations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.core import layout
from mlgate.core.times import parse_time
from mlgate.core.uris import unknown
from mlgate.errors import ManifestError, UnknownAlias, UnknownModel, UnknownVersion
from mlgate.infra.yamlio import YamlError, load
from mlgate.interop.mlflow.uri import RegistryURI
from mlgate.serving import GitSource, IndexSource, Source, WorkTreeSource


class _Manifests:
    """Whole manifests of a source that holds the registry's files (its ``_read`` gives a file's bytes)."""

    if TYPE_CHECKING:

        def _read(self, path: str) -> bytes | None: ...  # the source's own (WorkTreeSource, GitSource)

    def manifest(self, path: str) -> Mapping[str, Any] | None:
        raw = self._read(path)
        if raw is None:
            return None
        try:
            data = load(raw, path).data
        except YamlError as e:
            raise ManifestError(e.message, path=path, line=e.line) from None
        return data if isinstance(data, dict) else None


class CheckoutSource(_Manifests, WorkTreeSource):
    """A checkout's working tree, with its manifests."""


class GitRefSource(_Manifests, GitSource):
    """A git URL and ref, fetched into serving's cache, with its manifests."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str = ""
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionInfo:
    model: str
    version: int
    uri: str
    sha256: str
    size: int
    format: str
    created_at: str | None = None
    created_by: str | None = None
    description: str = ""
    run_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def open_source(parsed: RegistryURI) -> Source:
    """The serving source a registry URI reads."""
    if parsed.kind == "index":
        keys = parsed.options.get("trusted_keys")
        return IndexSource(parsed.location, trusted_keys=keys.split(",") if keys else None)
    if parsed.kind == "git":
        return GitRefSource(parsed.location, parsed.ref or "main", parsed.options.get("cache"))
    return CheckoutSource(parsed.location)


def millis(when: str | None) -> int | None:
    """A manifest's UTC time as MLflow's milliseconds since the epoch (None when absent or unreadable)."""
    parsed = parse_time(when) if when else None
    return None if parsed is None else int(parsed.timestamp() * 1000)


def _strings(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


class Catalog:
    """The registry as MLflow reads it. A git or index source is re-read at most every ``refresh`` seconds (the
    store lives as long as the process: MLflow caches it per registry URI); a checkout is read on every call."""

    def __init__(self, parsed: RegistryURI) -> None:
        self.parsed = parsed
        self.refresh = float(parsed.options.get("refresh", "60"))
        self.source = open_source(parsed)
        self._read_at = time.monotonic()
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.source.label

    def fresh(self) -> Source:
        """The source, re-read first when it is a git or index source older than ``refresh`` seconds."""
        if isinstance(self.source, CheckoutSource):
            return self.source
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh:
                self.source.token()  # a git source fetches when the ref moved; an index is read again
                self._read_at = time.monotonic()
        return self.source

    # --- names ---------------------------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        return self.source.model_names()

    def require_model(self, name: str) -> None:
        names = self.source.model_names()
        if name not in names:
            close = [n for n in names if n == name.lower()]
            hint = f"; did you mean {close[0]!r}? (model names are lowercase)" if close else ""
            message = unknown("model", name, names, where=f"in {self.label}")
            raise UnknownModel(message.replace(" (models:", f"{hint} (models:", 1) if hint else message)

    def versions(self, name: str) -> list[int]:
        self.require_model(name)
        return self.source.versions(name)

    def aliases(self, name: str) -> dict[str, int]:
        self.require_model(name)
        return self.source.aliases(name)

    def deprecated(self, name: str) -> set[int]:
        return self.source.deprecated(name)

    def alias_version(self, name: str, alias: str) -> int:
        """The version ``alias`` of ``name`` holds (any case: mlgate's names are lowercase)."""
        held = self.aliases(name)
        if alias.lower() not in held:
            raise UnknownAlias(unknown("alias", alias, held, where=f"of model {name!r} in {self.label}"))
        return held[alias.lower()]

    # --- manifests -----------------------------------------------------------------------------------------

    def model(self, name: str) -> ModelInfo:
        self.require_model(name)
        if isinstance(self.source, IndexSource):
            data: Mapping[str, Any] = self.source.data["models"].get(name) or {}
        elif isinstance(self.source, _Manifests):
            data = self.source.manifest(layout.model_path(name)) or {}
        else:
            return ModelInfo(name)
        owners = data.get("owners")
        return ModelInfo(
            name,
            str(data.get("description") or ""),
            tuple(str(o) for o in owners) if isinstance(owners, list) else (),
            _strings(data.get("tags")),
        )

    def version(self, name: str, number: int) -> VersionInfo:
        self.require_model(name)
        try:
            entry = self.source.version(name, number)
        except UnknownVersion:
            versions = self.source.versions(name)
            raise UnknownVersion(
                unknown("version", number, versions, where=f"of model {name!r} in {self.label}")
            ) from None
        data: Mapping[str, Any] = entry.get("manifest") or {}
        lineage = data.get("lineage")
        run_id = lineage.get("run_id") if isinstance(lineage, Mapping) else data.get("run_id")
        return VersionInfo(
            name,
            number,
            entry["uri"],
            entry["sha256"],
            entry["size"],
            entry.get("format", ""),
            data.get("created_at") if isinstance(data.get("created_at"), str) else None,
            data.get("created_by") if isinstance(data.get("created_by"), str) else None,
            str(data.get("description") or ""),
            run_id if isinstance(run_id, str) else None,
            _strings(data.get("tags")),
        )

    def all_versions(self, name: str) -> list[VersionInfo]:
        return [self.version(name, n) for n in self.versions(name)]

    def stages(self) -> dict[str, str]:
        """MLflow stage -> alias: policy.yaml's ``stages:`` (by default Production: champion, Staging: challenger)."""
        return self.source.stages()
