"""The github forge: real PyGithub over HTTP against the GitHub REST stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from mlgate.cli import main
from mlgate.forge import COMMENT_MARKER, ForgeError, ForgeReviews
from mlgate.forge.github import GitHubForge
from mlgate.testing import RegistryRepo
from tests.github_standin import StandIn

H = "a" * 40


@pytest.fixture
def gh():
    with StandIn() as server:
        yield server


def forge(gh: StandIn, token: str | None = None) -> GitHubForge:
    return GitHubForge("acme/registry", token or gh.state.token, gh.url)


def test_reads_a_pull_request_with_its_reviews(gh: StandIn) -> None:
    gh.add_pull(7, "alice", H, head="mlgate/promote-x")
    gh.review(7, "dave", "APPROVED")
    gh.review(7, "erin", "CHANGES_REQUESTED", commit="c" * 40)
    pr = forge(gh).pull_request(7)
    assert (pr.number, pr.author, pr.head_sha, pr.state, pr.base, pr.head) == (7, "alice", H, "open", "main", "mlgate/promote-x")
    assert [(r.user, r.state, r.commit) for r in pr.reviews] == [("dave", "APPROVED", H), ("erin", "CHANGES_REQUESTED", "c" * 40)]
    assert pr.reviews[0].submitted_at.endswith("Z")
    assert pr.url == "https://github.com/acme/registry/pull/7"


def test_merged_state_and_commit_pulls(gh: StandIn) -> None:
    gh.add_pull(3, "alice", H)
    gh.merge(3, "d" * 40, "carol")
    pr = forge(gh).pull_request(3)
    assert (pr.state, pr.merge_commit, pr.merged_by) == ("merged", "d" * 40, "carol")
    assert forge(gh).pull_requests_for_commit("d" * 40) == [3]


def test_team_membership_through_the_api(gh: StandIn) -> None:
    gh.state.teams["acme/ml-leads"] = {"dave"}
    f = forge(gh)
    assert f.is_member("dave", "@acme/ml-leads") is True
    assert f.is_member("mallory", "@acme/ml-leads") is False
    assert ("GET", "/orgs/acme/teams/ml-leads/memberships/dave") in gh.state.requests
    reviews = ForgeReviews(f, 1)
    assert reviews.is_member("dave", "@acme/ml-leads") and reviews.is_member("DAVE", "@acme/ml-leads")
    assert gh.state.requests.count(("GET", "/orgs/acme/teams/ml-leads/memberships/dave")) == 2  # cached per source


def test_open_pull_request_with_labels_and_the_422_of_a_duplicate(gh: StandIn) -> None:
    gh.state.branches.update({"mlgate/register-x-v1": H, "main": "b" * 40})
    f = forge(gh)
    pr = f.open_pull_request(title="Register x v1", body="body", head="mlgate/register-x-v1", base="main",
                             labels=["mlgate", "registration"], author="ignored")
    assert pr.number == 1 and pr.head_sha == H and pr.author == "alice"  # the token's user
    assert [l["name"] for l in gh.state.pulls[1]["labels"]] == ["mlgate", "registration"]
    with pytest.raises(ForgeError, match="GitHub answered 422 .* A pull request already exists for acme:mlgate/register-x-v1"):
        f.open_pull_request(title="again", body="", head="mlgate/register-x-v1", base="main", labels=[], author="x")


def test_one_report_comment_is_updated_not_repeated(gh: StandIn) -> None:
    gh.add_pull(5, "alice", H)
    f = forge(gh)
    f.upsert_comment(5, "first report")
    f.upsert_comment(5, "second report")
    comments = list(gh.state.comments.values())
    assert len(comments) == 1
    assert comments[0]["body"] == f"{COMMENT_MARKER}\nsecond report"
    assert ("PATCH", f"/repos/acme/registry/issues/comments/{comments[0]['id']}") in gh.state.requests


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda gh: setattr(gh.state, "token", "rotated-since"), "GitHub rejected the token (401)"),
        (lambda gh: setattr(gh.state, "rate_limited", True), "GitHub rate limit exceeded while trying to read pull request #9 (resets at epoch 1893456000)"),
        (lambda gh: None, "GitHub found nothing (404) while trying to read pull request #9"),
        (lambda gh: setattr(gh.state, "fail_next", 502), "GitHub answered 502 while trying to read pull request #9: Server Error"),
    ],
    ids=["401", "rate-limit", "404", "502"],
)
def test_errors_are_clear(gh: StandIn, setup, words: str) -> None:
    client = forge(gh)  # holds the token as it was
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
def promotion(repo: RegistryRepo, gh: StandIn, monkeypatch: pytest.MonkeyPatch) -> tuple[RegistryRepo, StandIn]:
    repo.branch("mlgate/promote")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote fraud-detector v3 to champion")
    gh.add_pull(12, "alice", repo.rev("mlgate/promote"), head="mlgate/promote", base_sha=repo.rev("main"))
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/registry")
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    return repo, gh


def _validate(capsys, repo: RegistryRepo, *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(repo.root), "validate", "--forge", "github", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_validate_counts_github_approvals(promotion, capsys) -> None:
    repo, gh = promotion
    code, out, _ = _validate(capsys, repo, "--pr", "12", "--base", "main")
    assert code == 1 and "0 of 2 required approvals" in out
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "alice", "APPROVED")
    gh.review(12, "erin", "APPROVED", commit="e" * 40)
    code, out, _ = _validate(capsys, repo, "--pr", "12", "--base", "main")
    assert code == 1
    assert ("1 of 2 required approvals from @acme/ml-leads, carol (dave); not counted: alice (the author cannot approve "
            "their own change); erin (approved an older commit eeeeeee") in out
    gh.review(12, "erin", "APPROVED")
    code, out, _ = _validate(capsys, repo, "--pr", "12", "--base", "main")
    assert code == 0, out
    assert "2 of 2 required approvals from @acme/ml-leads, carol (dave, erin)" in out


def test_validate_in_github_actions_reads_the_event_and_comments(promotion, capsys, tmp_path: Path, monkeypatch) -> None:
    repo, gh = promotion
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "carol", "APPROVED")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "submitted", "pull_request": {
        "number": 12, "base": {"sha": repo.rev("main"), "ref": "main"}, "head": {"sha": repo.rev("mlgate/promote"), "ref": "x"}}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request_review")
    code, out, _ = _validate(capsys, repo, "--comment", "--format", "markdown")
    assert code == 0, out
    assert out.startswith("### mlgate validate: passed")
    [comment] = gh.state.comments.values()
    assert comment["body"].startswith(COMMENT_MARKER) and "fraud-detector@champion" in comment["body"]


def test_merge_group_event_finds_the_pull_request(promotion, capsys, tmp_path: Path, monkeypatch) -> None:
    repo, gh = promotion
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "checks_requested", "merge_group": {
        "base_sha": repo.rev("main"), "head_sha": repo.rev("mlgate/promote"),
        "head_ref": f"refs/heads/gh-readonly-queue/main/pr-12-{repo.rev('main')}", "base_ref": "refs/heads/main"}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, _ = _validate(capsys, repo)
    assert code == 1 and "0 of 2 required approvals" in out
    assert ("GET", "/repos/acme/registry/pulls/12") in gh.state.requests


def test_forge_errors_exit_2_with_a_message(promotion, capsys, monkeypatch) -> None:
    repo, gh = promotion
    gh.state.rate_limited = True
    code, out, err = _validate(capsys, repo, "--pr", "12", "--base", "main")
    assert code == 2 and out == ""
    assert err.startswith("mlgate: error: GitHub rate limit exceeded")
    monkeypatch.delenv("GITHUB_TOKEN")
    code, _, err = _validate(capsys, repo, "--pr", "12")
    assert code == 2 and "set GITHUB_TOKEN" in err


def test_promote_opens_a_github_pull_request_and_pushes(repo: RegistryRepo, gh: StandIn, tmp_path: Path, monkeypatch, capsys) -> None:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.root), str(origin)], check=True)
    repo.git.git("remote", "add", "origin", str(origin))

    def lookup(branch: str) -> str | None:
        proc = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=origin, capture_output=True, text=True)
        return proc.stdout.strip() or None

    gh.state.branch_lookup = lookup
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    code = main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "champion", "--forge", "github",
                 "--github-repo", "acme/registry", "--github-url", gh.url, "--as", "alice", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pull_request"] == {"number": 1, "url": "https://github.com/acme/registry/pull/1"}
    pr = gh.state.pulls[1]
    assert pr["head"]["ref"] == "mlgate/promote-fraud-detector-champion-v3" and pr["head"]["sha"] == doc["commit"]
    assert "| no regression auc | :white_check_mark: pass | v3 0.911 vs v2 0.902" in pr["body"]
    assert lookup("mlgate/promote-fraud-detector-champion-v3") == doc["commit"]  # really pushed


def test_a_failed_pull_request_leaves_no_branch_behind(repo: RegistryRepo, gh: StandIn, monkeypatch, capsys) -> None:
    before = repo.status()
    gh.state.fail_next = 500
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    code = main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "champion", "--forge", "github",
                 "--github-repo", "acme/registry", "--github-url", gh.url, "--as", "alice"])
    _, err = capsys.readouterr()
    assert code == 2 and "GitHub answered 500" in err
    assert repo.status() == before
