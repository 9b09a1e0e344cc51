"""The policy `mlgate init` writes can be met by the people it names."""

from __future__ import annotations

import pytest

from mlgate.change.starter import policy_text
from mlgate.core.policy import Policy
from mlgate.infra.yamlio import load


@pytest.mark.parametrize(
    ("reviewers", "needed"),
    [
        (["ana"], 1),  # one person cannot give two approvals
        (["ana", "ben"], 2),
        (["@acme/ml-leads"], 2),  # a team has members enough
        (["ana", "@acme/ml-leads"], 2),
        (["ana", "ana"], 1),
    ],
)
def test_the_champion_gate_asks_only_for_approvals_its_reviewers_can_give(reviewers: list[str], needed: int) -> None:
    policy = Policy.from_manifest(load(policy_text(["jose"], reviewers).encode(), "policy.yaml").data)
    champion, _ = policy.gate_for("champion")
    assert champion is not None and champion.approvals.min == needed
    assert champion.rollback is not None and champion.rollback.approvals.allowed == champion.approvals.allowed
