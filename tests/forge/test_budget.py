"""The GitHub API budget of one `mlgate validate --forge github`: counted by the stand-in, per route template, and
bounded by what the pull request itself has, never by the size of the registry or of its history.

Each test runs the command line in this process against the stand-in on 127.0.0.1 (real PyGithub over HTTP, a
real git repository), the way GitHub Actions runs the validate check, and counts the requests the stand-in
received. The README's "API calls per pull request" table is checked against the same counts.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from mlgate.forge import ForgeError
from mlgate.testing import RegistryRepo
from mlgate.testing.github import FakeClock, StandIn

ROOT = Path(__file__).resolve().parents[2]
CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
PR = "GET /repos/{owner}/{repo}/pulls/{pull_number}"
REVIEWS = "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews"
COMMITS = "GET /repos/{owner}/{repo}/pulls/{pull_number}/commits"
PERMISSION = "GET /repos/{owner}/{repo}/collaborators/{username}/permission"
MEMBERSHIP = "GET /orgs/{org}/teams/{team_slug}/memberships/{username}"
TEAM = "GET /orgs/{org}/teams/{team_slug}"
COMMENTS = "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"
POST_COMMENT = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"
EDIT_COMMENT = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}"
USER = "GET /user"
COMMIT_PULLS = "GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls"


# --- registries of any size, built in one git process ------------------------------------------------------


def _fast_import(repo: RegistryRepo, commands: list[bytes]) -> None:
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo.root, input=b"".join(commands), check=True)
    subprocess.run(["git", "reset", "--quiet", "--hard", "main"], cwd=repo.root, check=True)


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def grow(repo: RegistryRepo, models: int = 0, promotions: int = 0) -> None:
    """Add ``models`` copies of fraud-detector to main in one commit, then ``promotions`` merged promotion pull
    requests (one commit each on main's first-parent line, moving a champion between v1 and v2)."""
    source = repo.path("registry/models/fraud-detector")
    files = {p.relative_to(source).as_posix(): p.read_text() for p in source.rglob("*") if p.is_file()}
    when = 1_767_225_600
    out: list[bytes] = []
    if models:
        out.append(f"commit refs/heads/main\ncommitter T <t@example.com> {when} +0000\n".encode())
        out.append(_data(f"Add {models} models") + f"from {repo.rev('main')}\n".encode())
        for i in range(models):
            name = f"model-{i:04d}"
            for rel, text in files.items():
                out.append(f"M 100644 inline registry/models/{name}/{rel}\n".encode())
                out.append(_data(text.replace("fraud-detector", name)))
    for n in range(promotions):
        name = f"model-{n % max(models, 1):04d}" if models else "churn-predictor"
        path = f"registry/models/{name}/aliases/challenger.yaml"
        text = repo.path(f"registry/models/{'fraud-detector' if models else name}/aliases/challenger.yaml").read_text()
        text = re.sub(r"(?m)^version: \d+$", f"version: {1 + n % 2}", text).replace("fraud-detector", name)
        out.append(f"commit refs/heads/main\ncommitter T <t@example.com> {when + n + 1} +0000\n".encode())
        out.append(_data(f"Promote {name} v{1 + n % 2} to challenger (#{1000 + n})"))
        if n == 0 and not models:
            out.append(f"from {repo.rev('main')}\n".encode())
        out.append(f"M 100644 inline {path}\n".encode() + _data(text))
    if out:
        _fast_import(repo, out)


def promotion_pr(repo: RegistryRepo, gh: StandIn, *, files: int = 0, commits: int = 1) -> str:
    """Pull request #12: fraud-detector v3 to champion (and ``files`` more changed files), pushed as ``commits``
    commits by alice. Returns its head."""
    base = repo.rev("main")
    repo.branch("mlgate/promote")
    repo.edit_yaml(CHAMPION, version=3)
    for i in range(files):
        repo.write(f"docs/notes-{i:04d}.md", f"note {i}\n")
    head = repo.commit("Promote fraud-detector v3 to champion")
    shas = [f"{i:040x}" for i in range(1, commits)] + [head]
    gh.add_pull(
        12,
        "alice",
        head,
        head="mlgate/promote",
        base_sha=base,
        commits=[gh.commit(sha, "alice", "alice") for sha in shas],
    )
    repo.switch("main")
    return head


@pytest.fixture
def world(tmp_path: Path, gh_env: StandIn, actions_event, monkeypatch: pytest.MonkeyPatch):
    """``world(models=, promotions=, files=, commits=)``: a registry grown that much, pull request #12 on it with
    the example teams and collaborators, and the Actions event of a review on it."""
    for name in ("GITHUB_SERVER_URL", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "MLGATE_GITHUB_APP_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    gh = gh_env
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    gh.state.teams["acme/ml-platform"] = {"pat"}
    gh.collaborators("alice", "bob", "carol", "dave", "erin", "pat")

    def make(models: int = 0, promotions: int = 0, files: int = 0, commits: int = 1) -> RegistryRepo:
        repo = RegistryRepo.create(tmp_path / f"repo-{models}-{promotions}-{files}-{commits}")
        grow(repo, models, promotions)
        head = promotion_pr(repo, gh, files=files, commits=commits)
        actions_event(
            {"pull_request": {"number": 12, "base": {"sha": repo.rev("main")}, "head": {"sha": head}}},
            "pull_request_review",
        )
        return repo

    return gh, make


def validate(run_cli, gh: StandIn, repo: RegistryRepo, *args: str) -> Counter[str]:
    """The requests of one `mlgate validate --forge github --comment` run, per route template."""
    gh.reset_calls()
    code, out, err = run_cli("-C", repo.root, "validate", "--forge", "github", "--comment", *args)
    assert code in (0, 1) and "could not comment" not in err, out + err
    return gh.calls()


def approve(gh: StandIn, *users: str) -> None:
    for user in users:
        gh.review(12, user, "APPROVED")


# --- the budget does not grow with the registry -------------------------------------------------------------


def test_validate_asks_github_the_same_for_a_few_models_and_hundreds_and_any_history(world, run_cli) -> None:
    gh, make = world
    counts = {}
    for models, promotions in ((0, 0), (300, 0), (0, 400), (300, 400)):
        repo = make(models=models, promotions=promotions)
        approve(gh, "dave", "carol")
        counts[(models, promotions)] = validate(run_cli, gh, repo)
        gh.state.reviews[12].clear()
        gh.state.comments.clear()
    first = counts[(0, 0)]
    assert first == Counter({PR: 1, REVIEWS: 1, COMMITS: 1, PERMISSION: 2, MEMBERSHIP: 1, COMMENTS: 1, POST_COMMENT: 1})
    assert all(c == first for c in counts.values()), counts


# --- it grows with what the pull request has, and only with that ------------------------------------------------


def test_changed_files_cost_no_request(world, run_cli) -> None:
    """mlgate reads the changed files from git, never from GitHub's pull request files list (30 a page, 3,000 at
    most): a pull request of 400 files costs what one of one file costs."""
    gh, make = world
    approve_and_count = []
    for files in (0, 400):
        repo = make(files=files)
        approve(gh, "dave", "carol")
        approve_and_count.append(validate(run_cli, gh, repo))
        gh.state.reviews[12].clear()
        gh.state.comments.clear()
    assert approve_and_count[0] == approve_and_count[1]
    assert not any("/files" in route for route in approve_and_count[1])


def test_reviews_commits_and_comments_cost_a_page_per_hundred(world, run_cli) -> None:
    gh, make = world
    repo = make(commits=150)  # GitHub lists a pull request's commits 100 a page (250 at most)
    approve(gh, "dave", "carol")
    for _ in range(120):  # comments made as reviews: neither grant nor withdraw, but GitHub lists them
        gh.review(12, "bob", "COMMENTED")
    for i in range(101):
        gh.comment(12, "bob", f"comment {i}")
    first = validate(run_cli, gh, repo)
    assert (first[REVIEWS], first[COMMITS], first[COMMENTS]) == (2, 2, 2)  # per_page=100, never GitHub's 30
    assert first[PR] == 1 and first[USER] == 1  # whose comments are ours: asked once, however many comments
    again = validate(run_cli, gh, repo)  # the report comment is there now: updated in place
    assert again[EDIT_COMMENT] == 1 and again[POST_COMMENT] == 0 and again[COMMENTS] == 2


def test_each_approver_costs_a_permission_and_a_membership_check_once(world, run_cli) -> None:
    gh, make = world
    repo = make()
    approve(gh, "dave", "carol")
    two = validate(run_cli, gh, repo)
    gh.state.comments.clear()
    gh.collaborators(*(f"user{i}" for i in range(5)))
    approve(gh, *(f"user{i}" for i in range(5)), "dave", "dave")  # five more approvers; dave approves again
    seven = validate(run_cli, gh, repo)
    assert seven[PERMISSION] - two[PERMISSION] == 5  # once per distinct reviewer
    # a reviewer no name in the gate matches is asked about each team of it; a team that answers 404 is looked
    # up once to tell "not a member" from "cannot see the team"
    assert seven[MEMBERSHIP] - two[MEMBERSHIP] == 5 and seven[TEAM] == 1
    assert sum(seven.values()) - sum(two.values()) == 11


def test_a_reviewer_that_cannot_count_costs_nothing(world, run_cli) -> None:
    """Stale approvals, change requests, the author's own approval and comments are settled without asking
    GitHub anything about the reviewer."""
    gh, make = world
    repo = make()
    approve(gh, "dave", "carol")
    base = validate(run_cli, gh, repo)
    gh.state.comments.clear()
    gh.review(12, "erin", "APPROVED", commit="e" * 40)
    gh.review(12, "pat", "CHANGES_REQUESTED")
    gh.review(12, "alice", "APPROVED")
    gh.review(12, "bob", "COMMENTED")
    assert validate(run_cli, gh, repo) == base


# --- the README's table is what the stand-in counts ---------------------------------------------------------------


def _readme_calls() -> dict[str, int]:
    """The README's "API calls per pull request" table: row label -> requests."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### GitHub API calls per pull request") :]
    section = section[: section.index("\n#")]
    rows = re.findall(r"^\| ([^|]+?) \| (\d+) \|", section, re.M)
    assert rows, "the README's table of API calls per pull request is missing"
    return {label: int(n) for label, n in rows}


def test_the_readme_states_the_calls_each_kind_of_pull_request_makes(world, run_cli) -> None:
    gh, make = world
    table = _readme_calls()
    repo = make()
    approve(gh, "dave", "carol")
    first = validate(run_cli, gh, repo)
    again = validate(run_cli, gh, repo)
    assert table["promotion to champion, first run"] == sum(first.values())
    assert table["promotion to champion, each later run"] == sum(again.values())
    # the bound for a typical promotion: up to 100 reviews, commits and comments each, five approvers no name in
    # the gate matches, a gate naming one team
    gh.state.comments.clear()
    gh.collaborators(*(f"user{i}" for i in range(5)))
    approve(gh, *(f"user{i}" for i in range(5)))
    for _ in range(100 - len(gh.state.reviews[12])):
        gh.review(12, "bob", "COMMENTED")
    for i in range(99):
        gh.comment(12, "bob", f"comment {i}")
    validate(run_cli, gh, repo)  # the report comment is the 100th
    worst = validate(run_cli, gh, repo)
    assert sum(worst.values()) <= table["typical promotion: at most"], worst


def test_registration_rollback_and_policy_pull_requests_are_in_the_readme(world, run_cli, actions_event) -> None:
    gh, make = world
    table = _readme_calls()
    repo = make()
    main = repo.rev("main")

    def pr(number: int, branch: str, change, message: str | None = None) -> None:
        repo.branch(branch, "main")
        change()
        head = repo.commit(message or branch)
        gh.add_pull(number, "alice", head, head=branch, base_sha=main)
        repo.switch("main")
        actions_event({"pull_request": {"number": number, "base": {"sha": main}, "head": {"sha": head}}})

    pr(13, "register", lambda: repo.add_version("fraud-detector", 4, like=3))
    gh.review(13, "dave", "APPROVED")
    registration = validate(run_cli, gh, repo)  # no alias moves: no approval to count, the pull request unread
    assert sum(registration.values()) == table["registration"] and registration[PR] == 0
    repo.edit_yaml(CHAMPION, version=3)
    promotion = repo.commit("Promote fraud-detector v3 to champion (#11)")
    main = repo.rev("main")
    # back to the version it held, by `git revert` of the promotion (the proof that makes it a rollback)
    before = subprocess.run(["git", "show", f"{promotion}^:{CHAMPION}"], cwd=repo.root, capture_output=True, check=True)
    revert = f'Revert "Promote fraud-detector v3 to champion (#11)"\n\nThis reverts commit {promotion}.\n'
    pr(14, "rollback", lambda: repo.write(CHAMPION, before.stdout), revert)
    gh.review(14, "dave", "APPROVED")
    assert sum(validate(run_cli, gh, repo).values()) == table["rollback"]
    pr(15, "policy", lambda: repo.write("registry/policy.yaml", repo.path("registry/policy.yaml").read_text() + "\n"))
    gh.review(15, "pat", "APPROVED")
    assert sum(validate(run_cli, gh, repo).values()) == table["policy change"]


# --- rate limits: a clear line, the documented exit code, no hanging ---------------------------------------------


def test_past_the_hourly_quota_validate_says_which_limit_and_when_it_resets(world, run_cli) -> None:
    gh, make = world
    repo = make()
    approve(gh, "dave", "carol")
    gh.rate_limit(1000, used=998)  # GITHUB_TOKEN's 1,000 an hour, nearly spent by other jobs
    gh.reset_calls()
    code, out, err = run_cli("-C", repo.root, "validate", "--forge", "github", "--comment")
    warning, error = err.splitlines()  # the old verdict could not be withdrawn either: said, not tried
    assert code == 2 and out == "" and warning.startswith("mlgate: warning: could not comment on #12: GitHub rate")
    assert "(not sent: the limit an earlier request met is still closed)" in warning
    assert error.startswith(
        "mlgate: error: GitHub rate limit exceeded (403 Forbidden, the primary limit: 1000 of 1000 requests an hour "
        "used) while trying to read the commits of pull request #12 (it resets at "
    )
    assert error.endswith("min): retry then, or use a token with its own quota")
    assert sum(gh.calls().values()) == 3  # two answered, one refused; the comment is not tried into a closed limit


def test_a_secondary_limit_longer_than_mlgate_waits_is_one_line_at_once(world, run_cli) -> None:
    """mlgate waits at most 60 s in all for GitHub's limits (a CI job never hangs on them); past that it stops."""
    gh, make = world
    repo = make()
    approve(gh, "dave", "carol")
    gh.state.secondary.points_per_minute = 2  # GitHub's is 900; a busy token has spent the rest
    gh.state.secondary.retry_after = 120
    code, out, err = run_cli("-C", repo.root, "validate", "--forge", "github")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(
        "mlgate: error: GitHub's secondary rate limit (403 Forbidden) stopped mlgate while trying to read the commits "
        "of pull request #12: GitHub asked to wait 120 s (until 20"
    )
    assert "more than is left of the 60 s mlgate waits in all" in err


# --- history: calls grow with the pull requests asked about, and a second run asks nothing ---------------------


def test_history_asks_per_pull_request_once_and_then_reads_its_cache(tmp_path: Path, gh_env: StandIn, run_cli) -> None:
    gh = gh_env
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    gh.collaborators("carol", "dave")
    repo = RegistryRepo.create(tmp_path / "repo")
    grow(repo, promotions=300)  # other models' promotions, merged as pull requests #1000 to #1299: not asked about
    for n, version in ((21, 3), (22, 2), (23, 3)):
        repo.branch(f"pr-{n}", "main")
        repo.edit_yaml(CHAMPION, version=version)
        head = repo.commit(f"Promote fraud-detector v{version} to champion")
        merge = repo.merge(f"pr-{n}", message=f"Merge pull request #{n} from acme/pr-{n}")
        gh.add_pull(n, "alice", head, head=f"pr-{n}")
        gh.review(n, "dave", "APPROVED")
        gh.review(n, "carol", "APPROVED")
        gh.merge(n, merge, "carol")
    gh.reset_calls()
    code, out, _ = run_cli("-C", repo.root, "history", "fraud-detector", "--format", "json", *gh.cli_options())
    assert code == 0
    first = gh.calls()
    assert (first[PR], first[REVIEWS], first[COMMITS]) == (3, 3, 3)  # one read of each pull request asked about
    assert first[COMMIT_PULLS] == 1  # the initial commit (fraud-detector's registration) names no pull request
    assert first[PERMISSION] == 2 and first[MEMBERSHIP] <= 2  # each approver asked once for the whole history
    assert {e["pr"] for e in json.loads(out)["events"] if e["pr"]} == {21, 22, 23}
    gh.reset_calls()
    run_cli("-C", repo.root, "history", "fraud-detector", "--format", "json", *gh.cli_options())
    again = gh.calls()  # merged pull requests never change, nor which pull request a commit was: read from cache
    assert again[PR] == again[REVIEWS] == again[COMMITS] == again[COMMIT_PULLS] == 0


def test_a_forge_that_met_the_hourly_limit_sends_nothing_more_until_it_resets(gh: StandIn) -> None:
    """What keeps `mlgate history` over thousands of pull requests from hammering GitHub once the quota is out."""
    time = FakeClock()
    gh.state.clock = time.clock
    for n in range(1, 6):
        gh.add_pull(n, "alice", f"{n:040x}")
    gh.rate_limit(4, status=429)
    forge = gh.forge(clock=time, max_wait=0)
    forge.pull_request(1)  # three requests
    outcomes = []
    for n in range(2, 6):
        try:
            forge.pull_request(n)
            outcomes.append("ok")
        except Exception as e:  # noqa: BLE001 - the message is what is checked
            outcomes.append(str(e))
    assert sum(gh.calls().values()) == 5  # 4 answered, 1 refused; the other three reads were never sent
    assert all(o.startswith("GitHub rate limit exceeded (429 Too Many Requests") for o in outcomes)
    assert all("not sent" in o for o in outcomes[1:])
    time.now += 3600  # the hour is over: requests go out again
    assert forge.pull_request(5).number == 5


def test_each_token_has_its_own_quota_headers_and_count(gh: StandIn) -> None:
    gh.add_pull(9, "alice", "a" * 40)
    gh.add_token("ghs_actions", kind="app")  # GitHub Actions' GITHUB_TOKEN: 1,000 an hour per repository
    user = gh.forge()
    user.pull_request(9)
    app = gh.forge(token="ghs_actions")
    app.pull_request(9)
    limits = [(a.headers["x-ratelimit-limit"], a.headers["x-ratelimit-remaining"]) for a in gh.state.answers]
    assert limits == [
        ("5000", "4999"),
        ("5000", "4998"),
        ("5000", "4997"),
        ("1000", "999"),
        ("1000", "998"),
        ("1000", "997"),
    ]
    assert all(a.headers["x-ratelimit-resource"] == "core" and a.headers["x-ratelimit-reset"] for a in gh.state.answers)
    gh.rate_limit(1000, token="ghs_actions", used=1000)
    with pytest.raises(ForgeError, match=r"the primary limit: 1000 of 1000 requests an hour used"):
        gh.forge(token="ghs_actions").pull_request(9)
    assert user.pull_request(9).number == 9  # the user's token keeps its own quota
    assert gh.calls("ghs_actions") == Counter({PR: 2, REVIEWS: 1, COMMITS: 1})
    assert gh.calls(gh.state.token) == Counter({PR: 2, REVIEWS: 2, COMMITS: 2})


def test_writes_past_githubs_per_minute_limit_wait_for_the_window(gh: StandIn) -> None:
    time = FakeClock()
    gh.state.clock = time.clock  # the stand-in's minute windows pass as mlgate's waits do
    gh.add_pull(9, "alice", "a" * 40)
    gh.state.secondary.creates_per_minute = 1  # GitHub's is 80 writes a minute
    forge = gh.forge(clock=time)
    forge.upsert_comment(9, "first report")
    forge.upsert_comment(9, "second report")  # the minute's second write: GitHub asks to wait, mlgate does
    assert time.slept == [60]
    [comment] = gh.state.comments.values()
    assert comment["body"].endswith("second report")
    assert [a.status for a in gh.state.answers if a.method == "PATCH"] == [403, 200]


def _promoted_by_pull_requests(tmp_path: Path, gh: StandIn, numbers: range) -> RegistryRepo:
    """The example registry with fraud-detector's champion moved by each pull request of ``numbers`` in turn
    (v3, v2, ...), merged on GitHub by carol, none reviewed."""
    repo = RegistryRepo.create(tmp_path / "repo")
    for n in numbers:
        repo.branch(f"pr-{n}", "main")
        repo.edit_yaml(CHAMPION, version=3 - n % 2)
        head = repo.commit(f"Promote fraud-detector v{3 - n % 2} to champion")
        merge = repo.merge(f"pr-{n}", message=f"Merge pull request #{n} from acme/pr-{n}")
        gh.add_pull(n, "alice", head, head=f"pr-{n}")
        gh.merge(n, merge, "carol")
    return repo


def test_history_past_the_quota_stops_asking_and_still_answers_from_git(
    tmp_path: Path, gh_env: StandIn, run_cli
) -> None:
    gh = gh_env
    repo = _promoted_by_pull_requests(tmp_path, gh, range(30, 50))
    gh.rate_limit(1000, used=995)  # five requests left this hour
    code, out, err = run_cli("-C", repo.root, "history", "fraud-detector", "--format", "json", *gh.cli_options())
    assert code == 0 and len([e for e in json.loads(out)["events"] if e["pr"]]) == 20  # git still tells the story
    assert "GitHub rate limit exceeded" in err
    # 60 reads without the limit; past it, nothing more is sent (history asks one request at a time)
    assert sum(gh.calls().values()) < 20


def test_history_asks_github_one_request_at_a_time(tmp_path: Path, gh_env: StandIn, run_cli) -> None:
    # GitHub's REST best practices: "make requests serially instead of concurrently" (its secondary limits count
    # concurrent requests and points a minute); a cold cache over many pull requests must not burst
    gh = gh_env
    repo = _promoted_by_pull_requests(tmp_path, gh, range(30, 46))
    code, out, _ = run_cli("-C", repo.root, "history", "fraud-detector", "--format", "json", *gh.cli_options())
    assert code == 0 and len([e for e in json.loads(out)["events"] if e["pr"]]) == 16
    assert sum(gh.calls().values()) >= 16 * 3  # every pull request read
    assert gh.state.most_in_flight == 1
