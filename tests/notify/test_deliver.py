"""One POST with bounded retries, against the real receiver: what is retried and what is final, redirects never
followed, Retry-After in both of its forms, and the schedule's bounds for any input."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.events import KINDS, REJECTED
from mlgate.infra.schemas import schema
from mlgate.notify import RetryPolicy, post
from mlgate.notify.deliver import retry_after
from tests.notify.conftest import Receiver

FAST = RetryPolicy(attempts=3, backoff=0, max_delay=0, timeout=5)


def test_a_redirect_is_final_and_never_followed(receiver: Receiver) -> None:
    receiver.answer("/hook", (307, {"Location": receiver.url("/elsewhere")}))
    outcome = post(receiver.url(), b"{}", {"Content-Type": "application/json"}, FAST)
    assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 1, 307)
    assert "not followed" in (outcome.error or "")
    assert receiver.at("/elsewhere") == []


def test_each_4xx_but_429_is_final_and_each_5xx_is_retried(receiver: Receiver) -> None:
    for status in (400, 401, 403, 404, 409, 410, 413, 422):
        receiver.answer(f"/{status}", (status, {}))
        outcome = post(receiver.url(f"/{status}"), b"{}", {}, FAST)
        assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 1, status)
    for status in (500, 502, 503, 504, 429):
        receiver.answer(f"/{status}", (status, {}))
        outcome = post(receiver.url(f"/{status}"), b"{}", {}, FAST)
        assert (outcome.delivered, outcome.attempts, outcome.status) == (True, 2, 200)


def test_retry_after_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after("120", now) == 120
    assert retry_after("Tue, 24 Nov 2026 12:00:30 GMT", now) == 30
    assert retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now) == 0  # in the past: at once
    assert retry_after("soon", now) is None and retry_after(None, now) is None and retry_after("-5", now) is None


@settings(deadline=None)
@given(
    attempts=st.integers(1, 20),
    backoff=st.floats(0, 3600),
    max_delay=st.floats(0, 3600),
    failures=st.integers(1, 19),
    after=st.none() | st.floats(0, 10**9),
)
def test_no_wait_is_negative_or_over_the_cap(
    attempts: int, backoff: float, max_delay: float, failures: int, after: float | None
) -> None:
    policy = RetryPolicy(attempts, backoff, max_delay, 1)
    wait = policy.delay(failures, after)
    assert 0 <= wait <= max_delay
    if after is None and backoff * 2**failures <= max_delay:
        assert policy.delay(failures + 1, None) == 2 * wait  # doubling until the cap


def test_the_schema_lists_every_kind_history_writes_on_a_branch() -> None:
    kinds = schema("Notifications")["$defs"]["subscriber"]["properties"]["kinds"]["items"]["enum"]
    assert kinds == [k for k in KINDS if k != REJECTED]  # rejected pull requests never reach the branch


def test_a_receiver_that_hangs_up_or_speaks_no_http_is_retried_then_fails() -> None:
    import socket
    import threading

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]

        def answer_garbage() -> None:
            for _ in range(2):
                conn, _ = server.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        outcome = post(f"http://127.0.0.1:{port}/hook", b"{}", {}, RetryPolicy(attempts=2, backoff=0, timeout=5))
        thread.join(timeout=5)
    assert (outcome.delivered, outcome.attempts, outcome.status) == (False, 2, None)
    assert (outcome.error or "").startswith("connection failed: BadStatusLine")
