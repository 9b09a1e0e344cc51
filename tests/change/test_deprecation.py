"""Deprecating a version, and lifting a deprecation, by pull request."""

from __future__ import annotations

import pytest

from mlgate import Registry
from mlgate.audit.history import history
from mlgate.change.deprecation import deprecate, undeprecate
from mlgate.change.propose import merge_pull_request, promote
from mlgate.errors import NotFoundError, UsageError
from mlgate.testing import approve


def test_deprecate_opens_a_pr_that_merges_and_history_records(repo, forge) -> None:
    p = deprecate(repo.root, "fraud-detector", 1, reason="trained on leaked labels", author="alice", forge=forge)
    assert (p.branch, p.title, p.pr.number) == ("mlgate/deprecate-fraud-detector-v1", "Deprecate fraud-detector v1", 1)
    assert "trained on leaked labels" in p.pr.body
    model = Registry.open(repo.root, p.branch).model("fraud-detector")
    assert [(d.version, d.reason) for d in model.deprecated] == [(1, "trained on leaked labels")]
    diff = repo.git.git("diff", "--name-only", "main", p.branch).split()
    assert diff == ["registry/models/fraud-detector/model.yaml"]
    approve(forge, 1, "dave")
    merge_pull_request(repo.root, forge, 1, "dave")
    events = history(repo.root, model="fraud-detector").events
    assert (events[0].kind, events[0].to_version, events[0].pr) == ("deprecation", 1, 1)


def test_deprecating_a_served_version_is_refused(repo, forge) -> None:
    before = repo.status()
    with pytest.raises(
        UsageError,
        match=r"fraud-detector v2 is served: fraud-detector@champion points at it on main, and no alias may "
        r"point at a deprecated version \(MG205\); move it first",
    ):
        deprecate(repo.root, "fraud-detector", 2, reason="old", author="alice", forge=forge)
    with pytest.raises(UsageError, match=r"churn-predictor@challenger, churn-predictor@shadow point at it"):
        deprecate(repo.root, "churn-predictor", 4, reason="old", author="alice", forge=forge)
    assert repo.status() == before and forge.list_pull_requests() == []


def test_deprecate_errors(repo, forge) -> None:
    with pytest.raises(UsageError, match="churn-predictor v1 is already deprecated on main: Trained on data"):
        deprecate(repo.root, "churn-predictor", 1, reason="again", author="alice", forge=forge)
    with pytest.raises(
        NotFoundError, match=r"no version 7 of model 'fraud-detector' in main \(\w+\) \(versions: 1, 2, 3\)"
    ):
        deprecate(repo.root, "fraud-detector", 7, reason="x", author="alice", forge=forge)
    with pytest.raises(NotFoundError, match="no model 'fraud-detectr' in main .*did you mean 'fraud-detector'"):
        deprecate(repo.root, "fraud-detectr", 1, reason="x", author="alice", forge=forge)
    with pytest.raises(UsageError, match="say why"):
        deprecate(repo.root, "fraud-detector", 1, reason="  ", author="alice", forge=forge)


def test_undeprecate_lifts_it_and_the_version_can_be_promoted_again(repo, forge) -> None:
    with pytest.raises(NotFoundError, match=r"fraud-detector v1 is not deprecated on main \(deprecated: none\)"):
        undeprecate(repo.root, "fraud-detector", 1, author="alice", forge=forge)
    p = undeprecate(repo.root, "churn-predictor", 1, author="alice", forge=forge)
    assert p.title == "Undeprecate churn-predictor v1" and "label leak" in p.pr.body
    assert "deprecated" not in repo.git.tree(p.branch).read("registry/models/churn-predictor/model.yaml").decode()
    approve(forge, 1, "dave")
    merge_pull_request(repo.root, forge, 1, "dave")
    assert Registry.open(repo.root, "main").model("churn-predictor").deprecated == ()
    q = promote(repo.root, "churn-predictor", 1, "shadow", author="alice", forge=forge)
    assert q.gate.checks[0].status == "pass"
