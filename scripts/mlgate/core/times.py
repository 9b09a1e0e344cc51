"""The one timestamp format of the registry: UTC to the second, ``2026-01-31T12:00:00Z``.

Manifests (``created_at``, ``evaluated_at``), history events, the serving index (``generated_at``,
``expires``) and forge records all write it, so timestamps sort as text and compare across sources.
"""

from __future__ import annotations

from datetime import datetime, timezone

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


def format_time(when: datetime | None = None) -> str:
    """``when`` (default: now) in the registry's format; a naive datetime is taken as UTC."""
    when = now() if when is None else when
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(text: object) -> datetime | None:
    """A time written in the registry's format, or None for anything else."""
    if isinstance(text, str):
        try:
            return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            return None
    return None


def parse_iso(text: str) -> datetime | None:
    """Any ISO 8601 date-time git or a forge writes (``Z`` or an offset), in UTC; None if unreadable."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def normalize(text: str) -> str:
    """An ISO 8601 date-time with any offset rewritten in the registry's format (``text`` unchanged if
    unreadable)."""
    when = parse_iso(text)
    return text if when is None else format_time(when)
