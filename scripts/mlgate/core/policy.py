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


@dataclass(frozen=True)
class Gate:
    """What a version must show before an alias may point at it."""

    evidence: tuple[str, ...] = ()
    metrics: Mapping[str, Bound] = field(default_factory=dict)
    card_sections: tuple[str, ...] = ()
    approvals: Approvals | None = None  # None: the gate says nothing about approvals
    rollback: Gate | None = None

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any], *, allow_rollback: bool = True) -> Gate:
        appr = data.get("approvals")
        return cls(
            evidence=tuple(data.get("evidence", ())),
            metrics={
                k: Bound(v.get("min"), v.get("max"), v.get("no_regression")) for k, v in data.get("metrics", {}).items()
            },
            card_sections=tuple(data.get("card_sections", ())),
            approvals=None
            if appr is None
            else Approvals(appr["min"], tuple(appr.get("from", ())), appr.get("exclude_author", True)),
            rollback=cls.from_manifest(data["rollback"], allow_rollback=False)
            if allow_rollback and "rollback" in data
            else None,
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
    metrics = dict(base.metrics)
    for name, b in extra.metrics.items():
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
    approvals = _stricter_approvals(base.approvals, extra.approvals)
    combined = replace(
        base,
        evidence=_union(base.evidence, extra.evidence),
        metrics=metrics,
        card_sections=_union(base.card_sections, extra.card_sections),
        approvals=approvals,
        rollback=None,
    )
    if base.rollback is not None or extra.rollback is not None:
        combined = replace(combined, rollback=tighten(base.rollback or base, extra.rollback))
    return combined


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
    return found
