"""What a subscriber receives: a CloudEvents 1.0 structured JSON document or a Slack message, the body's
HMAC-SHA256 signature, and the stable id that lets a receiver drop a re-sent event.

An event's id is a hash of its commit and its identity (kind, model, alias, from and to version), so running
``mlgate notify`` again over the same commits sends the same ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from mlgate import __version__
from mlgate.audit.history import Event

SPECVERSION = "1.0"
TYPE_PREFIX = "dev.mlgate."
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
SIGNATURE_HEADER = "X-Mlgate-Signature-256"
EVENT_ID_HEADER = "X-Mlgate-Event-Id"
USER_AGENT = f"mlgate/{__version__}"

# what Slack's mrkdwn gives a meaning to (links, mentions, channel names: all start with '<'), and the
# control characters that would break a message's line or hide text
_SLACK_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def identity(event: Event) -> str:
    """What makes an event itself within its commit: kind, model, alias, from and to version."""
    return "\0".join(
        str(x if x is not None else "")
        for x in (event.kind, event.model, event.alias, event.from_version, event.to_version)
    )


def event_ids(events: list[Event]) -> list[str]:
    """Each event's stable id: sha256 of its commit, its identity and, for the rare identical twins in one
    commit, their order."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for e in events:
        key = (e.commit, identity(e))
        n = seen.get(key, 0)
        seen[key] = n + 1
        text = f"mlgate-event\0{e.commit}\0{key[1]}" + (f"\0{n}" if n else "")
        out.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return out


def subject(event: Event) -> str:
    """What the event is about, as a ``models:/`` URI (``models:/fraud-detector@champion``,
    ``models:/fraud-detector/3``), or the file for a change of the policy."""
    if event.model is None:
        return "registry/policy.yaml"
    if event.alias is not None:
        return f"models:/{event.model}@{event.alias}"
    if event.to_version is not None:
        return f"models:/{event.model}/{event.to_version}"
    return f"models:/{event.model}"


def event_type(event: Event) -> str:
    """The CloudEvents type: ``dev.mlgate.`` and the history kind (``dev.mlgate.promotion``)."""
    return TYPE_PREFIX + event.kind


def cloudevent(event: Event, event_id: str, source: str) -> dict[str, Any]:
    """The CloudEvents 1.0 structured-mode document of ``event``; ``data`` is the event as `mlgate history
    --format jsonl` writes it (schemas/history-event.schema.json)."""
    return {
        "specversion": SPECVERSION,
        "id": event_id,
        "source": source,
        "type": event_type(event),
        "subject": subject(event),
        "time": event.time,
        "datacontenttype": "application/json",
        "data": event.to_dict(),
    }


def encode(document: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, ASCII only (every other character escaped)."""
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def signature(secret: bytes, body: bytes) -> str:
    """The header value signing ``body``: ``sha256=`` and the hex HMAC-SHA256 of its exact bytes."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (constant-time): what a receiver does."""
    return header is not None and hmac.compare_digest(signature(secret, body), header)


def slack_text(text: Any) -> str:
    """Untrusted text for Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped (so nothing becomes a link, a
    mention such as ``<!channel>`` or a user ``<@U123>``), control and invisible characters replaced by
    a visible ``\\uXXXX``, all on one line."""
    one_line = _CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", str(text))
    return "".join(_SLACK_SPECIAL.get(c, c) for c in one_line)


def _versions(event: Event) -> str:
    before = f"v{event.from_version}" if event.from_version is not None else "none"
    after = f"v{event.to_version}" if event.to_version is not None else "none"
    return f"{before} \u2192 {after}"


def slack_message(event: Event) -> dict[str, Any]:
    """An incoming-webhook message: one mrkdwn line per fact, every value from the repository escaped."""
    what = slack_text(subject(event))
    lines = [f"*{slack_text(event.kind)}* {what}"]
    if event.alias is not None or event.from_version is not None:
        lines.append(_versions(event))
    pr = f"PR #{event.pr}, " if event.pr is not None else ""
    lines.append(f"{pr}commit {slack_text(event.commit[:12])} by {slack_text(event.author)}")
    if event.approvers:
        lines.append("approved by " + ", ".join(slack_text(a.login) for a in event.approvers))
    if event.subject:
        lines.append(slack_text(event.subject))
    return {"text": "\n".join(lines), "mrkdwn": True, "unfurl_links": False, "unfurl_media": False}
