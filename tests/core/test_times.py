"""The registry's one timestamp format, table by table: writing it, reading it, and rewriting what git and forges
write into it. No git and no files."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from mlgate.core.times import TIME_FORMAT, format_time, normalize, now, parse_iso, parse_time

UTC = timezone.utc
PLUS_2 = timezone(timedelta(hours=2))
MINUS_5 = timezone(timedelta(hours=-5, minutes=-30))
NOON = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (NOON, "2026-01-31T12:00:00Z"),
        (datetime(2026, 1, 31, 12, 0, 0), "2026-01-31T12:00:00Z"),  # naive: taken as UTC
        (datetime(2026, 1, 31, 14, 0, 0, tzinfo=PLUS_2), "2026-01-31T12:00:00Z"),
        (datetime(2026, 1, 31, 20, 0, 0, tzinfo=MINUS_5), "2026-02-01T01:30:00Z"),  # into the next day and month
        (datetime(2026, 1, 1, 1, 0, 0, tzinfo=PLUS_2), "2025-12-31T23:00:00Z"),  # back into the previous year
        (datetime(2026, 1, 31, 12, 0, 59, 999_999, tzinfo=UTC), "2026-01-31T12:00:59Z"),  # truncated, never rounded
        (datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), "2026-03-04T05:06:07Z"),  # zero-padded fields: sorts as text
    ],
    ids=["utc", "naive", "east", "west-across-midnight", "across-new-year", "microseconds", "padded"],
)
def test_format_time(when: datetime, text: str) -> None:
    assert format_time(when) == text
    assert parse_time(text) == when.replace(microsecond=0, tzinfo=when.tzinfo or UTC)


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone five and a half hours east of UTC, restored afterwards."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 1, 31, 12, 0, 0), "2026-01-31T12:00:00Z"),
        (datetime(2026, 1, 31, 14, 0, 0, tzinfo=PLUS_2), "2026-01-31T12:00:00Z"),
    ],
    ids=["naive", "aware"],
)
def test_the_machines_zone_never_shifts_a_time(far_from_utc: None, when: datetime, text: str) -> None:
    assert time.timezone == -(5 * 3600 + 1800)  # the zone took effect: local time is not UTC here
    assert format_time(when) == text
    assert normalize("2026-01-31T12:00:00") == "2026-01-31T12:00:00Z"


def test_format_time_defaults_to_now_in_utc() -> None:
    before = now().replace(microsecond=0)
    text = format_time()
    after = now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text)
    parsed = parse_time(text)
    assert parsed is not None and before <= parsed <= after
    assert now().tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-01-31T12:00:00Z", NOON),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=UTC)),
        ("2026-01-31T12:00:00+00:00", None),  # an offset is ISO 8601 but not the registry's format
        ("2026-01-31T12:00:00", None),
        ("2026-01-31 12:00:00Z", None),
        ("2026-01-31T12:00:00.000Z", None),
        ("2026-01-31T12:00Z", None),
        ("2026-02-30T12:00:00Z", None),  # no such day
        ("2026-01-31T24:00:00Z", None),
        ("", None),
        (" 2026-01-31T12:00:00Z", None),
        (20260131, None),
        (None, None),
        (NOON, None),  # only text is read
    ],
)
def test_parse_time(text: object, when: datetime | None) -> None:
    parsed = parse_time(text)
    assert parsed == when
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-01-31T12:00:00Z", NOON),
        ("2026-01-31T12:00:00+00:00", NOON),
        ("2026-01-31T14:00:00+02:00", NOON),  # what `git log --format=%aI` writes
        ("2026-01-31T06:30:00-05:30", NOON),
        ("2026-01-31T12:00:00", NOON),  # no offset: UTC
        ("2026-01-31T12:00:00.250000Z", NOON + timedelta(microseconds=250_000)),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("yesterday", None),
        ("2026-13-01T00:00:00Z", None),
        ("", None),
    ],
)
def test_parse_iso(text: str, when: datetime | None) -> None:
    parsed = parse_iso(text)
    assert parsed == when
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00Z"),
        ("2026-01-31T14:00:00+02:00", "2026-01-31T12:00:00Z"),
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z"),
        ("2026-01-31T12:00:00.999999Z", "2026-01-31T12:00:00Z"),
        ("2026-01-31T12:00:00", "2026-01-31T12:00:00Z"),
        ("not a date", "not a date"),  # left as it was: the caller still shows something
        ("", ""),
    ],
)
def test_normalize(text: str, normal: str) -> None:
    assert normalize(text) == normal
    assert normalize(normal) == normal  # normalising twice changes nothing


def test_the_format_sorts_as_text_in_time_order() -> None:
    times = [
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 30, tzinfo=PLUS_2),  # earlier than it reads: 2025-12-31T22:30Z
        datetime(2026, 1, 31, 12, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=MINUS_5),
    ]
    texts = [format_time(t) for t in times]
    assert sorted(texts) == [format_time(t) for t in sorted(times)]
    assert TIME_FORMAT == "%Y-%m-%dT%H:%M:%SZ"
