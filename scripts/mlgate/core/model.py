"""The registry's domain objects: frozen, built only from schema-valid manifests (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from mlgate.core.rollout import ROLLOUT_MODES as ROLLOUT_MODES  # defined beside the rollout rules, re-exported
from mlgate.core.rollout import Rollout as Rollout


def _frozen(d: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Deprecation:
    version: int
    reason: str
    date: str | None = None


@dataclass(frozen=True)
class Model:
    """A model (model.yaml)."""

    name: str
    description: str
    owners: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    deprecated: tuple[Deprecation, ...] = ()
    policy: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> Model:
        return cls(
            name=data["name"],
            description=data["description"],
            owners=tuple(data["owners"]),
            tags=_frozen(data.get("tags")),
            deprecated=tuple(Deprecation(d["version"], d["reason"], d.get("date")) for d in data.get("deprecated", ())),
            policy=_frozen(data.get("policy")),
        )

    def deprecation(self, version: int) -> Deprecation | None:
        return next((d for d in self.deprecated if d.version == version), None)


@dataclass(frozen=True)
class Artifact:
    uri: str
    sha256: str
    size: int
    format: str


@dataclass(frozen=True)
class ModelVersion:
    """One immutable version (version.yaml)."""

    model: str
    version: int
    artifact: Artifact
    lineage: Mapping[str, Any]
    created_at: str
    created_by: str
    description: str = ""
    signature: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> ModelVersion:
        return cls(
            model=data["model"],
            version=data["version"],
            artifact=Artifact(**data["artifact"]),
            lineage=_frozen(data["lineage"]),
            created_at=data["created_at"],
            created_by=data["created_by"],
            description=data.get("description", ""),
            signature=_frozen(data.get("signature")),
            evidence=_frozen(data.get("evidence")),
            tags=_frozen(data.get("tags")),
        )


@dataclass(frozen=True)
class EvalResult:
    """A version's evaluation evidence (eval.yaml)."""

    model: str
    version: int
    dataset: Mapping[str, str]
    metrics: Mapping[str, float]
    slices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    evaluated_at: str | None = None

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> EvalResult:
        return cls(
            model=data["model"],
            version=data["version"],
            dataset=_frozen(data["dataset"]),
            metrics=_frozen(data["metrics"]),
            slices=_frozen({k: _frozen(v) for k, v in data.get("slices", {}).items()}),
            evaluated_at=data.get("evaluated_at"),
        )


@dataclass(frozen=True)
class Alias:
    """An alias assignment (aliases/<alias>.yaml), with the rollout of a candidate when one is under way."""

    model: str
    alias: str
    version: int
    note: str | None = None
    rollout: Rollout | None = None

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> Alias:
        rollout = data.get("rollout")
        return cls(
            model=data["model"],
            alias=data["alias"],
            version=data["version"],
            note=data.get("note"),
            rollout=Rollout.from_manifest(rollout) if rollout is not None else None,
        )


@dataclass(frozen=True)
class OnlineEvaluation:
    """Live evidence of a rollout (online/<alias>/<candidate>.yaml): requests and metrics per arm over a window."""

    model: str
    alias: str
    candidate: int
    holder: int
    mode: str
    percent: float
    window_start: str
    window_end: str
    requests_candidate: int
    requests_holder: int
    metrics_candidate: Mapping[str, float]
    metrics_holder: Mapping[str, float]
    source: str | None = None

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> OnlineEvaluation:
        return cls(
            model=data["model"],
            alias=data["alias"],
            candidate=data["candidate"],
            holder=data["holder"],
            mode=data["mode"],
            percent=data["percent"],
            window_start=data["window"]["start"],
            window_end=data["window"]["end"],
            requests_candidate=data["requests"]["candidate"],
            requests_holder=data["requests"]["holder"],
            metrics_candidate=_frozen(data["metrics"]["candidate"]),
            metrics_holder=_frozen(data["metrics"]["holder"]),
            source=data.get("source"),
        )


FACTORIES: dict[str, type[Model | ModelVersion | EvalResult | Alias | OnlineEvaluation]] = {
    "Model": Model,
    "ModelVersion": ModelVersion,
    "EvalResult": EvalResult,
    "Alias": Alias,
    "OnlineEvaluation": OnlineEvaluation,
}
