"""The local forge as a user handles it: list, show, close, and open a pull request for a hand-made branch."""

from __future__ import annotations

import pytest

from mlgate.audit.history import history
from mlgate.change.propose import merge_pull_request, promote
from mlgate.change.pulls import close_pull, list_pulls, open_pull, pull_details
from mlgate.errors import CheckFailed, MergeRefused, UsageError
from mlgate.forge import ForgeError
from mlgate.testing import RegistryRepo, approve

POLICY = "registry/policy.yaml"


def _three_pulls(repo: RegistryRepo, forge) -> None:
    """#1 merged, #2 closed by dave, #3 open."""
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    promote(repo.root, "search-ranker", 2, "champion", author="bob", forge=forge, force=True)
    close_pull(forge, 2, "dave", "the ranker regresses on mobile")
    promote(repo.root, "fraud-detector", 1, "challenger", author="alice", forge=forge, force=True)


def test_list_by_state(repo, forge) -> None:
    _three_pulls(repo, forge)
    assert [p.number for p in list_pulls(forge)] == [3]
    assert [p.number for p in list_pulls(forge, "merged")] == [1]
    assert [p.number for p in list_pulls(forge, "closed")] == [2]
    assert [(p.number, p.state) for p in list_pulls(forge, "all")] == [(1, "merged"), (2, "closed"), (3, "open")]
    with pytest.raises(UsageError, match="unknown pull request state 'done'; states: open, merged, closed, all"):
        list_pulls(forge, "done")


def test_close_records_who_when_and_why_and_history_shows_it_rejected(repo, forge) -> None:
    _three_pulls(repo, forge)
    details = pull_details(forge, 2)
    assert (details.pr.state, details.pr.closed_by, details.close_reason) == (
        "closed",
        "dave",
        "the ranker regresses on mobile",
    )
    assert details.pr.closed_at.endswith("Z")
    events = history(repo.root, forge=forge, include_rejected=True).events
    rejected = [e for e in events if e.kind == "rejected"]
    assert [(e.pr, e.model, e.alias, e.to_version, e.author) for e in rejected] == [
        (2, "search-ranker", "champion", 2, "bob")
    ]


def test_closing_a_merged_or_closed_pull_request_is_refused(repo, forge) -> None:
    _three_pulls(repo, forge)
    with pytest.raises(ForgeError, match=r"pull request #1 is merged: it cannot be closed \(roll its change back"):
        close_pull(forge, 1, "dave")
    with pytest.raises(ForgeError, match="pull request #2 is already closed"):
        close_pull(forge, 2, "dave")
    with pytest.raises(ForgeError, match="no pull request #9 in the local forge; pull requests: 1, 2, 3"):
        close_pull(forge, 9, "dave")
    assert forge.pull_request(1).state == "merged"


def test_show_tells_which_approvals_are_current(repo, forge) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge, note="A")
    approve(forge, 1, "dave")
    forge.review(1, "erin", "CHANGES_REQUESTED")
    moved = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge, note="B")
    approve(forge, 1, "erin")
    d = pull_details(forge, 1)
    assert (d.pr.head, d.pr.base, d.pr.head_sha, d.pr.requester) == (p.branch, "main", moved.commit, "alice")
    assert [(v.review.user, v.review.state, v.current) for v in d.reviews] == [
        ("dave", "APPROVED", False),
        ("erin", "CHANGES_REQUESTED", False),
        ("erin", "APPROVED", True),
    ]
    assert (d.current_approvers, d.stale_approvers) == (("erin",), ("dave",))
    assert d.report is None and "no regression auc" in d.pr.body
    approve(forge, 1, "dave")
    merge_pull_request(repo.root, forge, 1, "dave")
    merged = pull_details(forge, 1).to_dict()
    assert merged["merge_commit"] == repo.rev("main") and merged["merged_by"] == "dave"
    assert merged["report"].startswith("### mlgate validate: passed")


def _hand_edit(repo: RegistryRepo, branch: str, **policy_fields: object) -> str:
    repo.branch(branch, "main")
    repo.edit_yaml(POLICY, **policy_fields)
    sha = repo.commit("Describe the policy better")
    repo.switch("main")
    return sha


def test_open_a_hand_made_policy_branch_needs_the_admins(repo, forge) -> None:
    _hand_edit(repo, "edit-policy", description="Gates for Acme's production models (reviewed yearly).")
    opened = open_pull(repo.root, forge, "edit-policy", author="bob")
    pr = opened.pr
    assert (pr.number, pr.title, pr.head, pr.base, pr.requester) == (
        1,
        "Describe the policy better",
        "edit-policy",
        "main",
        "bob",
    )
    assert "0 of 1 required approval from @acme/ml-platform" in pr.body and "MG501" in {
        f.rule for f in opened.report.findings
    }
    with pytest.raises(MergeRefused) as refused:
        merge_pull_request(repo.root, forge, 1, "dave")
    assert [f.rule for f in refused.value.report.errors] == ["MG501"]
    approve(forge, 1, "pat")
    merge_pull_request(repo.root, forge, 1, "pat")
    assert "reviewed yearly" in repo.read_yaml(POLICY)["description"]


def test_open_refuses_what_the_check_would_reject_and_opens_nothing(repo, forge) -> None:
    repo.branch("bad-alias", "main")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=9)
    repo.commit("Point champion at a version that does not exist")
    repo.switch("main")
    with pytest.raises(UsageError, match=r"branch 'bad-alias' would not pass validation: .*MG204"):
        open_pull(repo.root, forge, "bad-alias", author="bob")
    assert forge.list_pull_requests() == []
    with pytest.raises(UsageError, match="no branch 'nope'"):
        open_pull(repo.root, forge, "nope", author="bob")
    with pytest.raises(UsageError, match="'main' is the base itself"):
        open_pull(repo.root, forge, "main", author="bob")
    repo.git.set_branch("empty", repo.rev("main"), None)
    with pytest.raises(UsageError, match="has no commit that main does not have: nothing to merge"):
        open_pull(repo.root, forge, "empty", author="bob")


def test_open_refuses_a_conflicting_branch_and_a_second_pull_request(repo, forge) -> None:
    _hand_edit(repo, "one", description="first")
    open_pull(repo.root, forge, "one", author="bob")
    with pytest.raises(ForgeError, match="already has an open pull request"):
        open_pull(repo.root, forge, "one", author="bob")
    _hand_edit(repo, "two", description="second")
    approve(forge, 1, "pat")
    merge_pull_request(repo.root, forge, 1, "pat")
    with pytest.raises(CheckFailed, match="branch 'two' conflicts with main"):
        open_pull(repo.root, forge, "two", author="bob")
