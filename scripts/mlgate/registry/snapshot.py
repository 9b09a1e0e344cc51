"""Read-only access to a registry snapshot: models, versions, aliases, and ``models:/`` URIs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal, overload

from mlgate.core import layout
from mlgate.core.model import FACTORIES, Alias, EvalResult, Model, ModelVersion, OnlineEvaluation
from mlgate.core.uris import DEFAULT_STAGES, ModelRef, parse_uri, version_named  # noqa: F401 - re-exported
from mlgate.errors import InputError, NotFoundError
from mlgate.infra.git import DIR, FILE, SYMLINK, GitRepo, WorkTree, find_root
from mlgate.registry.loader import Tree, load_manifest


@dataclass(frozen=True)
class Resolved:
    """What a ``models:/`` URI points at in one snapshot."""

    ref: ModelRef
    version: ModelVersion
    commit: str | None

    def to_dict(self) -> dict[str, Any]:
        a = self.version.artifact
        return {
            "uri": str(self.ref),
            "model": self.ref.name,
            "alias": self.ref.alias,
            "version": self.version.version,
            **({"path": self.ref.path} if self.ref.path else {}),
            "artifact": {"uri": a.uri, "sha256": a.sha256, "size": a.size, "format": a.format},
            "commit": self.commit,
        }


class Registry:
    """Typed, lazily loaded view of ``registry/`` in one tree.

    A manifest that fails its checks raises :class:`InputError` naming the file,
    the line and the rule, so a broken registry is never half-read.
    """

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self._cache: dict[str, Model | ModelVersion | EvalResult | Alias | OnlineEvaluation] = {}
        self._stages: dict[str, str] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".", ref: str | None = None) -> Registry:
        """The registry of the repository at ``path``: at git ``ref``, or the working tree."""
        if ref is None:
            return cls(WorkTree(find_root(path)))
        return cls(GitRepo(path).tree(ref))

    @overload
    def _load(self, path: str, kind: Literal["Model"]) -> Model: ...
    @overload
    def _load(self, path: str, kind: Literal["ModelVersion"]) -> ModelVersion: ...
    @overload
    def _load(self, path: str, kind: Literal["EvalResult"]) -> EvalResult: ...
    @overload
    def _load(self, path: str, kind: Literal["Alias"]) -> Alias: ...
    @overload
    def _load(self, path: str, kind: Literal["OnlineEvaluation"]) -> OnlineEvaluation: ...
    def _load(self, path: str, kind: str) -> Model | ModelVersion | EvalResult | Alias | OnlineEvaluation:
        if path not in self._cache:
            doc, findings = load_manifest(self.tree, path, kind)
            if doc is None:
                f = findings[0]
                more = f" (and {len(findings) - 1} more problems: run mlgate validate)" if len(findings) > 1 else ""
                raise InputError(f"{f.rule} {f.message}{more}", path=f.path, line=f.line)
            self._cache[path] = FACTORIES[kind].from_manifest(doc.data)
        return self._cache[path]

    def _is_file(self, path: str) -> bool:
        entry = self.tree.entry(path)
        return entry is not None and entry.kind == FILE

    def model_names(self) -> list[str]:
        listing = self.tree.listdir(layout.MODELS)
        if listing is None:
            top = self.tree.entry(layout.REGISTRY)
            if top is None:
                raise InputError(f"no registry/ folder in {self.tree.label} (is this an mlgate repository?)")
            for path in (layout.REGISTRY, layout.MODELS):
                entry = self.tree.entry(path)
                if entry is not None and entry.kind != DIR:
                    raise InputError(
                        f"{path} is {'a symlink' if entry.kind == SYMLINK else 'not a folder'}: "
                        "mlgate never reads through links (run mlgate validate)",
                        path=path,
                    )
            return []
        return sorted(n for n, e in listing.items() if e.kind == DIR and layout.is_name(n))

    def model(self, name: str) -> Model:
        path = layout.model_path(name)
        if not layout.is_name(name) or not self._is_file(path):
            raise NotFoundError(
                f"no model {name!r} in {self.tree.label}; models: {', '.join(self.model_names()) or 'none'}"
            )
        return self._load(path, "Model")

    def version_numbers(self, name: str) -> list[int]:
        self.model(name)
        return layout.version_numbers(self.tree.listdir(f"{layout.model_dir(name)}/versions") or {})

    def version(self, name: str, version: int) -> ModelVersion:
        path = layout.version_path(name, version)
        if not self._is_file(path):
            known = ", ".join(map(str, self.version_numbers(name))) or "none"
            raise NotFoundError(f"model {name!r} has no version {version}; versions: {known}")
        return self._load(path, "ModelVersion")

    def eval(self, name: str, version: int) -> EvalResult | None:
        path = layout.eval_path(name, version)
        return self._load(path, "EvalResult") if self._is_file(path) else None

    def aliases(self, name: str) -> dict[str, Alias]:
        self.model(name)
        names = layout.alias_names(self.tree.listdir(f"{layout.model_dir(name)}/aliases") or {})
        return {a: self._load(layout.alias_path(name, a), "Alias") for a in names}

    def online(self, name: str, alias: str, candidate: int) -> OnlineEvaluation | None:
        """The live evidence of rolling ``candidate`` out to ``alias`` (online/<alias>/<candidate>.yaml), if any."""
        path = layout.online_path(name, alias, candidate)
        return self._load(path, "OnlineEvaluation") if self._is_file(path) else None

    def stages(self) -> dict[str, str]:
        """The aliases MLflow's stages stand for: policy.yaml's ``stages:``, else the default mapping."""
        if self._stages is None:
            stages = dict(DEFAULT_STAGES)
            if self.tree.entry(layout.POLICY) is not None:
                doc, findings = load_manifest(self.tree, layout.POLICY, "Policy")
                if doc is None:
                    f = findings[0]
                    raise InputError(f"{f.rule} {f.message}", path=f.path, line=f.line)
                stages = dict(doc.data.get("stages", stages))
            self._stages = stages
        return dict(self._stages)

    def deprecated(self, name: str) -> set[int]:
        """The versions model.yaml marks deprecated."""
        return {d.version for d in self.model(name).deprecated}

    def resolve(self, uri: str | ModelRef) -> Resolved:
        """The version a ``models:/`` URI names in this snapshot (an alias, a version, ``latest`` or an MLflow
        stage through policy.yaml's ``stages:``); :class:`NotFoundError` if none."""
        ref = parse_uri(uri) if isinstance(uri, str) else uri
        version = version_named(
            ref,
            lambda name: {a: al.version for a, al in self.aliases(name).items()},
            versions=self.version_numbers,
            deprecated=self.deprecated,
            stages=self.stages() if ref.stage is not None else DEFAULT_STAGES,
        )
        return Resolved(ref, self.version(ref.name, version), self.tree.commit)


# Plain-data views for `list` and `show`: the JSON output is exactly these dicts,
# and the text renderers in report.py draw from them.


def describe_models(reg: Registry) -> dict[str, Any]:
    """Every model with its versions, aliases and owners."""
    models = []
    for name in reg.model_names():
        model = reg.model(name)
        versions = reg.version_numbers(name)
        models.append(
            {
                "name": name,
                "description": model.description,
                "owners": list(model.owners),
                "versions": versions,
                "latest": versions[-1] if versions else None,
                "aliases": {a: al.version for a, al in reg.aliases(name).items()},
                "deprecated": [d.version for d in model.deprecated],
            }
        )
    return {"commit": reg.tree.commit, "source": reg.tree.label, "models": models}


def describe_model(reg: Registry, name: str) -> dict[str, Any]:
    """One model: metadata, aliases, and a line per version."""
    model = reg.model(name)
    aliases = reg.aliases(name)
    by_version: dict[int, list[str]] = {}
    for a, al in aliases.items():
        by_version.setdefault(al.version, []).append(a)
    versions = []
    metric_names: dict[str, None] = {}  # every version's metrics, in the order they first appear
    for n in reg.version_numbers(name):
        v = reg.version(name, n)
        dep = model.deprecation(n)
        metrics = _metrics_or_none(reg, name, n)
        metric_names.update(dict.fromkeys(metrics or ()))
        versions.append(
            {
                "version": n,
                "created_at": v.created_at,
                "created_by": v.created_by,
                "description": v.description,
                "aliases": by_version.get(n, []),
                "deprecated": dep.reason if dep else None,
                "metrics": metrics,
            }
        )
    return {
        "commit": reg.tree.commit,
        "name": model.name,
        "description": model.description,
        "owners": list(model.owners),
        "tags": dict(model.tags),
        "aliases": {a: {"version": al.version, "note": al.note} for a, al in aliases.items()},
        "metrics": list(metric_names),
        "versions": versions,
    }


def _metrics_or_none(reg: Registry, name: str, version: int) -> dict[str, float] | None:
    """A version's eval.yaml metrics ({} without an eval.yaml; None when it cannot be read: validate says why)."""
    try:
        ev = reg.eval(name, version)
    except InputError:
        return None
    return {} if ev is None else dict(ev.metrics)


def describe_version(reg: Registry, name: str, version: int) -> dict[str, Any]:
    """One version in full: artifact, lineage, signature, evaluation, evidence, aliases."""
    model = reg.model(name)
    v = reg.version(name, version)
    ev = reg.eval(name, version)
    dep = model.deprecation(version)
    folder = layout.version_dir(name, version)
    listing = reg.tree.listdir(folder) or {}
    evidence = {
        "eval": "eval.yaml" if "eval.yaml" in listing else None,
        "card": "card.md" if "card.md" in listing else None,
    }
    evidence.update(v.evidence)
    return {
        "commit": reg.tree.commit,
        "model": name,
        "version": version,
        "description": v.description,
        "created_at": v.created_at,
        "created_by": v.created_by,
        "aliases": sorted(a for a, al in reg.aliases(name).items() if al.version == version),
        "deprecated": dep.reason if dep else None,
        "artifact": {
            "uri": v.artifact.uri,
            "sha256": v.artifact.sha256,
            "size": v.artifact.size,
            "format": v.artifact.format,
        },
        "lineage": _plain(v.lineage),
        "signature": _plain(v.signature),
        "tags": dict(v.tags),
        "evidence": evidence,
        "eval": None
        if ev is None
        else {
            "dataset": dict(ev.dataset),
            "metrics": dict(ev.metrics),
            "slices": {k: dict(s) for k, s in ev.slices.items()},
            "evaluated_at": ev.evaluated_at,
        },
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
