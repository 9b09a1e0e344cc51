"""What can happen to the registry on its target branch: the kinds of history events, and the kinds of
alias change a gate judges."""

from __future__ import annotations

from typing import Final, Literal

EventKind = Literal[
    "registration",
    "promotion",
    "rollback",
    "removal",
    "deprecation",
    "undeprecation",
    "policy-change",
    "version-removed",
    "rejected",
    "rollout-start",
    "rollout-step",
    "rollout-complete",
    "rollout-abort",
    "rollout-evidence",
]
#: the kinds of change a gate judges (an alias moving, being removed, or the policy changing)
GateKind = Literal["promotion", "rollback", "removal", "policy-change"]

REGISTRATION: Final = "registration"
PROMOTION: Final = "promotion"
ROLLBACK: Final = "rollback"
REMOVAL: Final = "removal"
DEPRECATION: Final = "deprecation"
UNDEPRECATION: Final = "undeprecation"
POLICY_CHANGE: Final = "policy-change"
VERSION_REMOVED: Final = "version-removed"
REJECTED: Final = "rejected"  # a pull request closed without merge (history --include-rejected)
# progressive rollouts (the alias file's rollout: block, and the online evidence beside it)
ROLLOUT_START: Final = "rollout-start"  # the block added: the candidate gets its first share
ROLLOUT_STEP: Final = "rollout-step"  # its percent changed (up, or down: a revert of a step)
ROLLOUT_COMPLETE: Final = "rollout-complete"  # version set to the candidate, block removed: also the promotion
ROLLOUT_ABORT: Final = "rollout-abort"  # block removed, version kept (an abort, or a revert of the start)
ROLLOUT_EVIDENCE: Final = "rollout-evidence"  # an OnlineEvaluation written for the rollout's current step

KINDS: Final[tuple[EventKind, ...]] = (
    REGISTRATION,
    PROMOTION,
    ROLLBACK,
    REMOVAL,
    DEPRECATION,
    UNDEPRECATION,
    POLICY_CHANGE,
    VERSION_REMOVED,
    REJECTED,
    ROLLOUT_START,
    ROLLOUT_STEP,
    ROLLOUT_COMPLETE,
    ROLLOUT_ABORT,
    ROLLOUT_EVIDENCE,
)
#: the rollout kinds, in the order a rollout goes through them
ROLLOUT_KINDS: Final[tuple[EventKind, ...]] = (
    ROLLOUT_START,
    ROLLOUT_EVIDENCE,
    ROLLOUT_STEP,
    ROLLOUT_COMPLETE,
    ROLLOUT_ABORT,
)
