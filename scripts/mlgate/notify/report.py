"""The summary of ``mlgate notify`` for a terminal: per subscriber, what was delivered, failed or skipped, and
why. Every value from the repository, the environment or a receiver is escaped (control characters shown)."""

from __future__ import annotations

from mlgate.notify.results import NotifyResult, SubscriberResult
from mlgate.render.report import terminal_safe


def _line(text: str) -> str:
    return terminal_safe(text, newlines=False)


def _quoted(text: str) -> str:
    return '"' + _line(text) + '"'


def _subscriber(s: SubscriberResult, dry_run: bool) -> list[str]:
    sub = s.subscriber
    head = f"{_line(sub.label)} ({sub.format}): "
    if dry_run:
        head += f"{s.count('planned')} to send"
    else:
        head += f"{s.count('delivered')} delivered, {s.count('failed')} failed, {s.count('skipped')} skipped"
    head += f", {s.filtered} not subscribed"
    out = [head]
    if s.error:
        out.append(f"    error: {_line(s.error)}")
    for d in s.deliveries:
        if d.status == "planned":
            out.append(
                f"    would send {d.type} {_line(d.subject)} (commit {d.commit[:12]} {_quoted(d.title)}, "
                f"id {d.id[:16]})"
            )
        elif d.status == "failed":
            tries = f"{d.attempts} attempt" + ("s" if d.attempts != 1 else "")
            out.append(
                f"    failed: {d.type} {_line(d.subject)} (commit {d.commit[:12]} {_quoted(d.title)}) after {tries}: "
                f"{_line(d.error or '?')}"
            )
    return out


def notify_text(result: NotifyResult) -> str:
    """The terminal summary."""
    since = result.since[:12] if result.since else "the branch's creation"
    verb = "would send" if result.dry_run else "sent"
    lines = [
        f"{len(result.events)} event(s) on {_line(result.ref)} after {since} "
        f"(up to {result.commit[:12]}); {verb} to {len(result.subscribers)} subscriber(s)"
    ]
    for s in result.subscribers:
        lines += ["  " + line if not line.startswith("    ") else line for line in _subscriber(s, result.dry_run)]
    return "\n".join(lines) + "\n"
