"""Who may approve: what GitHub's branch protection would count, narrowed by the policy (count_approvals)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlgate.core.policy import Approvals
from mlgate.core.signoff import (
    GHOST,
    ApprovalCount,
    PullRequest,
    Review,
    count_approvals,
    is_bot,
    is_login,
    is_team,
    requester_of,
    requester_trailer,
    requesters_of,
    unverified_reason,
)
from mlgate.testing import StaticReviews

HEAD = "a" * 40
OLD = "b" * 40


class CountingReviews(StaticReviews):
    """StaticReviews that records which memberships and permissions were asked for."""

    def __init__(self, *args, members: dict[tuple[str, str], bool | None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.members = {(u.lower(), t.lower()): v for (u, t), v in (members or {}).items()}
        self.asked: list[tuple[str, str]] = []

    def is_member(self, user: str, team: str) -> bool | None:
        self.asked.append((user, team))
        return self.members.get((user.lower(), team.lower()), False)


ONE = Approvals(min=1)


def count(source: StaticReviews, rule: Approvals = ONE) -> tuple[tuple[str, ...], dict[str, str]]:
    result = count_approvals(rule, source.pull_request(), source)
    return result.counted, dict(result.ignored)


def test_only_reviewers_with_write_access_count() -> None:
    source = StaticReviews(
        "alice",
        HEAD,
        permissions={
            "stranger": "read",
            "nobody": "none",
            "triager": "triage",
            "lead": "maintain",
            "owner": "admin",
            "hidden": None,
        },
    )
    for user in ("stranger", "nobody", "triager", "lead", "owner", "dave", "hidden"):
        source.review(user)
    counted, ignored = count(source)
    assert counted == ("dave", "lead", "owner")
    assert ignored["stranger"].startswith("has read permission")
    assert ignored["nobody"].startswith("has none permission")
    assert ignored["triager"].startswith("has triage permission")
    assert "cannot be read" in ignored["hidden"]


def test_the_requester_and_whoever_pushed_cannot_approve() -> None:
    source = StaticReviews("mlgate-ci[bot]", HEAD, requester="alice", pushers=("dave",))
    source.review("alice").review("dave").review("erin")
    counted, ignored = count(source)
    assert counted == ("erin",)
    assert ignored == {
        "alice": "the requester cannot approve their own change",
        "dave": "pushed a commit to this pull request",
    }
    counted, _ = count(source, Approvals(min=1, exclude_author=False))
    assert counted == ("alice", "dave", "erin")  # a policy that allows self-approval says so explicitly


def test_pending_is_no_review_dismissed_withdraws_and_deleted_users_never_count() -> None:
    source = StaticReviews("alice", HEAD)
    source.review("dave").review("dave", "PENDING")  # the token user's own draft does not cancel the approval
    source.review("erin").review("erin", "DISMISSED")
    source.reviews.append(Review(None, "APPROVED", HEAD, "2026-01-01T00:00:09Z"))
    counted, ignored = count(source)
    assert counted == ("dave",)
    assert ignored["erin"] == "dismissed"
    assert ignored["(deleted user)"] == "a deleted account's review never counts"


def test_named_users_are_matched_before_teams_are_asked() -> None:
    source = CountingReviews("alice", HEAD, members={("erin", "@acme/ml-leads"): True})
    source.review("carol").review("erin")
    counted, _ = count(source, Approvals(min=2, allowed=("@acme/ml-leads", "carol")))
    assert counted == ("carol", "erin")
    assert source.asked == [("erin", "@acme/ml-leads")]  # carol matched by name: no membership call


def test_unreadable_membership_is_said_in_words_and_other_approvals_still_count() -> None:
    source = CountingReviews("alice", HEAD, members={("erin", "@acme/ml-leads"): None})
    source.review("carol").review("erin")
    result = count_approvals(Approvals(min=2, allowed=("@acme/ml-leads", "carol")), source.pull_request(), source)
    assert result.counted == ("carol",) and not result.ok
    ((who, why),) = result.ignored
    assert who == "erin" and "read:org" in why and "cannot be read" in why


def test_unverified_approvals_are_a_field_of_the_count_not_words_to_parse() -> None:
    """The approvals the forge would not answer about (membership or permission unreadable) are listed apart:
    neither counted nor refused. A refusal for any other reason, whatever its words, is not among them."""
    source = CountingReviews(
        "alice",
        HEAD,
        members={("erin", "@acme/ml-leads"): None, ("frank", "@acme/ml-leads"): False},
        permissions={"hidden": None},
    )
    for user in ("carol", "erin", "frank", "hidden", "dave"):
        source.review(user)
    source.review("dave", "CHANGES_REQUESTED")
    result = count_approvals(Approvals(min=2, allowed=("@acme/ml-leads", "carol")), source.pull_request(), source)
    assert result.counted == ("carol",)
    assert result.unverified == ("erin", "hidden")
    assert {u for u, _ in result.ignored} == {"dave", "erin", "frank", "hidden"}
    # the texts older records kept are recognised exactly, by the module that writes them
    reasons = dict(result.ignored)
    assert [unverified_reason(reasons[u]) for u in ("dave", "erin", "frank", "hidden")] == [False, True, False, True]
    assert not unverified_reason("not in @acme/ml-leads; membership of @x/y cannot be read, honestly")


@pytest.mark.parametrize("login", ["mona-cat_octo", "octocat", "a1", "ci-app[bot]", "x" * 39, "old--name"])
def test_github_logins_are_logins(login: str) -> None:
    assert is_login(login)


@pytest.mark.parametrize("login", ["-mona", "mona_", "mona cat", "mona\n", "x" * 40, "@acme/team", ""])
def test_what_is_not_a_login(login: str) -> None:
    assert not is_login(login)


def test_the_requester_trailer_is_read_from_the_body() -> None:
    body = "Moves champion.\n\nMlgate-Requested-By: alice\n"
    assert requester_of(body) == "alice"
    assert requester_of("Mlgate-Requested-By: not a login\n") is None
    assert requester_of(None) is None


def test_every_requester_trailer_in_the_body_is_excluded() -> None:
    """Anyone with write access can edit a PR body: adding a later trailer naming someone else must not free the
    real requester to approve."""
    body = "Promote v3.\n\nMlgate-Requested-By: alice\n\nmlgate-requested-by: bob\r\n"
    source = StaticReviews("mlgate-ci[bot]", HEAD, requester="bob")
    source.review("alice").review("bob").review("erin")
    pr = source.pull_request()
    result = count_approvals(Approvals(min=1), replace(pr, body=body), source)
    assert result.counted == ("erin",)
    assert dict(result.ignored) == {
        "alice": "the requester cannot approve their own change",
        "bob": "the requester cannot approve their own change",
    }


def test_a_comment_after_an_approval_keeps_the_approval() -> None:
    pr = PullRequest(
        1, "alice", "h" * 40, (Review("dave", "APPROVED", "h" * 40), Review("dave", "COMMENTED", "h" * 40))
    )
    result = count_approvals(Approvals(min=1), pr, StaticReviews("alice", "h" * 40))
    assert result.ok and result.counted == ("dave",)


# --- the counting rules, case by case ----------------------------------------------------------------------

LEADS = ("@acme/ml-leads", "carol")
TEAMS = {"@acme/ml-leads": {"dave", "erin"}}

#: (reviews as (user, state, commit), rule, expected counted, expected ignored)
RULES = {
    "latest-review-wins-changes": (
        [("dave", "APPROVED", HEAD), ("dave", "CHANGES_REQUESTED", HEAD)],
        ONE,
        (),
        {"dave": "changes requested"},
    ),
    "latest-review-wins-approval": (
        [("dave", "CHANGES_REQUESTED", HEAD), ("dave", "APPROVED", HEAD)],
        ONE,
        ("dave",),
        {},
    ),
    "comment-keeps-changes-requested": (
        [("dave", "CHANGES_REQUESTED", HEAD), ("dave", "COMMENTED", HEAD)],
        ONE,
        (),
        {"dave": "changes requested"},
    ),
    "dismissed-approval": ([("dave", "APPROVED", HEAD), ("dave", "DISMISSED", HEAD)], ONE, (), {"dave": "dismissed"}),
    "older-commit": (
        [("dave", "APPROVED", OLD)],
        ONE,
        (),
        {"dave": "approved an older commit bbbbbbb, not the head aaaaaaa"},
    ),
    "older-then-head": ([("dave", "APPROVED", OLD), ("dave", "APPROVED", HEAD)], ONE, ("dave",), {}),
    "head-then-older": (  # re-approving an old commit after the head is still the latest review
        [("dave", "APPROVED", HEAD), ("dave", "APPROVED", OLD)],
        ONE,
        (),
        {"dave": "approved an older commit bbbbbbb, not the head aaaaaaa"},
    ),
    "bot": ([("ci-app[bot]", "APPROVED", HEAD)], ONE, (), {"ci-app[bot]": "a bot's approval is not a sign-off"}),
    "not-a-login": ([("mona cat", "APPROVED", HEAD)], ONE, (), {"mona cat": "not a valid login"}),
    "author-any-case": (
        [("ALICE", "APPROVED", HEAD)],
        ONE,
        (),
        {"ALICE": "the author cannot approve their own change"},
    ),
    "author-allowed-by-the-rule": ([("alice", "APPROVED", HEAD)], Approvals(1, exclude_author=False), ("alice",), {}),
    "bot-even-if-authors-may": (
        [("ci-app[bot]", "APPROVED", HEAD)],
        Approvals(1, exclude_author=False),
        (),
        {"ci-app[bot]": "a bot's approval is not a sign-off"},
    ),
    "named-user-any-case": ([("Carol", "APPROVED", HEAD)], Approvals(1, LEADS), ("Carol",), {}),
    "team-member": ([("erin", "APPROVED", HEAD)], Approvals(1, LEADS), ("erin",), {}),
    "outsider": ([("mallory", "APPROVED", HEAD)], Approvals(1, LEADS), (), {"mallory": "not in @acme/ml-leads, carol"}),
    "many-ghosts-one-line": (
        [(None, "APPROVED", HEAD), (None, "APPROVED", HEAD), ("dave", "APPROVED", HEAD)],
        ONE,
        ("dave",),
        {GHOST: "a deleted account's review never counts"},
    ),
    "a-ghosts-comment-is-nothing": ([(None, "COMMENTED", HEAD)], ONE, (), {}),
    "sorted": (
        [("erin", "APPROVED", HEAD), ("carol", "APPROVED", HEAD), ("dave", "APPROVED", HEAD)],
        Approvals(3),
        ("carol", "dave", "erin"),
        {},
    ),
}


@pytest.mark.parametrize(("reviews", "rule", "counted", "ignored"), list(RULES.values()), ids=list(RULES))
def test_the_counting_rules(
    reviews: list[tuple[str | None, str, str]], rule: Approvals, counted: tuple[str, ...], ignored: dict[str, str]
) -> None:
    pr = PullRequest(1, "alice", HEAD, tuple(Review(u, s, c) for u, s, c in reviews))
    result = count_approvals(rule, pr, StaticReviews("alice", HEAD, teams=TEAMS))
    assert (result.counted, result.ignored) == (counted, tuple(sorted(ignored.items())))  # one line per reviewer
    assert result.required == rule.min


AUTHOR = "the author cannot approve their own change"
REQUESTER = "the requester cannot approve their own change"
PUSHER = "pushed a commit to this pull request"


@pytest.mark.parametrize(
    ("pr", "excluded"),
    [
        (PullRequest(1, "alice", HEAD), {"alice": AUTHOR}),
        (PullRequest(1, "alice", HEAD, requester="Bob"), {"alice": AUTHOR, "bob": REQUESTER}),
        (
            PullRequest(1, "alice", HEAD, requested_by=("bob", "carol")),
            {"alice": AUTHOR, "bob": REQUESTER, "carol": REQUESTER},
        ),
        (
            PullRequest(1, "alice", HEAD, body="x\n\n  mlgate-requested-by :  bob  \n"),
            {"alice": AUTHOR, "bob": REQUESTER},
        ),
        (PullRequest(1, "alice", HEAD, pushers=("BOB",)), {"alice": AUTHOR, "bob": PUSHER}),
        # one reason each, the first that applies: author, then requester, then pusher
        (PullRequest(1, "alice", HEAD, pushers=("alice", "bob"), requester="bob"), {"alice": AUTHOR, "bob": REQUESTER}),
    ],
    ids=["author", "requester", "requested-by-commits", "trailer-in-body", "pusher", "first-reason-kept"],
)
def test_who_is_excluded_and_why(pr: PullRequest, excluded: dict[str, str]) -> None:
    reviewers = ("alice", "bob", "carol", "dave")
    pr = replace(pr, reviews=tuple(Review(u, "APPROVED", HEAD) for u in reviewers))
    source = StaticReviews("alice", HEAD)
    result = count_approvals(ONE, pr, source)
    assert dict(result.ignored) == excluded
    assert result.counted == tuple(u for u in reviewers if u not in excluded)
    # a rule that lets authors approve lets every one of them approve
    assert count_approvals(Approvals(1, exclude_author=False), pr, source).counted == reviewers


@pytest.mark.parametrize(
    ("count", "ok", "text"),
    [
        (ApprovalCount(1, ("dave",), ()), True, "1 of 1 required approval (dave)"),
        (ApprovalCount(2, ("dave",), ()), False, "1 of 2 required approvals (dave)"),
        (ApprovalCount(0, (), ()), True, "0 of 0 required approvals"),
        (
            ApprovalCount(2, ("carol", "dave"), (("alice", "the author cannot approve their own change"),)),
            True,
            "2 of 2 required approvals from @acme/ml-leads, carol (carol, dave); "
            "not counted: alice (the author cannot approve their own change)",
        ),
        (
            ApprovalCount(1, (), (("erin", "dismissed"), ("frank", "changes requested"))),
            False,
            "0 of 1 required approval from @acme/ml-leads, carol; not counted: erin (dismissed); "
            "frank (changes requested)",
        ),
    ],
    ids=["one", "short", "none-required", "with-ignored", "only-ignored"],
)
def test_the_count_in_words(count: ApprovalCount, ok: bool, text: str) -> None:
    assert count.ok is ok
    assert count.describe(LEADS if "from" in text else ()) == text


@pytest.mark.parametrize(
    ("body", "requesters"),
    [
        (None, ()),
        ("", ()),
        ("no trailer here", ()),
        ("Mlgate-Requested-By: alice", ("alice",)),
        ("x\r\nMLGATE-REQUESTED-BY:bob\r\n", ("bob",)),
        ("Mlgate-Requested-By: alice\nMlgate-Requested-By: bob\n", ("alice", "bob")),
        ("Mlgate-Requested-By: not a login\nMlgate-Requested-By: bob", ("bob",)),
        ("Mlgate-Requested-By: bob\nMlgate-Requested-By: not a login", ("bob",)),
        ("see Mlgate-Requested-By: bob", ()),  # a trailer is a line of its own
        ("Mlgate-Requested-By:", ()),
    ],
)
def test_requesters_named_in_a_body(body: str | None, requesters: tuple[str, ...]) -> None:
    assert requesters_of(body) == requesters
    assert requester_of(body) == (requesters[-1] if requesters else None)


def test_the_trailer_mlgate_writes_is_the_one_it_reads() -> None:
    assert requester_trailer("mona-cat_octo") == "Mlgate-Requested-By: mona-cat_octo"
    assert requesters_of("Body.\n\n" + requester_trailer("mona-cat_octo")) == ("mona-cat_octo",)


@pytest.mark.parametrize(
    ("text", "team"),
    [
        ("@acme/ml-leads", True),
        ("@acme-corp/ml.leads_2", True),
        ("@acme/ml leads", False),
        ("acme/ml-leads", False),
        ("@acme", False),
        ("@acme/", False),
        ("@acme/ml-leads\n", False),
        ("@-acme/leads", False),
    ],
)
def test_teams(text: str, team: bool) -> None:
    assert is_team(text) is team
    assert is_login(text) is False


@pytest.mark.parametrize(
    ("user", "bot"), [("ci-app[bot]", True), ("dependabot[bot]", True), ("bot", False), ("robot", False)]
)
def test_bots(user: str, bot: bool) -> None:
    assert is_bot(user) is bot
