"""What an alias change does to a rollout, which step comes next, and where a request key goes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core.model import Rollout
from mlgate.core.rollout import BUCKETS, bucket, classify, next_step, to_candidate

CANARY5 = Rollout(3, "canary", 5)
CANARY25 = Rollout(3, "canary", 25)


@pytest.mark.parametrize(
    ("before", "after", "kind", "percents", "problem"),
    [
        ((2, None), (2, CANARY5), "start", (None, 5), None),
        ((2, CANARY5), (2, CANARY25), "step", (5, 25), None),
        ((2, CANARY25), (2, CANARY5), "step", (25, 5), None),  # a step down (judged as a rollback)
        ((2, CANARY25), (3, None), "complete", (25, None), None),
        ((2, CANARY25), (2, None), "abort", (25, None), None),
        ((None, None), (None, CANARY5), "start", (None, 5), "needs a version holding the alias"),
        ((2, None), (4, CANARY5), "start", (None, 5), "must leave 'version' as it is"),
        ((3, None), (3, CANARY5), "start", (None, 5), "already holds the alias"),
        ((2, CANARY5), (2, Rollout(4, "canary", 25)), "step", (5, 25), "abort this one"),
        ((2, CANARY5), (2, Rollout(3, "shadow", 5)), "step", (5, 5), "abort this one"),
        ((2, CANARY5), (4, CANARY25), "step", (5, 25), "complete the rollout to move the alias"),
        ((2, CANARY5), (4, None), "complete", (5, None), "must set 'version' to it (complete) or leave it at 2"),
    ],
)
def test_every_alias_change_is_one_rollout_change(before, after, kind, percents, problem) -> None:
    change = classify(before[0], before[1], after[0], after[1])
    assert change is not None
    assert (change.kind, (change.before, change.after)) == (kind, percents)
    assert (change.problem is None) if problem is None else (problem in (change.problem or ""))


def test_no_rollout_on_either_side_is_a_plain_promotion() -> None:
    assert classify(2, None, 3, None) is None
    assert classify(2, CANARY5, 2, CANARY5) is None


def test_the_next_step_follows_the_policy_order() -> None:
    steps = (5, 25, 50)
    assert [next_step(steps, p) for p in (None, 1, 5, 10, 25, 50, 100)] == [5, 5, 25, 25, 50, None, None]


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(max_size=40), st.floats(min_value=0.01, max_value=100), st.floats(min_value=0.01, max_value=100))
def test_a_key_sticks_and_a_step_up_only_adds_keys(key: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0 <= bucket("fraud", "champion", 3, key) < BUCKETS
    assert bucket("fraud", "champion", 3, key) == bucket("fraud", "champion", 3, key)
    if to_candidate(Rollout(3, "canary", low), "fraud", "champion", key):
        assert to_candidate(Rollout(3, "canary", high), "fraud", "champion", key)


def test_the_share_of_keys_is_the_percent() -> None:
    keys = [f"user-{i}" for i in range(100_000)]
    for percent in (0.5, 5, 25, 50):
        share = sum(to_candidate(Rollout(3, "canary", percent), "fraud", "champion", k) for k in keys) / 1000
        assert abs(share - percent) <= 0.5, (percent, share)
