"""The github forge: real PyGithub over HTTP against the GitHub REST stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from email.utils import formatdate
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.forge import COMMENT_MARKER, ForgeError, ForgeReviews
from mlgate.forge.github import GitHubForge
from mlgate.testing import RegistryRepo, branch_sha
from mlgate.testing.github import FakeClock, StandIn

H = "a" * 40


def test_reads_a_pull_request_with_its_reviews(gh: StandIn) -> None:
    gh.add_pull(7, "alice", H, head="mlgate/promote-x")
    gh.review(7, "dave", "APPROVED")
    gh.review(7, "erin", "CHANGES_REQUESTED", commit="c" * 40)
    pr = gh.forge().pull_request(7)
    assert (pr.number, pr.author, pr.head_sha, pr.state, pr.base, pr.head) == (
        7,
        "alice",
        H,
        "open",
        "main",
        "mlgate/promote-x",
    )
    assert [(r.user, r.state, r.commit) for r in pr.reviews] == [
        ("dave", "APPROVED", H),
        ("erin", "CHANGES_REQUESTED", "c" * 40),
    ]
    assert pr.reviews[0].submitted_at.endswith("Z")
    assert pr.url == "https://github.com/acme/registry/pull/7"
    assert (pr.pushers, pr.requester, pr.closed_at) == (("alice",), None, "")


def test_a_pending_review_is_a_draft_not_a_review(gh: StandIn) -> None:
    """GitHub lists the token user's own PENDING review (and nobody else's); it must not cancel an approval."""
    gh.add_pull(7, "bob", H)
    gh.review(7, "alice", "APPROVED")
    gh.review(7, "alice", "PENDING")  # alice is the token's user: GitHub shows her her draft
    gh.review(7, "dave", "PENDING")  # nobody sees dave's draft but dave
    pr = gh.forge().pull_request(7)
    assert [(r.user, r.state) for r in pr.reviews] == [("alice", "APPROVED")]
    listed = json.loads(next(a.body for a in gh.state.answers if a.path.endswith("/reviews")))
    assert [(r["user"]["login"], r["state"]) for r in listed] == [("alice", "APPROVED"), ("alice", "PENDING")]
    assert "submitted_at" not in listed[1]


def test_a_deleted_users_review_has_no_user_and_a_dismissal_stays_in_place(gh: StandIn) -> None:
    gh.add_pull(7, "bob", H)
    gh.review(7, None, "APPROVED")  # the account was deleted since: GitHub answers "user": null
    first = gh.review(7, "dave", "APPROVED")
    gh.review(7, "erin", "COMMENTED")
    gh.dismiss(7, first)
    pr = gh.forge().pull_request(7)
    assert [(r.user, r.state) for r in pr.reviews] == [(None, "APPROVED"), ("dave", "DISMISSED"), ("erin", "COMMENTED")]


def test_requester_is_the_last_trailer_if_it_is_a_login(gh: StandIn) -> None:
    body = "Promote fraud-detector v3.\r\n\r\nMlgate-Requested-By: bob\r\nmlgate-requested-by:   mona-cat  \r\n"
    gh.add_pull(7, "ci-bot[bot]", H, body=body)
    gh.add_pull(8, "alice", H, body="Mlgate-Requested-By: bob\nMlgate-Requested-By: carol and dave")
    gh.add_pull(9, "alice", H, body="Requested by: Mlgate-Requested-By: bob")
    f = gh.forge()
    assert (f.pull_request(7).requester, f.pull_request(7).body) == ("mona-cat", body)
    assert f.pull_request(8).requester == "bob"  # the last one naming a login (every one is kept from approving)
    assert f.pull_request(9).requester is None  # a trailer is a line of its own


def test_pushers_are_the_github_users_behind_every_commit(gh: StandIn) -> None:
    commits = [
        gh.commit("1" * 40, "alice", "alice"),
        gh.commit("2" * 40, "bob", "web-flow"),
        gh.commit("3" * 40, None, None),
        gh.commit("4" * 40, "Alice", "carol"),
    ]
    gh.add_pull(7, "alice", "4" * 40, commits=commits)
    gh.push(7, "5" * 40, "mona-cat_octo")
    pr = gh.forge().pull_request(7)
    assert pr.pushers == ("alice", "bob", "carol", "mona-cat_octo") and pr.head_sha == "5" * 40
    assert ("GET", "/repos/acme/registry/pulls/7/commits") in gh.state.requests


def test_a_pull_request_with_more_commits_than_github_lists_is_refused(gh: StandIn) -> None:
    commits = [gh.commit(f"{i:040x}", "alice", "alice") for i in range(251)]
    gh.add_pull(7, "alice", commits[-1]["sha"], commits=commits)
    with pytest.raises(ForgeError, match="pull request #7 has 251 commits and GitHub lists only 250"):
        gh.forge().pull_request(7)


def test_merged_state_and_the_pull_request_merged_as_a_commit(gh: StandIn) -> None:
    gh.add_pull(3, "alice", H)
    gh.merge(3, "d" * 40, "carol")
    gh.add_pull(4, "bob", "e" * 40)  # open, and contains commit eee...
    pr = gh.forge().pull_request(3)
    assert (pr.state, pr.merge_commit, pr.merged_by) == ("merged", "d" * 40, "carol") and pr.closed_at.endswith("Z")
    f = gh.forge()
    assert f.pull_requests_for_commit("d" * 40) == [3]
    assert f.pull_requests_for_commit(H) == []  # the PR's own commit: in it, but not merged as it
    assert f.pull_requests_for_commit("e" * 40) == []  # an open pull request merged nothing


def test_a_rebase_merge_is_credited_to_its_last_commit_only(gh: StandIn) -> None:
    commits = [gh.commit(c * 40, "alice", "alice") for c in "123"]
    gh.add_pull(5, "alice", "3" * 40, commits=commits)
    gh.merge(5, "9" * 40, "carol", method="rebase", rebased=["7" * 40, "8" * 40, "9" * 40])
    f = gh.forge()
    for sha in ("7" * 40, "8" * 40):  # GitHub lists the pull request for every rebased commit...
        assert json.loads(_answer_to(gh, f, sha))[0]["number"] == 5
        assert f.pull_requests_for_commit(sha) == []  # ...but it was merged as the last one
    assert f.pull_requests_for_commit("9" * 40) == [5]


def _answer_to(gh: StandIn, f: GitHubForge, sha: str) -> bytes:
    f.pull_requests_for_commit(sha)
    return next(a.body for a in reversed(gh.state.answers) if a.path.endswith(f"/commits/{sha}/pulls"))


def test_rejected_pull_requests_are_the_closed_unmerged_mlgate_ones(gh: StandIn) -> None:
    for n in range(1, 131):  # more than one page of closed pull requests
        gh.add_pull(n, "alice", f"{n:040x}", labels=("mlgate",) if n % 2 else ())
        gh.close(n)
    gh.add_pull(200, "bob", "c" * 40, labels=("mlgate", "promotion"), body="Mlgate-Requested-By: bob")
    gh.review(200, "dave", "CHANGES_REQUESTED")
    gh.close(200)
    gh.add_pull(201, "bob", "d" * 40, labels=("mlgate",))
    gh.merge(201, "e" * 40, "carol")
    gh.add_pull(202, "bob", "f" * 40, labels=("mlgate",))  # still open
    gh.add_pull(203, "bob", "1" * 40, labels=("mlgate",), base="develop")
    gh.close(203)
    rejected = gh.forge().rejected_pull_requests("main")
    assert [p.number for p in rejected] == [*range(1, 131, 2), 200]
    last = rejected[-1]
    assert (last.state, last.requester, last.pushers, last.closed_at[-1]) == ("closed", "bob", ("bob",), "Z")
    assert [(r.user, r.state) for r in last.reviews] == [("dave", "CHANGES_REQUESTED")]
    pages = [r for r in gh.state.requests if r == ("GET", "/repos/acme/registry/pulls")]
    assert len(pages) == 2  # 100 a page, following the Link header


def test_open_pull_request_with_labels_and_the_422_of_a_duplicate(gh: StandIn) -> None:
    gh.state.branches.update({"mlgate/register-x-v1": H, "main": "b" * 40})
    f = gh.forge()
    pr = f.open_pull_request(
        title="Register x v1",
        body="body",
        head="mlgate/register-x-v1",
        base="main",
        labels=["mlgate", "registration"],
        author="ignored",
    )
    assert pr.number == 1 and pr.head_sha == H and pr.author == "alice"  # the token's user
    assert [label["name"] for label in gh.state.pulls[1]["labels"]] == ["mlgate", "registration"]
    with pytest.raises(
        ForgeError,
        match="GitHub answered 422 Unprocessable Entity while trying to open a pull request "
        "from mlgate/register-x-v1 into main: Validation Failed: A pull request already "
        "exists for acme:mlgate/register-x-v1",
    ):
        f.open_pull_request(title="again", body="", head="mlgate/register-x-v1", base="main", labels=[], author="x")


# --- who may approve --------------------------------------------------------------------------------


def test_permission_is_the_role_github_reports(gh: StandIn) -> None:
    for login, role in {"ann": "admin", "max": "maintain", "wes": "write", "tia": "triage", "rey": "read"}.items():
        gh.collaborator(login, role)
    gh.state.org_members.add("olga")
    gh.state.missing_users.add("nobody")
    f = gh.forge()
    assert [f.permission(u) for u in ("ann", "max", "wes", "tia", "rey", "olga", "stranger", "nobody")] == [
        "admin",
        "maintain",
        "write",
        "triage",
        "read",
        "read",
        "none",
        "none",
    ]


def test_permission_is_unknown_when_github_refuses_and_asked_once_per_run(gh: StandIn) -> None:
    gh.collaborator("dave")
    gh.fault(
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"},
        match="/collaborators/erin/",
    )
    reviews = ForgeReviews(gh.forge(), 1)
    assert [reviews.permission(u) for u in ("dave", "DAVE", "erin", "erin")] == ["write", "write", None, None]
    asked = [p for _, p in gh.state.requests if p.endswith("/permission")]
    assert asked == [
        "/repos/acme/registry/collaborators/dave/permission",
        "/repos/acme/registry/collaborators/erin/permission",
    ]


def test_a_rate_limit_is_not_taken_for_no_permission(gh: StandIn) -> None:
    gh.state.rate_limited = True
    with pytest.raises(ForgeError, match="GitHub rate limit exceeded"):
        gh.forge().permission("dave")


def test_team_membership_through_the_api(gh: StandIn) -> None:
    gh.state.teams["acme/ml-leads"] = {"dave"}
    f = gh.forge()
    assert f.is_member("dave", "@acme/ml-leads") is True
    assert f.is_member("mallory", "@acme/ml-leads") is False  # 404 for a team the token can read: not a member
    assert f.is_member("eve", "@acme/ml-leads") is False
    assert ("GET", "/orgs/acme/teams/ml-leads/memberships/dave") in gh.state.requests
    assert gh.state.requests.count(("GET", "/orgs/acme/teams/ml-leads")) == 1  # the team's visibility, asked once
    assert f.is_member("dave", "@acme/no-such-team") is None  # a team the token cannot see: cannot say
    reviews = ForgeReviews(f, 1)
    assert reviews.is_member("dave", "@acme/ml-leads") and reviews.is_member("DAVE", "@acme/ml-leads")
    assert gh.state.requests.count(("GET", "/orgs/acme/teams/ml-leads/memberships/dave")) == 2  # cached per source


@pytest.mark.parametrize("org_read", ["integration", "hidden"])
def test_membership_is_unknown_without_read_org(gh: StandIn, org_read: str) -> None:
    """An installation token without Members: read gets 403; a personal token without read:org sees no team (404)."""
    gh.state.teams["acme/ml-leads"] = {"dave"}
    gh.state.org_read = org_read
    reviews = ForgeReviews(gh.forge(), 1)
    assert reviews.is_member("dave", "@acme/ml-leads") is None and reviews.is_member("dave", "@acme/ml-leads") is None
    assert gh.state.requests.count(("GET", "/orgs/acme/teams/ml-leads/memberships/dave")) == 1


# --- the report comment ---------------------------------------------------------------------------------


def test_one_report_comment_is_updated_not_repeated(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    f = gh.forge()
    f.upsert_comment(5, "first report")
    f.upsert_comment(5, "second report")
    comments = list(gh.state.comments.values())
    assert len(comments) == 1
    assert comments[0]["body"] == f"{COMMENT_MARKER}\nsecond report" and comments[0]["user"]["login"] == "alice"
    assert ("PATCH", f"/repos/acme/registry/issues/comments/{comments[0]['id']}") in gh.state.requests
    assert gh.state.requests.count(("GET", "/user")) == 1  # who the token is: asked once


def test_a_report_comment_someone_else_wrote_is_never_edited(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    forged = gh.comment(5, "mallory", f"{COMMENT_MARKER}\n### mlgate validate: passed")
    gh.forge().upsert_comment(5, "### mlgate validate: failed")
    assert gh.state.comments[forged["id"]]["body"] == f"{COMMENT_MARKER}\n### mlgate validate: passed"
    ours = [c for c in gh.state.comments.values() if c["user"]["login"] == "alice"]
    assert [c["body"] for c in ours] == [f"{COMMENT_MARKER}\n### mlgate validate: failed"]


def test_an_installation_token_edits_the_comments_of_its_bot(gh: StandIn) -> None:
    """GITHUB_TOKEN cannot ask GET /user (403): its comments are github-actions[bot]'s, a Bot."""
    gh.add_pull(5, "alice", H)
    gh.state.token_kind = "app"
    human = gh.comment(5, "alice", f"{COMMENT_MARKER}\nold report pasted by alice")
    f = gh.forge()
    f.upsert_comment(5, "first")
    f.upsert_comment(5, "second")
    bots = [c for c in gh.state.comments.values() if c["user"]["login"] == "github-actions[bot]"]
    assert [c["body"] for c in bots] == [f"{COMMENT_MARKER}\nsecond"] and bots[0]["user"]["type"] == "Bot"
    assert gh.state.comments[human["id"]]["body"].endswith("old report pasted by alice")
    assert gh.state.requests.count(("GET", "/user")) == 1


def test_github_refuses_a_comment_over_its_limit(gh: StandIn) -> None:
    """The stand-in is as strict as GitHub: 65,536 characters, then 422 with GitHub's error."""
    gh.add_pull(5, "alice", H)
    issue = gh.forge().gh.get_repo("acme/registry").get_issue(5)
    issue.create_comment("x" * 65536)
    with pytest.raises(Exception) as info:
        issue.create_comment("x" * 65537)
    assert info.value.status == 422 and "Body is too long (maximum is 65536 characters)" in str(info.value.data)


def test_a_report_over_the_limit_is_shortened_to_the_failing_gates(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    full = "### mlgate validate: failed\n" + "| gate | passes |\n" * 6000
    short = "### mlgate validate: failed\n- champion approvals: 0 of 2"
    gh.forge(run_url="https://github.com/acme/registry/actions/runs/42").upsert_comment(5, full, short=short)
    [comment] = gh.state.comments.values()
    body = comment["body"]
    assert len(body) <= 65536 and body.startswith(f"{COMMENT_MARKER}\n{short}\n")
    assert "It is in [the job summary](https://github.com/acme/registry/actions/runs/42)" in body


def test_a_long_report_without_a_short_one_is_cut_at_a_line(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    full = "### mlgate validate: failed\n```\n" + "é line of the report\n" * 4000 + "```\n"
    gh.forge().upsert_comment(5, full)
    [comment] = gh.state.comments.values()
    body = comment["body"]
    assert len(body.encode()) <= 65536 and "é line of the report\n```\n…\n" in body
    assert "the job summary of the validate check" in body


def test_a_failed_update_never_leaves_a_stale_verdict(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    time = FakeClock()
    f = gh.forge(clock=time)
    f.upsert_comment(5, "### mlgate validate: passed")
    gh.server_error(502, times=5, match="^PATCH ")  # every try of the update fails; GitHub is back after
    with pytest.raises(
        ForgeError, match="GitHub answered 502 Bad Gateway .* while trying to comment on pull request #5"
    ):
        f.upsert_comment(5, "### mlgate validate: failed")
    [comment] = gh.state.comments.values()
    assert comment["body"].startswith(f"{COMMENT_MARKER}\n**This mlgate report is outdated**")
    assert "passed" not in comment["body"] and time.slept == [1, 2, 4, 8]


def test_an_old_report_that_cannot_be_marked_outdated_is_deleted(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    f = gh.forge()
    f.upsert_comment(5, "### mlgate validate: passed")
    gh.fault(
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"},
        match="^PATCH ",
        times=2,
    )
    with pytest.raises(ForgeError, match=r"GitHub refused \(403 Forbidden: Resource not accessible by integration\)"):
        f.upsert_comment(5, "### mlgate validate: failed")
    assert gh.state.comments == {} and gh.state.requests[-1][0] == "DELETE"


def test_when_nothing_can_be_done_the_error_says_the_old_report_stayed(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    f = gh.forge()
    f.upsert_comment(5, "### mlgate validate: passed")
    gh.fault(
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"},
        match="^(PATCH|DELETE) ",
        times=3,
    )
    with pytest.raises(ForgeError, match="and the earlier report could not be marked outdated: GitHub refused"):
        f.upsert_comment(5, "### mlgate validate: failed")


def test_a_second_report_of_ours_is_marked_outdated(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    first, second = (gh.comment(5, "alice", f"{COMMENT_MARKER}\nrun {n}") for n in (1, 2))  # two runs raced
    gh.forge().upsert_comment(5, "run 3")
    assert gh.state.comments[first["id"]]["body"] == f"{COMMENT_MARKER}\nrun 3"
    assert "outdated" in gh.state.comments[second["id"]]["body"]


# --- the network -------------------------------------------------------------------------------------------


def test_a_transient_html_502_is_retried_with_backoff(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    time = FakeClock()
    gh.server_error(502, times=2, match="/pulls/9$")
    assert gh.forge(clock=time).pull_request(9).number == 9
    assert time.slept == [1, 2] and gh.state.requests.count(("GET", "/repos/acme/registry/pulls/9")) == 3


def test_an_html_502_that_lasts_is_one_clear_line(gh: StandIn) -> None:
    time = FakeClock()
    gh.server_error(502, times=99)
    with pytest.raises(ForgeError) as info:
        gh.forge(clock=time).pull_request(9)
    assert str(info.value) == (
        "GitHub answered 502 Bad Gateway with an HTML page titled 'Unicorn! · GitHub' instead of JSON (after 5 attempts "
        "over 15 s of waiting) while trying to read pull request #9: GitHub or a proxy in front of it is failing: try "
        "again later (https://www.githubstatus.com)"
    )
    assert time.slept == [1, 2, 4, 8] and len(gh.state.requests) == 5


def test_a_json_500_says_what_github_said(gh: StandIn) -> None:
    gh.state.fail_next = 500
    gh.add_pull(9, "alice", H)
    assert gh.forge().pull_request(9).number == 9  # retried once, fine
    gh.fault(500, {"message": "Server Error", "documentation_url": "https://docs.github.com/rest"}, times=5)
    with pytest.raises(
        ForgeError,
        match=r"^GitHub answered 500 Internal Server Error \(after 5 attempts over 15 s of "
        r"waiting\) while trying to read pull request #9: Server Error; GitHub or a proxy",
    ):
        gh.forge().pull_request(9)


def test_a_secondary_rate_limit_waits_what_github_asks(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    time = FakeClock()
    f = gh.forge(clock=time)
    gh.secondary_rate_limit(retry_after=60)
    assert f.pull_request(9).number == 9 and time.slept == [60]
    gh.secondary_rate_limit(retry_after=60)  # the minute mlgate waits in all is spent
    with pytest.raises(ForgeError) as info:
        f.pull_request(9)
    message = str(info.value)
    assert message == (
        "GitHub's secondary rate limit (403 Forbidden) stopped mlgate while trying to read pull request #9: GitHub asked "
        "to wait 60 s (until 2027-01-15T08:02:00Z); asked to wait 60 s, more than is left of the 60 s mlgate waits in "
        "all; too many requests at once from this token: run fewer mlgate jobs at a time, retry in a few minutes"
    )
    assert "epoch" not in message and time.slept == [60]
    # until then, the forge sends nothing more: GitHub may ban an integration that keeps asking while limited
    sent = len(gh.state.requests)
    with pytest.raises(ForgeError, match=r"not sent: the limit an earlier request met is still closed\): GitHub asked"):
        f.permission("dave")
    assert len(gh.state.requests) == sent
    time.now += 60  # the wait GitHub asked for is over
    assert f.permission("dave") == "none" and len(gh.state.requests) == sent + 1


def test_a_429_honours_retry_after(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    time = FakeClock()
    gh.secondary_rate_limit(retry_after=3, status=429)
    assert gh.forge(clock=time).pull_request(9).number == 9 and time.slept == [3]
    time = FakeClock()
    gh.secondary_rate_limit(retry_after=None, status=429, match="/reviews")  # no Retry-After: GitHub says a minute
    assert gh.forge(clock=time).pull_request(9).number == 9 and time.slept == [60]


def test_retry_after_may_be_a_date(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    time = FakeClock()
    gh.fault(
        503,
        {"message": "Service Unavailable", "documentation_url": "https://docs.github.com/rest"},
        headers={"retry-after": formatdate(time.now + 30, usegmt=True)},
    )
    assert gh.forge(clock=time).pull_request(9).number == 9 and time.slept == [30]


def test_an_html_404_means_the_url_is_not_githubs_api(gh: StandIn) -> None:
    gh.fault(404, b"<html><head><title>Page not found</title></head></html>", content_type="text/html")
    with pytest.raises(ForgeError) as info:
        gh.forge().pull_request(9)
    assert str(info.value) == (
        "GitHub answered 404 Not Found with an HTML page titled 'Page not found' instead of JSON "
        "while trying to read pull request #9: check --github-url or GITHUB_API_URL and the network"
    )


def test_the_primary_rate_limit_says_when_it_resets(gh: StandIn) -> None:
    gh.state.rate_limited = True  # x-ratelimit-reset: 1893456000 (2030-01-01T00:00:00Z)
    time = FakeClock(now=1893456000 - 600)
    with pytest.raises(ForgeError) as info:
        gh.forge(clock=time).pull_request(9)
    assert str(info.value) == (
        "GitHub rate limit exceeded (403 Forbidden, the primary limit: 5000 of 5000 requests an hour used) while trying "
        "to read pull request #9 "
        "(it resets at 2030-01-01T00:00:00Z, in 10 min): retry then, or use a token with its own quota"
    )
    assert time.slept == []


def test_a_primary_rate_limit_about_to_reset_is_waited_for(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    time = FakeClock(now=1893456000 - 5)
    gh.fault(
        403,
        {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1893456000"},
    )
    assert gh.forge(clock=time).pull_request(9).number == 9 and time.slept == [6]


def test_a_post_that_failed_is_not_sent_twice(gh: StandIn) -> None:
    gh.state.branches.update({"x": H, "main": "b" * 40})
    time = FakeClock()
    gh.server_error(502, match="^POST ")
    with pytest.raises(ForgeError, match="GitHub answered 502 Bad Gateway with an HTML page"):
        gh.forge(clock=time).open_pull_request(title="t", body="", head="x", base="main", labels=[], author="a")
    assert gh.state.requests.count(("POST", "/repos/acme/registry/pulls")) == 1 and time.slept == []


def test_a_200_with_an_html_page_is_an_error_not_a_pull_request(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    gh.html_success()
    with pytest.raises(ForgeError) as info:
        gh.forge().pull_request(9)
    assert str(info.value) == (
        "GitHub answered 200 OK with an HTML page titled 'Sign in to continue' instead of JSON while trying to read pull "
        "request #9: something between mlgate and GitHub (a proxy, a captive portal, a wrong --github-url or "
        "GITHUB_API_URL) answered instead of GitHub's API: check the URL and the network"
    )


def test_malformed_json_is_an_error(gh: StandIn) -> None:
    gh.add_pull(9, "alice", H)
    gh.fault(200, b'{"number": 9, "head": ')
    with pytest.raises(ForgeError, match="GitHub answered 200 OK with malformed JSON instead of JSON"):
        gh.forge().pull_request(9)


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_trickling_server_cannot_outlast_the_deadline(gh: StandIn, headers_too: bool) -> None:
    """PyGithub's timeout is per socket read: a byte every 20 ms never trips it. The deadline does."""
    import time as clock

    gh.add_pull(9, "alice", H)
    gh.trickle(0.02, headers_too=headers_too)  # the pull request's ~9 KB would take minutes
    started = clock.monotonic()
    with pytest.raises(ForgeError) as info:
        gh.forge(deadline=0.5).pull_request(9)
    assert clock.monotonic() - started < 5
    assert str(info.value) == (
        "GitHub sent no complete answer within 0.5 s while trying to read pull request #9: the "
        "network or GitHub is too slow; try again later"
    )


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (
            lambda gh: setattr(gh.state, "token", "rotated-since"),
            "GitHub rejected the token (401 Unauthorized) while trying to read pull request #9: check GITHUB_TOKEN",
        ),
        (lambda gh: None, "GitHub found nothing (404 Not Found) while trying to read pull request #9"),
    ],
    ids=["401", "404"],
)
def test_errors_are_clear(gh: StandIn, setup, words: str) -> None:
    client = gh.forge()  # holds the token as it was
    setup(gh)
    with pytest.raises(ForgeError) as info:
        client.pull_request(9)
    assert words in str(info.value)


def test_unreachable_github() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ForgeError, match="cannot reach GitHub to read pull request #1: ConnectionError"):
        GitHubForge("acme/registry", "t", f"http://127.0.0.1:{port}", timeout=2).pull_request(1)


# --- end to end: the CLI, a real repository, PyGithub, the stand-in -----------------------------


@pytest.fixture
def promotion(repo: RegistryRepo, gh_env: StandIn, monkeypatch: pytest.MonkeyPatch) -> tuple[RegistryRepo, StandIn]:
    """A promotion pushed as pull request #12 on GitHub, validated as GitHub Actions would run it."""
    gh = gh_env
    repo.branch("mlgate/promote")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote fraud-detector v3 to champion")
    gh.add_pull(12, "alice", repo.rev("mlgate/promote"), head="mlgate/promote", base_sha=repo.rev("main"))
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    gh.collaborators("alice", "carol", "dave", "erin")
    for name in ("GITHUB_SERVER_URL", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "MLGATE_GITHUB_APP_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    return repo, gh


def _validate(run_cli, repo: RegistryRepo, *args: str) -> tuple[int, str, str]:
    return run_cli("-C", repo.root, "validate", "--forge", "github", *args)


def test_validate_counts_github_approvals(promotion, run_cli) -> None:
    repo, gh = promotion
    code, out, _ = _validate(run_cli, repo, "--pr", "12", "--base", "main")
    assert code == 1 and "0 of 2 required approvals" in out
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "alice", "APPROVED")
    gh.review(12, "erin", "APPROVED", commit="e" * 40)
    code, out, _ = _validate(run_cli, repo, "--pr", "12", "--base", "main")
    assert code == 1
    assert (
        "1 of 2 required approvals from @acme/ml-leads, carol (dave); not counted: alice (the author cannot approve "
        "their own change); erin (approved an older commit eeeeeee"
    ) in out
    gh.review(12, "erin", "APPROVED")
    code, out, _ = _validate(run_cli, repo, "--pr", "12", "--base", "main")
    assert code == 0, out
    assert "2 of 2 required approvals from @acme/ml-leads, carol (dave, erin)" in out


def test_validate_in_github_actions_reads_the_event_and_comments(promotion, run_cli, actions_event) -> None:
    repo, gh = promotion
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "carol", "APPROVED")
    actions_event(
        {
            "action": "submitted",
            "pull_request": {
                "number": 12,
                "base": {"sha": repo.rev("main"), "ref": "main"},
                "head": {"sha": repo.rev("mlgate/promote"), "ref": "x"},
            },
        },
        "pull_request_review",
    )
    code, out, _ = _validate(run_cli, repo, "--comment", "--format", "markdown")
    assert code == 0, out
    assert out.startswith("### mlgate validate: passed")
    [comment] = gh.state.comments.values()
    assert comment["body"].startswith(COMMENT_MARKER) and "fraud-detector@champion" in comment["body"]


def test_merge_group_event_finds_the_pull_request(promotion, run_cli, actions_event) -> None:
    repo, gh = promotion
    actions_event(
        {
            "action": "checks_requested",
            "merge_group": {
                "base_sha": repo.rev("main"),
                "head_sha": repo.rev("mlgate/promote"),
                "head_ref": f"refs/heads/gh-readonly-queue/main/pr-12-{repo.rev('main')}",
                "base_ref": "refs/heads/main",
            },
        }
    )
    code, out, _ = _validate(run_cli, repo)
    assert code == 1 and "0 of 2 required approvals" in out
    assert ("GET", "/repos/acme/registry/pulls/12") in gh.state.requests


def test_forge_errors_exit_2_with_a_message(promotion, run_cli, monkeypatch) -> None:
    repo, gh = promotion
    gh.state.rate_limited = True
    code, out, err = _validate(run_cli, repo, "--pr", "12", "--base", "main")
    assert code == 2 and out == ""
    assert err.startswith("mlgate: error: GitHub rate limit exceeded") and err.count("\n") == 1
    gh.state.rate_limited = False
    gh.html_success()
    code, out, err = _validate(run_cli, repo, "--pr", "12", "--base", "main")
    assert (
        code == 2 and err.startswith("mlgate: error: GitHub answered 200 OK with an HTML page") and err.count("\n") == 1
    )
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = _validate(run_cli, repo, "--pr", "12")
    assert code == 2 and "set GITHUB_TOKEN" in err


def test_a_comment_that_fails_is_a_warning_and_the_check_still_counts(promotion, run_cli, actions_event) -> None:
    repo, gh = promotion
    actions_event(
        {
            "pull_request": {
                "number": 12,
                "base": {"sha": repo.rev("main")},
                "head": {"sha": repo.rev("mlgate/promote")},
            }
        }
    )
    gh.fault(
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"},
        match="^POST .*/comments$",
    )  # a fork's read-only token
    code, _, err = _validate(run_cli, repo, "--comment")
    assert code == 1 and err.startswith("mlgate: warning: could not comment on #12: GitHub refused (403 Forbidden")


def test_promote_opens_a_github_pull_request_and_pushes(
    repo: RegistryRepo, gh: StandIn, tmp_path: Path, monkeypatch, capsys
) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    gh.use_branches_of(origin)
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    code = main(
        [
            "-C",
            str(repo.root),
            "promote",
            "fraud-detector",
            "3",
            "--alias",
            "champion",
            *gh.cli_options(),
            "--as",
            "alice",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pull_request"] == {"number": 1, "url": "https://github.com/acme/registry/pull/1"}
    pr = gh.state.pulls[1]
    assert pr["head"]["ref"] == "mlgate/promote-fraud-detector-champion-v3" and pr["head"]["sha"] == doc["commit"]
    assert "| no regression auc | :white_check_mark: pass | v3 0.911 vs v2 0.902" in pr["body"]
    assert branch_sha(origin, "mlgate/promote-fraud-detector-champion-v3") == doc["commit"]  # really pushed


def test_a_failed_pull_request_leaves_no_branch_behind(repo: RegistryRepo, gh: StandIn, monkeypatch, capsys) -> None:
    before = repo.status()
    gh.state.fail_next = 500
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    code = main(
        [
            "-C",
            str(repo.root),
            "promote",
            "fraud-detector",
            "3",
            "--alias",
            "champion",
            *gh.cli_options(),
            "--as",
            "alice",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "GitHub answered 500 Internal Server Error" in err
    assert repo.status() == before
