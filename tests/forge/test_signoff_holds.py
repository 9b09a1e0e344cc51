"""Sign-off holes found by a red-team pass over the GitHub path, each closed: through PyGithub to the stand-in."""

from __future__ import annotations

import pytest

from mlgate.core.policy import Approvals
from mlgate.core.signoff import count_approvals
from mlgate.forge import ForgeError, ForgeReviews
from mlgate.testing.github import StandIn

H = "a" * 40


def test_the_requester_cannot_approve_after_deleting_the_body_trailer(gh: StandIn) -> None:
    """The trailer mlgate writes into the commit cannot be edited away like the pull request's description."""
    gh.state.token_kind = "app"
    commit = gh.commit(H, None, None, message="Promote fraud-detector v3 to champion\n\nMlgate-Requested-By: alice\n")
    gh.add_pull(7, "github-actions[bot]", H, body="Promote.", commits=[commit])  # the body's trailer was deleted
    gh.collaborator("alice", "write")
    gh.review(7, "alice", "APPROVED")
    f = gh.forge()
    result = count_approvals(Approvals(min=1), f.pull_request(7), ForgeReviews(f, 7))
    assert result.counted == () and dict(result.ignored)["alice"] == "the requester cannot approve their own change"


def test_a_check_for_an_earlier_push_does_not_borrow_approvals_of_a_later_head(gh: StandIn) -> None:
    gh.add_pull(7, "alice", H)
    gh.push(7, "f" * 40, "alice")
    gh.collaborator("dave", "write")
    gh.review(7, "dave", "APPROVED")  # on the new head
    f = gh.forge()
    judged_old = ForgeReviews(f, 7, head_sha=H)  # the event the check runs for is about the earlier push
    result = count_approvals(Approvals(min=1), judged_old.pull_request(), judged_old)
    assert result.counted == () and "older commit" in dict(result.ignored)["dave"]


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999999999999"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1e400"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "inf"},
    ],
)
def test_absurd_rate_limit_headers_are_one_clear_error(gh: StandIn, headers: dict[str, str]) -> None:
    gh.add_pull(7, "alice", H)
    gh.fault(
        403,
        {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com"},
        headers=headers,
        times=10,
    )
    with pytest.raises(ForgeError):
        gh.forge().pull_request(7)


def test_pages_that_never_end_are_refused(gh: StandIn) -> None:
    gh.add_pull(7, "alice", H)
    gh.collaborator("dave", "write")
    gh.review(7, "dave", "APPROVED")
    loop = f"{gh.url}/repos/acme/registry/pulls/7/reviews?per_page=100&page=2"
    gh.fault(200, [], headers={"link": f'<{loop}>; rel="next"'}, times=5000, match="/reviews")
    with pytest.raises(ForgeError, match="do not end"):
        gh.forge().pull_request(7)


def test_local_team_slugs_ignore_case(tmp_path) -> None:
    from mlgate.forge.local import LocalForge
    from mlgate.testing import RegistryRepo

    repo = RegistryRepo.create(tmp_path / "r")
    f = LocalForge(repo.root)
    f.set_team("@acme/ml-leads", ["dave"])
    assert f.is_member("Dave", "@Acme/ML-Leads") is True
