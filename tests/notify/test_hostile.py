"""Hostile text from the repository (commit subjects, author names with Markdown, Slack mentions and links,
terminal escapes) lands escaped where it lands: JSON stays exact JSON, Slack gets inert text, the terminal
summary shows control characters as escapes. And the documents' properties for any text."""

from __future__ import annotations

import html
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.audit.history import Approver, Event
from mlgate.notify import cloudevent, event_ids, signature, slack_message, verify
from mlgate.notify.documents import encode, slack_text
from mlgate.testing import RegistryRepo
from tests.notify.conftest import CHAMPION, SECRET, Receiver, subscribe

SUBJECT = "Promote <!here> & <https://evil.example|click> *now* _x_ ~y~ `z` \x1b]8;;http://x\x07link\x1b[2J\u202etxt"
AUTHOR = "Eve *bold* & \x1b[31mred"


@pytest.fixture
def hostile(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """The repository and the commit to notify since; after it, a promotion with a hostile subject and author."""
    monkeypatch.setenv("SLACK_URL", receiver.url("/slack"))
    since = subscribe(
        repo,
        {"url": receiver.url("/events"), "secret_env": secret_env},
        {"url_env": "SLACK_URL", "format": "slack"},
    )
    repo.edit_yaml(CHAMPION, version=3)
    repo.commit(SUBJECT, author=f"{AUTHOR} <eve@example.com>")
    return str(repo.root), since


def hostile_args(hostile: tuple[str, str]) -> tuple[str, ...]:
    return (hostile[0], "notify", "--since", hostile[1])


def test_json_carries_the_text_exactly(hostile: tuple[str, str], receiver: Receiver, run_cli) -> None:
    code, _, err = run_cli("-C", *hostile_args(hostile), "--backoff", "0")
    assert code == 0, err
    (event,) = receiver.at("/events")
    assert event.signed and event.body.isascii()
    data = json.loads(event.body)["data"]
    assert data["subject"] == SUBJECT and data["author"] == AUTHOR  # JSON is JSON: nothing lost, nothing live


def test_slack_gets_no_mention_link_or_control_character(hostile: tuple[str, str], receiver: Receiver, run_cli) -> None:
    code, _, err = run_cli("-C", *hostile_args(hostile), "--backoff", "0")
    assert code == 0, err
    (message,) = receiver.at("/slack")
    text = message.json()["text"]
    assert "<" not in text and ">" not in text
    assert text.splitlines()[:2] == ["*promotion* models:/fraud-detector@champion", "v2 \u2192 v3"]
    assert "&lt;!here&gt; &amp; &lt;https://evil.example|click&gt;" in text
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", text)  # newlines only between our own lines
    assert "\\u001b]8;;http://x\\u0007link" in text
    assert "Eve *bold* &amp; \\u001b[31mred" in text


def test_the_terminal_summary_shows_escapes_not_effects(hostile: tuple[str, str], run_cli) -> None:
    code, out, _ = run_cli("-C", *hostile_args(hostile), "--dry-run")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b]8;;http://x\\x07link" in out


# --- properties of the documents, for any text ----------------------------------------------------------------

texts = st.text(max_size=300)


def event(subject: str, author: str, kind: str = "promotion") -> Event:
    return Event(
        "2026-03-02T12:00:00Z",
        kind,  # type: ignore[arg-type]
        "fraud-detector",
        "champion",
        2,
        3,
        "a" * 40,
        12,
        author,
        None,
        (Approver(author, "2026-03-02T11:00:00Z"),),
        subject,
    )


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_slack_text_is_inert_and_loses_nothing_but_control_characters(text: str) -> None:
    escaped = slack_text(text)
    assert "<" not in escaped and ">" not in escaped and "\n" not in escaped
    assert re.fullmatch(r"([^&]|&amp;|&lt;|&gt;)*", escaped)
    plain = re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]", "", text)
    if plain == text and "\\u" not in text:
        assert html.unescape(escaped) == text


@settings(max_examples=200, deadline=None)
@given(subject=texts, author=texts)
def test_a_slack_message_never_carries_markup_from_the_repository(subject: str, author: str) -> None:
    message = slack_message(event(subject, author))
    assert "<" not in message["text"] and ">" not in message["text"] and message["unfurl_links"] is False


@settings(max_examples=200, deadline=None)
@given(subject=texts, author=texts, secret=st.binary(min_size=1, max_size=64))
def test_cloudevents_round_trip_and_the_signature_covers_every_byte(subject: str, author: str, secret: bytes) -> None:
    e = event(subject, author)
    (event_id,) = event_ids([e])
    body = encode(cloudevent(e, event_id, "urn:mlgate:test"))
    doc = json.loads(body)
    assert doc["data"]["subject"] == subject and doc["data"]["author"] == author and doc["id"] == event_id
    header = signature(secret, body)
    assert verify(secret, body, header)
    assert not verify(secret, body + b" ", header) and not verify(secret + b"x", body, header)
    assert not verify(secret, body, None)


@settings(max_examples=100, deadline=None)
@given(subject=texts, other=texts)
def test_an_events_id_does_not_depend_on_its_text_but_on_its_identity(subject: str, other: str) -> None:
    """A re-run sends the same id even if the forge later renamed the author or the PR title changed."""
    assert event_ids([event(subject, "a")]) == event_ids([event(other, "b")])
    assert event_ids([event(subject, "a")]) != event_ids([event(subject, "a", kind="rollback")])
    twins = event_ids([event(subject, "a"), event(subject, "a")])
    assert len(set(twins)) == 2


def test_the_documented_receiver_snippet_accepts_what_mlgate_signs() -> None:
    import hashlib
    import hmac

    body = encode(cloudevent(event("s", "a"), "id", "urn:mlgate:test"))
    header = signature(SECRET.encode(), body)
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, header)
