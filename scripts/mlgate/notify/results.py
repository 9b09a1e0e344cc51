"""What ``mlgate notify`` did: each event's delivery to each subscriber, and the run's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mlgate.audit.history import Event
from mlgate.core.findings import Finding
from mlgate.core.notifications import Subscriber
from mlgate.errors import InputError

Status = Literal["delivered", "failed", "skipped", "planned"]


class NotificationsInvalid(InputError):
    """registry/notifications.yaml on the ref cannot be used: ``findings`` says why, one per field."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more problems)" if len(findings) > 1 else ""
        super().__init__(f"{first.rule} {first.message}{more}", path=first.path, line=first.line)


@dataclass(frozen=True)
class Delivery:
    """One event for one subscriber, and what became of it."""

    id: str
    type: str
    subject: str
    commit: str
    title: str  # the commit's subject (the pull request's title): text from the repository
    status: Status
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    waits: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "commit": self.commit,
            "title": self.title,
            "status": self.status,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "error": self.error,
        }


@dataclass
class SubscriberResult:
    """What one subscriber got."""

    subscriber: Subscriber
    deliveries: list[Delivery] = field(default_factory=list)
    filtered: int = 0  # events its filters do not ask for
    error: str | None = None  # why nothing was sent at all (a missing secret or URL)

    def count(self, status: Status) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def ok(self) -> bool:
        return self.error is None and self.count("failed") == 0

    def to_dict(self) -> dict[str, Any]:
        s = self.subscriber
        return {
            "subscriber": s.label,
            "index": s.index,
            "format": s.format,
            "delivered": self.count("delivered"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "planned": self.count("planned"),
            "not_subscribed": self.filtered,
            "error": self.error,
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


@dataclass
class NotifyResult:
    """Everything ``mlgate notify`` did: the range, the events in it, each subscriber's deliveries."""

    ref: str
    commit: str
    since: str | None
    events: list[Event]
    subscribers: list[SubscriberResult]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.subscribers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "since": self.since,
            "dry_run": self.dry_run,
            "events": len(self.events),
            "ok": self.ok,
            "subscribers": [s.to_dict() for s in self.subscribers],
            "warnings": self.warnings,
        }
