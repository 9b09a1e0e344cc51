"""Progressive rollouts: what an alias change does to a rollout, which step comes next, and how a request
key is routed. Pure: the gates (mlgate.check), the write side (mlgate.change) and serving all decide here.

A rollout is the ``rollout:`` block of an alias file beside ``version:``::

    version: 2                 # the holder: answers every request not routed to the candidate
    rollout: {candidate: 3, mode: canary, percent: 5}

A start adds the block, a step changes ``percent``, a completion sets ``version`` to the candidate and removes
the block, an abort removes the block and leaves ``version``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Mapping

#: the rollout modes: the candidate answers a share of requests (canary) or receives a mirrored share (shadow)
ROLLOUT_MODES = ("canary", "shadow")


@dataclass(frozen=True)
class Rollout:
    """A progressive rollout under way on an alias (its ``rollout:`` block)."""

    candidate: int
    mode: str  # one of ROLLOUT_MODES
    percent: float
    started_at: str | None = None

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> Rollout:
        return cls(data["candidate"], data["mode"], data["percent"], data.get("started_at"))

    def to_manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {"candidate": self.candidate, "mode": self.mode, "percent": self.percent}
        if self.started_at is not None:
            out["started_at"] = self.started_at
        return out


Kind = Literal["start", "step", "complete", "abort"]
KINDS: tuple[Kind, ...] = ("start", "step", "complete", "abort")
#: routing resolution: a key falls in one of this many buckets, so a share is exact to 0.01 percent
BUCKETS = 10_000


@dataclass(frozen=True)
class RolloutChange:
    """What one alias change does to a rollout.

    ``before``/``after`` are the percent before and after (None where there is no rollout); ``problem`` says,
    in words, why the change is not one well-formed rollout step (None when it is).
    """

    kind: Kind
    candidate: int
    mode: str
    before: float | None
    after: float | None
    problem: str | None = None

    @property
    def is_step_down(self) -> bool:
        return self.kind == "step" and self.before is not None and self.after is not None and self.after < self.before


def classify(
    version_before: int | None,
    rollout_before: Rollout | None,
    version_after: int | None,
    rollout_after: Rollout | None,
) -> RolloutChange | None:
    """The rollout change an alias change makes (None when neither side has a rollout: a plain promotion)."""
    rb, ra = rollout_before, rollout_after
    if rb is None and ra is None:
        return None
    if rb is None:
        assert ra is not None
        problem = None
        if version_before is None:
            problem = "a rollout needs a version holding the alias to roll out from: promote one first"
        elif version_after != version_before:
            problem = "a rollout start must leave 'version' as it is (the holder keeps serving the rest)"
        elif ra.candidate == version_before:
            problem = f"the candidate is version {ra.candidate}, which already holds the alias"
        return RolloutChange("start", ra.candidate, ra.mode, None, ra.percent, problem)
    if ra is None:
        if version_after == rb.candidate:
            return RolloutChange("complete", rb.candidate, rb.mode, rb.percent, None)
        if version_after == version_before:
            return RolloutChange("abort", rb.candidate, rb.mode, rb.percent, None)
        return RolloutChange(
            "complete",
            rb.candidate,
            rb.mode,
            rb.percent,
            None,
            f"ending the rollout of version {rb.candidate} must set 'version' to it (complete) or leave it at "
            f"{version_before} (abort), not {version_after}",
        )
    problem = None
    if ra.candidate != rb.candidate or ra.mode != rb.mode:
        problem = (
            "a rollout's candidate and mode stay the same from start to end: abort this one "
            f"(version {rb.candidate}, {rb.mode}) before starting another"
        )
    elif version_after != version_before:
        problem = "a rollout step must leave 'version' as it is: complete the rollout to move the alias"
    elif ra.percent == rb.percent:
        return None  # nothing about the rollout moved (a note, say)
    return RolloutChange("step", rb.candidate, rb.mode, rb.percent, ra.percent, problem)


def next_step(steps: Sequence[float], percent: float | None) -> float | None:
    """The share a rollout at ``percent`` may step up to next: the first of ``steps`` above it (the first step
    for None: not started), or None when it is at or past the last step (the completion comes next)."""
    for step in sorted(steps):
        if percent is None or step > percent:
            return step
    return None


def bucket(model: str, alias: str, candidate: int, key: str) -> int:
    """The bucket (0 to :data:`BUCKETS` - 1) a request key falls in for one rollout: a hash of model, alias,
    candidate and key, so every replica and every restart routes a key the same way, and a new rollout
    (another candidate) draws its own sample of keys."""
    data = "\0".join(("mlgate-route/v1", model, alias, str(candidate), key)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big") % BUCKETS


def to_candidate(rollout: Rollout, model: str, alias: str, key: str) -> bool:
    """Whether the request ``key`` goes to the candidate: its bucket is below the rollout's share. Keys that go
    to the candidate at a share still go there at every larger share (a step up only adds keys)."""
    return bucket(model, alias, rollout.candidate, key) < round(rollout.percent * BUCKETS / 100)
