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
)
