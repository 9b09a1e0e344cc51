"""Policy-as-code: gates per alias, per-model tightening, and what counts as loosening.

Pure functions over frozen objects; reading policy.yaml from a tree happens in
:mod:`mlgate.gates`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from mlgate.core.uris import DEFAULT_STAGES

DEFAULT = "*"


@dataclass(frozen=True)
class Bound:
    """Bounds of one metric. ``max`` set means lower is better; otherwise higher is better."""

    min: float | None = None
    max: float | None = None
    no_regression: float | None = None
    #: "lower" or "higher" once fixed by the registry policy (a model's own gate can never flip it); None: from min/max
    better: str | None = None

    @property
    def lower_is_better(self) -> bool:
        if self.better is not None:
            return self.better == "lower"
        return self.max is not None and self.min is None


@dataclass(frozen=True)
class Approvals:
    min: int = 0
    allowed: tuple[str, ...] = ()  # users and @org/team entries; empty = anyone
    exclude_author: bool = True


def _bounds(data: Mapping[str, Any]) -> dict[str, Bound]:
    return {k: Bound(v.get("min"), v.get("max"), v.get("no_regression")) for k, v in data.items()}


def _approvals(data: Mapping[str, Any] | None) -> Approvals | None:
    if data is None:
        return None
    return Approvals(data["min"], tuple(data.get("from", ())), data.get("exclude_author", True))


@dataclass(frozen=True)
class OnlineGate:
    """What the live evidence at a rollout's current step must show before a step up or the completion."""

    min_requests: int = 0
    min_hours: float = 0
    metrics: Mapping[str, Bound] = field(default_factory=dict)


@dataclass(frozen=True)
class RolloutGate:
    """An alias's required progressive rollout: its steps (percent, increasing), the online gate, approvals."""

    steps: tuple[float, ...]
    online: OnlineGate = field(default_factory=OnlineGate)
    approvals: Approvals | None = None  # None: the alias's own approvals

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> RolloutGate:
        online = data.get("online", {})
        return cls(
            tuple(sorted(data["steps"])),
            OnlineGate(online.get("min_requests", 0), online.get("min_hours", 0), _bounds(online.get("metrics", {}))),
            _approvals(data.get("approvals")),
        )


@dataclass(frozen=True)
class Gate:
    """What a version must show before an alias may point at it."""

    evidence: tuple[str, ...] = ()
    metrics: Mapping[str, Bound] = field(default_factory=dict)
    card_sections: tuple[str, ...] = ()
    approvals: Approvals | None = None  # None: the gate says nothing about approvals
    rollback: Gate | None = None
    rollout: RolloutGate | None = None  # set: a new version reaches this alias only through a rollout

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any], *, allow_rollback: bool = True) -> Gate:
        return cls(
            evidence=tuple(data.get("evidence", ())),
            metrics=_bounds(data.get("metrics", {})),
            card_sections=tuple(data.get("card_sections", ())),
            approvals=_approvals(data.get("approvals")),
            rollback=cls.from_manifest(data["rollback"], allow_rollback=False)
            if allow_rollback and "rollback" in data
            else None,
            rollout=RolloutGate.from_manifest(data["rollout"]) if allow_rollback and "rollout" in data else None,
        )

    def for_rollback(self) -> Gate:
        """The gate a return to a previous holder must pass: ``rollback`` if the policy has one."""
        return self.rollback if self.rollback is not None else self


@dataclass(frozen=True)
class Policy:
    """registry/policy.yaml."""

    admins: tuple[str, ...]
    gates: Mapping[str, Gate]
    protect: tuple[str, ...] = ()  # more paths (files, or folders ending in '/') whose changes need the admins
    #: the aliases MLflow's stages stand for (``stages:``; :data:`mlgate.core.uris.DEFAULT_STAGES` when absent)
    stages: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STAGES))

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> Policy:
        return cls(
            tuple(data["admins"]),
            {a: Gate.from_manifest(g) for a, g in data["aliases"].items()},
            tuple(data.get("protect", ())),
            dict(data["stages"]) if "stages" in data else dict(DEFAULT_STAGES),
        )

    def protects(self, path: str) -> bool:
        """Whether the policy's ``protect`` list covers ``path``."""
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.protect)

    def gate_for(self, alias: str) -> tuple[Gate | None, str | None]:
        """The registry gate for ``alias`` and the policy key it came from ('*' for the default)."""
        if alias in self.gates:
            return self.gates[alias], alias
        if DEFAULT in self.gates:
            return self.gates[DEFAULT], DEFAULT
        return None, None

    def is_protected(self, alias: str) -> bool:
        """An alias the policy names explicitly: removing it is gated too."""
        return alias in self.gates


def _stricter_min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _stricter_max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(x for x in b if x not in a)


def tighten(base: Gate | None, extra: Gate | None) -> Gate | None:
    """The registry gate combined with a model's own: the stricter of each requirement.

    Lists (evidence, card sections) add up; bounds take the stricter value;
    an approver set from the model narrows the registry's (entries outside it
    are ignored here and reported by :func:`loosenings`).
    """
    if extra is None:
        return base
    if base is None:
        return extra
    approvals = _stricter_approvals(base.approvals, extra.approvals)
    combined = replace(
        base,
        evidence=_union(base.evidence, extra.evidence),
        metrics=_stricter_metrics(base.metrics, extra.metrics),
        card_sections=_union(base.card_sections, extra.card_sections),
        approvals=approvals,
        rollback=None,
        rollout=_stricter_rollout(base.rollout, extra.rollout),
    )
    if base.rollback is not None or extra.rollback is not None:
        combined = replace(combined, rollback=tighten(base.rollback or base, extra.rollback))
    return combined


def _stricter_metrics(base: Mapping[str, Bound], extra: Mapping[str, Bound]) -> dict[str, Bound]:
    metrics = dict(base)
    for name, b in extra.items():
        a = metrics.get(name)
        # which way is better is the registry's to say: a model adding `min: 0` to a lower-is-better metric
        # must not turn its no-regression check around
        better = None if a is None else ("lower" if a.lower_is_better else "higher")
        a = a or Bound()
        metrics[name] = Bound(
            _stricter_min(a.min, b.min),
            _stricter_max(a.max, b.max),
            _stricter_max(a.no_regression, b.no_regression),
            better,
        )
    return metrics


def _stricter_rollout(a: RolloutGate | None, b: RolloutGate | None) -> RolloutGate | None:
    """Both rollouts' demands: every step of either, the larger minimums, the stricter bounds and approvals."""
    if a is None or b is None:
        return a or b
    return RolloutGate(
        tuple(sorted(set(a.steps) | set(b.steps))),
        OnlineGate(
            max(a.online.min_requests, b.online.min_requests),
            max(a.online.min_hours, b.online.min_hours),
            _stricter_metrics(a.online.metrics, b.online.metrics),
        ),
        _stricter_approvals(a.approvals, b.approvals),
    )


def _stricter_approvals(a: Approvals | None, b: Approvals | None) -> Approvals | None:
    if a is None or b is None:
        return a or b
    allowed = a.allowed
    if b.allowed:
        narrowed = tuple(x for x in b.allowed if not allowed or x in allowed)
        allowed = narrowed or allowed
    return Approvals(max(a.min, b.min), allowed, a.exclude_author or b.exclude_author)


def loosenings(base: Gate, extra: Gate, where: str) -> list[str]:
    """Every way a model's gate is looser than the registry's, in words (empty when it only tightens)."""
    found = []
    for name, b in extra.metrics.items():
        a = base.metrics.get(name)
        if a is None:
            continue
        if a.min is not None and b.min is not None and b.min < a.min:
            found.append(f"{where}.metrics.{name}.min {b.min} is below the registry's {a.min}")
        if a.max is not None and b.max is not None and b.max > a.max:
            found.append(f"{where}.metrics.{name}.max {b.max} is above the registry's {a.max}")
        if a.no_regression is not None and b.no_regression is not None and b.no_regression > a.no_regression:
            found.append(
                f"{where}.metrics.{name}.no_regression {b.no_regression} allows more than the registry's {a.no_regression}"
            )
    ea, ra = extra.approvals, base.approvals
    if ea is not None and ra is not None:
        if ea.min < ra.min:
            found.append(f"{where}.approvals.min {ea.min} is below the registry's {ra.min}")
        if ra.exclude_author and not ea.exclude_author:
            found.append(f"{where}.approvals.exclude_author false would let authors approve their own change")
        if ra.allowed and ea.allowed:
            outside = [x for x in ea.allowed if x not in ra.allowed]
            if outside:
                found.append(f"{where}.approvals.from adds {', '.join(outside)}, whom the registry does not allow")
    if extra.rollback is not None:
        found += loosenings(base.for_rollback(), extra.rollback, f"{where}.rollback")
    if base.rollout is not None and extra.rollout is not None:
        ro, rx = base.rollout.online, extra.rollout.online
        if rx.min_requests < ro.min_requests:
            found.append(
                f"{where}.rollout.online.min_requests {rx.min_requests} is below the registry's {ro.min_requests}"
            )
        if rx.min_hours < ro.min_hours:
            found.append(f"{where}.rollout.online.min_hours {rx.min_hours} is below the registry's {ro.min_hours}")
        found += loosenings(Gate(metrics=ro.metrics), Gate(metrics=rx.metrics), f"{where}.rollout.online")
        found += loosenings(
            Gate(approvals=base.rollout.approvals), Gate(approvals=extra.rollout.approvals), f"{where}.rollout"
        )
    return found
