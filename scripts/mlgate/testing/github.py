"""A GitHub REST API stand-in on 127.0.0.1: test mlgate's github forge, or your own pipeline around it, with
real PyGithub over HTTP and no GitHub account.

>>> with StandIn() as gh:                          # serves acme/registry; gh.url is the API base URL
...     gh.collaborator("dave", "write")
...     gh.add_pull(12, "alice", head_sha)
...     gh.review(12, "dave", "APPROVED")
...     run_your_pipeline(env=gh.environment())     # GITHUB_TOKEN, GITHUB_API_URL, GITHUB_REPOSITORY

It is meant to be as strict as GitHub for everything mlgate relies on, with the payloads GitHub's OpenAPI
description documents (mlgate's ``tests/forge/test_openapi.py`` checks every answer against it):

* pulls (one, the closed ones into a base, paginated with ``Link`` headers), their reviews (a PENDING review
  is listed to its own author only, ``user: null`` for a deleted account, DISMISSED in place), their commits
  (author and committer GitHub users, ``null`` for an unlinked email, ``web-flow`` for GitHub's own), the pull
  requests of a commit (merge, squash and rebase merges: a rebase lists the pull request for each rebased
  commit), ``author_association``;
* issue comments with their author (the token's user, or ``github-actions[bot]`` for an installation token),
  GitHub's 65,536-character limit (422), editing and deleting;
* ``GET /user`` (403 for an installation token), the collaborator permission endpoint, teams and team
  memberships (403 or 404 for a token that may not read the organisation's teams);
* rate limits as GitHub keeps them, per token: ``x-ratelimit-*`` headers on every answer; the primary limit
  (an hourly quota: 5,000 requests for a user's token, 1,000 per repository for GitHub Actions'
  ``GITHUB_TOKEN``; past it 403, or 429, with ``x-ratelimit-remaining: 0`` and the reset time) and the
  secondary limits (points per minute, content-creating requests per minute, concurrent requests; past them
  403, or 429, with ``Retry-After``), on the stand-in's clock (give it a :class:`FakeClock` to move time);
* failures as GitHub sends them: 401, 404, 422, HTML error pages (502), a 200 with an HTML page, and
  answers trickled a byte at a time (see :class:`Fault`).

State lives in memory; every request and every answer is recorded so tests can count calls and check bodies.
:meth:`StandIn.calls` counts the requests per token, method and route template (GitHub's own, e.g.
``GET /repos/{owner}/{repo}/pulls/{pull_number}``): the API budget of whatever ran against it.
"""

from __future__ import annotations

import http
import json
import os
import re
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, quote, urlencode

if TYPE_CHECKING:
    from mlgate.forge.github import GitHubForge

DOCS = "https://docs.github.com/rest"
WEB = "https://github.com"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
COMMENT_LIMIT = 65536
#: GitHub's base roles, as the permission endpoint's legacy ``permission`` field names them
LEGACY = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read", "none": "none"}
#: what GitHub's front end answers when the API behind it fails (an HTML page, not JSON)
UNICORN = (
    '<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv="Content-type" content="text/html; charset=utf-8">\n'
    "    <title>Unicorn! &middot; GitHub</title>\n  </head>\n  <body>\n    <p>No server is currently available to "
    "service your request.</p>\n  </body>\n</html>\n"
)
#: a proxy's or captive portal's login page, answered with 200
PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head>\n"
    '<body><form method="post"><input name="user"></form></body></html>\n'
)
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach "
    "out to GitHub Support for help, please include the request ID 0000:1111:2222."
)
NOT_INTEGRATION = "Resource not accessible by integration"
#: GitHub's primary rate limits per hour: a user's token (a personal access token, an OAuth app's), and GitHub
#: Actions' GITHUB_TOKEN (1,000 per repository; an installation token of a GitHub App gets 5,000 and more)
HOURLY = {"user": 5000, "app": 1000}
#: what a request costs against the secondary limit of points per minute (GitHub: 1 for a read, 5 for a write)
POINTS = {"GET": 1, "HEAD": 1, "OPTIONS": 1}
WRITE_POINTS = 5
#: the template of a request that matches no route the stand-in serves
UNKNOWN_ROUTE = "(no such route)"


@dataclass
class Quota:
    """One token's primary rate limit: ``used`` of ``limit`` requests in the hour that ends at ``reset`` (epoch)."""

    limit: int
    used: int = 0
    reset: int | None = None


@dataclass
class Secondary:
    """GitHub's secondary rate limits, per token (its documented defaults); None turns one off."""

    points_per_minute: int | None = 900
    creates_per_minute: int | None = 80
    concurrent: int | None = 100
    status: int = 403  # GitHub answers 403 or 429
    retry_after: int | None = None  # the Retry-After sent; None: until the minute's window has room again


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(text: str) -> int:
    return zlib.crc32(text.encode()) % 10**8 + 1


@dataclass
class Fault:
    """A scripted answer for the next ``times`` requests whose ``"METHOD /path"`` matches ``match`` (a regex).

    ``status`` None keeps the endpoint's own answer and only delivers it slowly: ``trickle`` seconds between
    bytes of the body (and of the status line and headers too, with ``trickle_headers``).
    """

    status: int | None
    body: Any = None  # JSON (a dict or list) or bytes, sent with content_type
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    times: int = 1
    match: str = ""
    trickle: float = 0.0
    trickle_headers: bool = False


@dataclass
class Answer:
    """One answer the stand-in sent, as recorded for the OpenAPI check."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class State:
    owner: str = "acme"
    name: str = "registry"
    token: str = "t0ken"
    private: bool = True
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)  # number -> GitHub's pull request payload
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pull_commits: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # number -> commit payloads
    rebased: dict[int, list[str]] = field(default_factory=dict)  # number -> commits a rebase merge made on the base
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment payload
    teams: dict[str, set[str]] = field(default_factory=dict)  # "org/slug" -> logins
    org_members: set[str] = field(default_factory=set)  # besides the teams' members
    permissions: dict[str, str] = field(
        default_factory=dict
    )  # login (lower case) -> admin, maintain, write, triage, read
    base_permission: str = "read"  # what the organisation's members get on its repositories
    missing_users: set[str] = field(default_factory=set)  # logins GitHub does not know (404)
    token_user: str = "alice"
    #: "user": a personal token (GET /user answers); "app": an installation token (GitHub Actions' GITHUB_TOKEN)
    token_kind: str = "user"
    #: whether the token may read the organisation's teams: "granted" (read:org, Members: read), "integration"
    #: (an installation token without it: 403) or "hidden" (a personal token without read:org: the teams are 404)
    org_read: str = "granted"
    rate_limited: bool = False  # every request refused with the primary limit (a fixed reset, 2030-01-01)
    tokens: dict[str, str] = field(default_factory=dict)  # other accepted tokens -> their kind ("user" or "app")
    quotas: dict[str, Quota] = field(default_factory=dict)  # token -> its primary rate limit
    primary_status: int = 403  # what GitHub answers past the primary limit: 403 or 429
    secondary: Secondary = field(default_factory=Secondary)
    recent: dict[str, list[tuple[float, int, bool]]] = field(default_factory=dict)  # token -> (time, points, create)
    in_flight: dict[str, int] = field(default_factory=dict)  # token -> requests being answered
    most_in_flight: int = 0  # the most requests of one token answered at the same time (GitHub asks for one)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (token, "METHOD /template") -> requests
    clock: Callable[[], float] = time.time  # the time rate limits are kept in (epoch seconds)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    fail_next: int | None = None  # an HTTP status to answer the next request with
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    routes: list[tuple[str, str]] = field(default_factory=list)  # (method, pattern) of every endpoint served
    next_id: int = 1000
    branch_lookup: Any = None  # optional callable: branch name -> sha or None (e.g. reading a bare origin)
    settings: BranchSettings | None = None  # the branch's protection and rulesets (mlgate doctor); None: unprotected

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def token_login(self, token: str | None = None) -> str:
        return "github-actions[bot]" if self.kind_of(token) == "app" else self.token_user

    def kind_of(self, token: str | None = None) -> str:
        """ "user" or "app" (an installation token, like GitHub Actions' GITHUB_TOKEN)."""
        return self.token_kind if token is None or token == self.token else self.tokens.get(token, "user")

    def quota(self, token: str) -> Quota:
        """``token``'s primary rate limit, its hour starting at its first request (as GitHub's does)."""
        quota = self.quotas.setdefault(token, Quota(HOURLY[self.kind_of(token)]))
        now = self.clock()
        if quota.reset is None or now >= quota.reset:
            quota.used, quota.reset = 0, int(now) + 3600
        return quota


class FakeClock:
    """A clock that only moves when slept on, recording every sleep: give it to :meth:`StandIn.forge` (or to
    ``GitHubForge(sleep=..., clock=...)``) and retries and rate-limit waits take no time in a test."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


class StandIn:
    """Start with ``with StandIn() as gh:``; ``gh.url`` is the API base URL, ``gh.forge()`` mlgate's forge on it.

    ``clock`` is the time its rate limits are kept in: pass a :class:`FakeClock` (and the same to
    :meth:`forge`) to have mlgate wait for a reset without waiting."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.state = State()
        self.fake_clock = clock
        if clock is not None:
            self.state.clock = clock.clock
        self.stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"state": self.state, "standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()  # ends any answer being trickled
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- scripting the world --------------------------------------------------------

    @property
    def full_name(self) -> str:
        """The repository the stand-in serves, as ``OWNER/NAME``."""
        return f"{self.state.owner}/{self.state.name}"

    def repo_url(self) -> str:
        return f"{self.url}/repos/{self.full_name}"

    def environment(self) -> dict[str, str]:
        """The variables GitHub Actions sets that point mlgate (``--forge github``) at this stand-in."""
        return {"GITHUB_TOKEN": self.state.token, "GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": self.full_name}

    def cli_options(self) -> list[str]:
        """The command-line options that point an mlgate command at this stand-in (the token comes from
        ``$GITHUB_TOKEN``)."""
        return ["--forge", "github", "--github-repo", self.full_name, "--github-url", self.url]

    def forge(self, token: str | None = None, clock: FakeClock | None = None, **options: Any) -> GitHubForge:
        """mlgate's GitHub forge (real PyGithub) on this stand-in's repository, with the stand-in's token unless
        ``token`` is given. It never sleeps: its waits are recorded on ``clock`` (by default the stand-in's own
        :class:`FakeClock`, else a new one at the stand-in's time). ``options`` go to
        :class:`~mlgate.forge.github.GitHubForge` (``deadline``, ``run_url`` ...)."""
        from mlgate.forge.github import GitHubForge  # PyGithub is imported only when a forge is asked for

        clock = clock or self.fake_clock or FakeClock(self.state.clock())  # from the time the stand-in keeps
        return GitHubForge(
            self.full_name, token or self.state.token, self.url, sleep=clock.sleep, clock=clock.clock, **options
        )

    def add_token(self, token: str, kind: str = "user", limit: int | None = None) -> None:
        """Accept another token: a user's ("user") or an installation's ("app", GitHub Actions' GITHUB_TOKEN),
        with its own hourly quota (GitHub's for its kind unless ``limit``)."""
        assert kind in HOURLY, kind
        self.state.tokens[token] = kind
        if limit is not None:
            self.rate_limit(limit, token=token)

    def rate_limit(self, limit: int, *, token: str | None = None, used: int = 0, status: int = 403) -> None:
        """Set a token's hourly quota (the stand-in's token by default), ``used`` of it spent; past it GitHub
        answers ``status`` (403 or 429)."""
        token = token or self.state.token
        self.state.quota(token)  # starts the hour now
        self.state.quotas[token].limit, self.state.quotas[token].used = limit, used
        self.state.primary_status = status

    def calls(self, token: str | None = None) -> Counter[str]:
        """Requests per ``"METHOD /route template"`` (GitHub's templates), for one token or for all."""
        out: Counter[str] = Counter()
        for (t, route), n in self.state.calls.items():
            if token is None or t == token:
                out[route] += n
        return out

    def reset_calls(self) -> None:
        """Start counting afresh (the requests recorded so far stay in ``state.requests``)."""
        self.state.calls.clear()

    def use_branches_of(self, git_dir: str | os.PathLike[str]) -> None:
        """Answer which branches exist (opening a pull request needs its head pushed) from a real repository,
        e.g. the bare ``origin`` mlgate pushes to (:meth:`mlgate.testing.RegistryRepo.add_origin`)."""
        from mlgate.testing.repo import branch_sha

        self.state.branch_lookup = lambda branch: branch_sha(git_dir, branch)

    def collaborators(self, *logins: str, role: str = "write") -> None:
        """Give each of ``logins`` the same role on the repository."""
        for login in logins:
            self.collaborator(login, role)

    def collaborator(self, login: str, role: str = "write") -> None:
        """Give ``login`` a role on the repository (admin, maintain, write, triage, read)."""
        assert role in LEGACY and role != "none", role
        self.state.permissions[login.lower()] = role

    def add_pull(
        self,
        number: int,
        author: str,
        head_sha: str,
        base: str = "main",
        head: str = "feature",
        base_sha: str = "b" * 40,
        title: str = "Promote",
        body: str = "",
        labels: tuple[str, ...] = (),
        commits: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A pull request; its commits default to one (``head_sha``) authored and committed by ``author``."""
        pr = self._pull_payload(number, author, head, head_sha, base, base_sha, title, body)
        for name in labels:
            pr["labels"].append(self._label(name))
        self.state.pulls[number] = pr
        self.state.reviews[number] = []
        self.state.pull_commits[number] = commits if commits is not None else [self.commit(head_sha, author, author)]
        pr["commits"] = len(self.state.pull_commits[number])
        return pr

    def commit(self, sha: str, author: str | None, committer: str | None, message: str = "change") -> dict[str, Any]:
        """A commit payload; ``None`` is an email GitHub links to no account, ``web-flow`` GitHub's own committer."""
        repo = self.repo_url()
        full = f"{self.state.owner}/{self.state.name}"

        def git_user(login: str | None) -> dict[str, Any]:
            name = login or "Someone"
            return {"name": name, "email": f"{name.lower()}@example.com", "date": _now()}

        return {
            "url": f"{repo}/commits/{sha}",
            "sha": sha,
            "node_id": f"C_{sha[:12]}",
            "html_url": f"{WEB}/{full}/commit/{sha}",
            "comments_url": f"{repo}/commits/{sha}/comments",
            "commit": {
                "url": f"{repo}/git/commits/{sha}",
                "author": git_user(author),
                "committer": git_user(committer),
                "message": message,
                "comment_count": 0,
                "tree": {"sha": "e" * 40, "url": f"{repo}/git/trees/{'e' * 40}"},
            },
            "author": self.user(author) if author else None,
            "committer": self.user(committer) if committer else None,
            "parents": [
                {"sha": "0" * 40, "url": f"{repo}/commits/{'0' * 40}", "html_url": f"{WEB}/{full}/commit/{'0' * 40}"}
            ],
        }

    def push(self, number: int, sha: str, author: str | None, committer: str | None = None) -> None:
        """Someone pushes commit ``sha`` to the pull request's branch."""
        commits = self.state.pull_commits[number]
        commits.append(self.commit(sha, author, committer if committer is not None else author))
        pr = self.state.pulls[number]
        pr["head"]["sha"] = sha
        pr["commits"] = len(commits)

    def review(self, number: int, user: str | None, state: str, commit: str | None = None) -> int:
        """A review (``user`` None: its author's account was deleted); PENDING is a draft. Returns its id."""
        rid = self.state.new_id()
        pr = self.state.pulls[number]
        html = f"{WEB}/{self.state.owner}/{self.state.name}/pull/{number}#pullrequestreview-{rid}"
        review = {
            "id": rid,
            "node_id": f"PRR_{rid}",
            "user": self.user(user) if user else None,
            "body": "",
            "state": state,
            "html_url": html,
            "pull_request_url": pr["url"],
            "author_association": self.association(user),
            "commit_id": commit or pr["head"]["sha"],
            "_links": {"html": {"href": html}, "pull_request": {"href": pr["url"]}},
        }
        if state != "PENDING":
            review["submitted_at"] = _now()
        self.state.reviews[number].append(review)
        return rid

    def dismiss(self, number: int, review_id: int) -> None:
        """What "Dismiss review" does on GitHub: the review stays where it is, its state becomes DISMISSED."""
        review = next(r for r in self.state.reviews[number] if r["id"] == review_id)
        assert review["state"] in ("APPROVED", "CHANGES_REQUESTED"), "GitHub dismisses approvals and change requests"
        review["state"] = "DISMISSED"

    def comment(self, number: int, user: str, body: str) -> dict[str, Any]:
        """Someone else comments on the pull request."""
        comment = self._comment(number, body, self.user(user))
        self.state.comments[comment["id"]] = comment
        return comment

    def merge(
        self, number: int, merge_sha: str, by: str, method: str = "merge", rebased: list[str] | None = None
    ) -> None:
        """Merge the pull request. A ``rebase`` merge writes ``rebased`` commits on the base (``merge_sha`` is the
        last, as GitHub's ``merge_commit_sha`` is)."""
        pr = self.state.pulls[number]
        if method == "rebase":
            rebased = rebased or [merge_sha]
            assert rebased[-1] == merge_sha, "GitHub's merge_commit_sha of a rebase is its last commit"
            self.state.rebased[number] = list(rebased)
        pr.update(
            state="closed",
            merged=True,
            merged_at=_now(),
            closed_at=_now(),
            merge_commit_sha=merge_sha,
            merged_by=self.user(by),
            mergeable=None,
            mergeable_state="unknown",
        )

    def close(self, number: int) -> None:
        """Close the pull request without merging it."""
        self.state.pulls[number].update(state="closed", closed_at=_now(), updated_at=_now())

    # --- faults ----------------------------------------------------------------------------------------

    def fault(
        self,
        status: int | None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = JSON_TYPE,
        times: int = 1,
        match: str = "",
        trickle: float = 0.0,
        trickle_headers: bool = False,
    ) -> Fault:
        fault = Fault(status, body, dict(headers or {}), content_type, times, match, trickle, trickle_headers)
        self.state.faults.append(fault)
        return fault

    def server_error(self, status: int = 502, *, times: int = 1, match: str = "") -> Fault:
        """GitHub's front end failing: an HTML page, as GitHub sends for 502, 503 and 504."""
        return self.fault(status, UNICORN.encode(), content_type=HTML_TYPE, times=times, match=match)

    def secondary_rate_limit(
        self, retry_after: int | None = 60, *, status: int = 403, times: int = 1, match: str = ""
    ) -> Fault:
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        return self.fault(
            status,
            {
                "message": SECONDARY,
                "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            },
            headers=headers,
            times=times,
            match=match,
        )

    def html_success(self, *, times: int = 1, match: str = "") -> Fault:
        """A 200 whose body is a proxy's HTML page (a captive portal, a wrong API URL)."""
        return self.fault(200, PORTAL.encode(), content_type=HTML_TYPE, times=times, match=match)

    def trickle(self, seconds_per_byte: float, *, headers_too: bool = False, times: int = 1, match: str = "") -> Fault:
        """The endpoint's own answer, a byte at a time."""
        return self.fault(None, times=times, match=match, trickle=seconds_per_byte, trickle_headers=headers_too)

    # --- GitHub's payloads --------------------------------------------------------------------------

    def association(self, login: str | None) -> str:
        """``author_association`` of ``login`` with the repository."""
        if login is None:
            return "NONE"
        low = login.lower()
        if low == self.state.owner.lower():
            return "OWNER"
        if low in {u.lower() for u in self.state.org_members} or any(
            low in {u.lower() for u in members}
            for team, members in self.state.teams.items()
            if team.split("/")[0].lower() == self.state.owner.lower()
        ):
            return "MEMBER"
        if low in self.state.permissions:
            return "COLLABORATOR"
        return "NONE"

    def user(self, login: str) -> dict[str, Any]:
        """GitHub's simple-user object."""
        return simple_user(self.url, login, owner=self.state.owner)

    def _app(self) -> dict[str, Any]:
        """The GitHub Actions app, as ``performed_via_github_app`` names it."""
        return {
            "id": 15368,
            "slug": "github-actions",
            "node_id": "MDM6QXBwMTUzNjg=",
            "owner": self.user("github"),
            "name": "GitHub Actions",
            "description": "Automate your workflow from idea to production",
            "external_url": "https://help.github.com/en/actions",
            "html_url": f"{WEB}/apps/github-actions",
            "created_at": "2018-07-30T09:30:17Z",
            "updated_at": "2024-04-10T20:33:16Z",
            "permissions": {"issues": "write", "metadata": "read", "pull_requests": "write"},
            "events": ["pull_request", "pull_request_review"],
        }

    def _label(self, name: str) -> dict[str, Any]:
        lid = self.state.new_id()
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": f"{self.repo_url()}/labels/{quote(name)}",
            "name": name,
            "description": f"Label {name}",
            "color": "ededed",
            "default": False,
        }

    def _repo_payload(self) -> dict[str, Any]:
        api, full = self.repo_url(), f"{self.state.owner}/{self.state.name}"
        templated = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "statuses_url": "/statuses/{sha}",
            "trees_url": "/git/trees{/sha}",
        }
        plain = [
            "contributors",
            "deployments",
            "downloads",
            "events",
            "forks",
            "hooks",
            "languages",
            "merges",
            "stargazers",
            "subscribers",
            "subscription",
            "tags",
            "teams",
        ]
        payload: dict[str, Any] = {k: api + v for k, v in templated.items()}
        payload.update({f"{k}_url": f"{api}/{k}" for k in plain})
        payload.update(
            {
                "id": _id(full),
                "node_id": f"R_{_id(full)}",
                "name": self.state.name,
                "full_name": full,
                "owner": self.user(self.state.owner),
                "private": self.state.private,
                "html_url": f"{WEB}/{full}",
                "description": None,
                "fork": False,
                "url": api,
                "clone_url": f"{WEB}/{full}.git",
                "git_url": f"git://github.com/{full}.git",
                "ssh_url": f"git@github.com:{full}.git",
                "svn_url": f"{WEB}/{full}",
                "mirror_url": None,
                "homepage": None,
                "language": "Python",
                "forks": 0,
                "forks_count": 0,
                "stargazers_count": 0,
                "watchers": 0,
                "watchers_count": 0,
                "size": 100,
                "default_branch": "main",
                "open_issues": 0,
                "open_issues_count": 0,
                "has_issues": True,
                "has_projects": False,
                "has_wiki": False,
                "has_pages": False,
                "has_downloads": True,
                "archived": False,
                "disabled": False,
                "license": None,
                "pushed_at": "2026-01-02T03:04:05Z",
                "created_at": "2025-01-02T03:04:05Z",
                "updated_at": "2026-01-02T03:04:05Z",
            }
        )
        return payload

    def _pull_payload(
        self, number: int, author: str, head: str, head_sha: str, base: str, base_sha: str, title: str, body: str
    ) -> dict[str, Any]:
        repo = self.repo_url()
        full = f"{self.state.owner}/{self.state.name}"
        repo_obj = self._repo_payload()
        html = f"{WEB}/{full}/pull/{number}"
        owner = self.user(self.state.owner)
        return {
            "url": f"{repo}/pulls/{number}",
            "id": number * 7,
            "node_id": f"PR_{number}",
            "number": number,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": f"{repo}/issues/{number}",
            "comments_url": f"{repo}/issues/{number}/comments",
            "review_comments_url": f"{repo}/pulls/{number}/comments",
            "review_comment_url": f"{repo}/pulls/comments{{/number}}",
            "commits_url": f"{repo}/pulls/{number}/commits",
            "statuses_url": f"{repo}/statuses/{head_sha}",
            "state": "open",
            "locked": False,
            "title": title,
            "body": body,
            "user": self.user(author),
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "draft": False,
            "created_at": _now(),
            "updated_at": _now(),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "author_association": self.association(author),
            "auto_merge": None,
            "maintainer_can_modify": False,
            "head": {
                "label": f"{self.state.owner}:{head}",
                "ref": head,
                "sha": head_sha,
                "user": owner,
                "repo": repo_obj,
            },
            "base": {
                "label": f"{self.state.owner}:{base}",
                "ref": base,
                "sha": base_sha,
                "user": owner,
                "repo": repo_obj,
            },
            "_links": {
                k: {"href": v}
                for k, v in {
                    "self": f"{repo}/pulls/{number}",
                    "html": html,
                    "issue": f"{repo}/issues/{number}",
                    "comments": f"{repo}/issues/{number}/comments",
                    "review_comments": f"{repo}/pulls/{number}/comments",
                    "review_comment": f"{repo}/pulls/comments{{/number}}",
                    "commits": f"{repo}/pulls/{number}/commits",
                    "statuses": f"{repo}/statuses/{head_sha}",
                }.items()
            },
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": 1,
            "deletions": 1,
            "changed_files": 1,
        }

    def _comment(self, n: int, text: str, user: dict[str, Any], cid: int | None = None) -> dict[str, Any]:
        cid = cid or self.state.new_id()
        repo = self.repo_url()
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{repo}/issues/comments/{cid}",
            "html_url": f"{WEB}/{self.state.owner}/{self.state.name}/pull/{n}#issuecomment-{cid}",
            "issue_url": f"{repo}/issues/{n}",
            "body": text,
            "user": user,
            "created_at": _now(),
            "updated_at": _now(),
            "author_association": self.association(user["login"]) if user["type"] != "Bot" else "NONE",
            "performed_via_github_app": self._app() if user["type"] == "Bot" else None,
        }

    def public_user(self, login: str) -> dict[str, Any]:
        """``GET /user``'s answer (the public-user view)."""
        payload = self.user(login)
        payload.update(
            {
                "name": login.title(),
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "public_repos": 1,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-02T03:04:05Z",
                "updated_at": "2026-01-02T03:04:05Z",
            }
        )
        return payload


#: the fields of a pull request that GitHub's list endpoints leave out (pull-request-simple)
_FULL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


def _simple(pr: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pr.items() if k not in _FULL_ONLY}


class _Handler(BaseHTTPRequestHandler):
    state: State
    standin: StandIn
    protocol_version = "HTTP/1.1"
    fault: Fault | None = None
    query: dict[str, list[str]] = {}
    token: str = ""  # the token of the request being answered ("" when none is valid)
    rate: dict[str, str] = {}  # the x-ratelimit-* headers of the answer being sent

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _send(
        self, status: int, body: Any, headers: dict[str, str] | None = None, content_type: str = JSON_TYPE
    ) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = {
            "Date": formatdate(usegmt=True),
            "Content-Type": content_type,
            "Content-Length": str(len(data)),
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": f"0000:{len(self.state.answers)}",
            **self.rate,
        }
        for k, v in (headers or {}).items():
            head = {h: x for h, x in head.items() if h.lower() != k.lower()}
            head[k] = v
        self.state.answers.append(
            Answer(self.command, self.path.split("?", 1)[0], self.query, status, head["Content-Type"], data, head)
        )
        reason = http.HTTPStatus(status).phrase
        raw_head = (
            f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n"
        ).encode()
        fault = self.fault
        try:
            if fault is None or not fault.trickle:
                self.wfile.write(raw_head + data)
                return
            self._trickle(raw_head, fault.trickle if fault.trickle_headers else 0.0)
            self._trickle(data, fault.trickle)
        except OSError:  # the client gave up
            self.close_connection = True

    def _trickle(self, data: bytes, interval: float) -> None:
        if not interval:
            self.wfile.write(data)
            return
        for i in range(len(data)):
            if self.standin.stopping.wait(interval):
                raise OSError("the stand-in is stopping")
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()

    def _error(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        docs: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        body: dict[str, Any] = {"message": message, "documentation_url": docs}
        if errors:
            body["errors"] = errors
        if status in (401, 403, 404, 409, 410) and not errors:
            body["status"] = str(status)
        self._send(status, body, headers)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def _list(self, items: list[Any]) -> None:
        """A page of ``items`` (``per_page``, default 30, at most 100) with GitHub's ``Link`` header."""
        try:
            per_page = min(max(int(self.query.get("per_page", ["30"])[0]), 1), 100)
            page = max(int(self.query.get("page", ["1"])[0]), 1)
        except ValueError:
            return self._error(
                422, "Validation Failed", [{"resource": "Search", "field": "per_page", "code": "invalid"}]
            )
        last = max((len(items) + per_page - 1) // per_page, 1)
        path = self.path.split("?", 1)[0]
        params = {k: v[-1] for k, v in self.query.items() if k != "page"}

        def url(p: int) -> str:
            return f"{self.standin.url}{path}?{urlencode({**params, 'page': p})}"

        links = []
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
        self._send(200, items[(page - 1) * per_page : page * per_page], {"Link": ", ".join(links)} if links else None)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.times > 0 and re.search(fault.match, f"{method} {path}"):
                fault.times -= 1
                if fault.times == 0:
                    self.state.faults.remove(fault)
                return fault
        return None

    def _routes(self) -> list[tuple[str, str, str, Callable[..., None]]]:
        """(method, path pattern, GitHub's route template, handler) of every endpoint served."""
        prefix = f"/repos/{self.state.owner}/{self.state.name}"
        repo = "/repos/{owner}/{repo}"
        return [
            ("GET", r"^/user$", "/user", self.get_user),
            ("POST", rf"^{prefix}/pulls$", f"{repo}/pulls", self.create_pull),
            ("GET", rf"^{prefix}/pulls$", f"{repo}/pulls", self.list_pulls),
            ("GET", rf"^{prefix}/pulls/(\d+)$", f"{repo}/pulls/{{pull_number}}", self.get_pull),
            ("GET", rf"^{prefix}/pulls/(\d+)/reviews$", f"{repo}/pulls/{{pull_number}}/reviews", self.list_reviews),
            ("GET", rf"^{prefix}/pulls/(\d+)/commits$", f"{repo}/pulls/{{pull_number}}/commits", self.list_commits),
            ("POST", rf"^{prefix}/issues/(\d+)/labels$", f"{repo}/issues/{{issue_number}}/labels", self.add_labels),
            (
                "GET",
                rf"^{prefix}/issues/(\d+)/comments$",
                f"{repo}/issues/{{issue_number}}/comments",
                self.list_comments,
            ),
            (
                "POST",
                rf"^{prefix}/issues/(\d+)/comments$",
                f"{repo}/issues/{{issue_number}}/comments",
                self.create_comment,
            ),
            (
                "PATCH",
                rf"^{prefix}/issues/comments/(\d+)$",
                f"{repo}/issues/comments/{{comment_id}}",
                self.edit_comment,
            ),
            (
                "DELETE",
                rf"^{prefix}/issues/comments/(\d+)$",
                f"{repo}/issues/comments/{{comment_id}}",
                self.delete_comment,
            ),
            (
                "GET",
                rf"^{prefix}/collaborators/([^/]+)/permission$",
                f"{repo}/collaborators/{{username}}/permission",
                self.collaborator_permission,
            ),
            ("GET", r"^/orgs/([^/]+)/teams/([^/]+)$", "/orgs/{org}/teams/{team_slug}", self.get_team),
            (
                "GET",
                rf"^{prefix}/commits/([0-9a-f]{{7,40}})/pulls$",
                f"{repo}/commits/{{commit_sha}}/pulls",
                self.commit_pulls,
            ),
            (
                "GET",
                r"^/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)$",
                "/orgs/{org}/teams/{team_slug}/memberships/{username}",
                self.team_membership,
            ),
            # --- mlgate doctor: branch protection and rulesets (handlers at the end of this class) ---
            (
                "GET",
                rf"^{prefix}/branches/([^/]+)/protection$",
                f"{repo}/branches/{{branch}}/protection",
                self.branch_protection,
            ),
            ("GET", rf"^{prefix}/rules/branches/([^/]+)$", f"{repo}/rules/branches/{{branch}}", self.branch_rules),
            ("GET", rf"^{prefix}/rulesets$", f"{repo}/rulesets", self.list_rulesets),
            ("GET", rf"^{prefix}/rulesets/(\d+)$", f"{repo}/rulesets/{{ruleset_id}}", self.get_ruleset),
        ]

    def _rate_headers(self, quota: Quota, resource: str = "core") -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(quota.limit),
            "x-ratelimit-remaining": str(max(quota.limit - quota.used, 0)),
            "x-ratelimit-used": str(min(quota.used, quota.limit)),
            "x-ratelimit-reset": str(quota.reset),
            "x-ratelimit-resource": resource,
        }

    def _secondary(self, method: str) -> int | None:
        """Seconds to wait when this request goes past a secondary limit of its token, else None (and it counts)."""
        limits, now = self.state.secondary, self.state.clock()
        recent = [r for r in self.state.recent.get(self.token, []) if now - r[0] < 60]
        points = POINTS.get(method, WRITE_POINTS)
        create = method not in POINTS
        creates = [r for r in recent if r[2]]
        wait = None
        if limits.points_per_minute is not None and sum(r[1] for r in recent) + points > limits.points_per_minute:
            wait = 60 - (now - recent[0][0]) if recent else 60
        elif create and limits.creates_per_minute is not None and len(creates) + 1 > limits.creates_per_minute:
            wait = 60 - (now - creates[0][0]) if creates else 60
        elif limits.concurrent is not None and self.state.in_flight.get(self.token, 0) >= limits.concurrent:
            wait = 60
        if wait is not None:
            self.state.recent[self.token] = recent
            return limits.retry_after if limits.retry_after is not None else max(int(wait + 0.999), 1)
        self.state.recent[self.token] = [*recent, (now, points, create)]
        return None

    def _admit(self, method: str, template: str, valid: bool) -> tuple[int, Any, dict[str, str] | None] | None:
        """Count the request and spend its token's quotas; the refusal to send (status, body, headers), if any."""
        with self.state.lock:
            self.state.calls[(self.token, f"{method} {template}")] += 1
            if not valid:  # GitHub keeps an unauthenticated quota per address: 60 an hour
                self.rate = self._rate_headers(Quota(60, 1, int(self.state.clock()) + 3600))
                return 401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, None
            if self.state.rate_limited:
                self.rate = self._rate_headers(Quota(5000, 5000, 1893456000))
                message = (
                    "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please "
                    "include the request ID 0000:1111."
                )
                return 403, {"message": message, "documentation_url": DOCS}, None
            quota = self.state.quota(self.token)
            if quota.used >= quota.limit:
                self.rate = self._rate_headers(quota)
                who = "installation ID 1" if self.state.kind_of(self.token) == "app" else "user ID 1"
                message = (
                    f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include "
                    "the request ID 0000:1111."
                )
                return (
                    self.state.primary_status,
                    {"message": message, "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api"},
                    None,
                )
            wait = self._secondary(method)
            quota.used += 1
            self.rate = self._rate_headers(quota)
            if wait is not None:
                docs = f"{DOCS}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
                return (
                    self.state.secondary.status,
                    {"message": SECONDARY, "documentation_url": docs},
                    {"retry-after": str(wait)},
                )
            self.state.in_flight[self.token] = self.state.in_flight.get(self.token, 0) + 1
            self.state.most_in_flight = max(self.state.most_in_flight, self.state.in_flight[self.token])
            return None

    def _dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        self.query = parse_qs(query)
        self.fault = None
        self.state.requests.append((method, path))
        body = self._body() if method in ("POST", "PATCH", "PUT") else None
        routes = self._routes()
        self.state.routes = [(m, pattern) for m, pattern, _, _ in routes]
        found = next(
            (
                (t, fn, m.groups())
                for verb, pattern, t, fn in routes
                if verb == method and (m := re.match(pattern, path))
            ),
            None,
        )
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        valid = scheme in ("token", "Bearer") and (token == self.state.token or token in self.state.tokens)
        self.token = token if valid else ""
        refusal = self._admit(method, found[0] if found else UNKNOWN_ROUTE, valid)
        if refusal is not None:  # answered outside the lock: a slow client holds up no other request
            return self._send(*refusal)
        try:
            self._answer(method, path, body, found)
        finally:
            with self.state.lock:
                self.state.in_flight[self.token] -= 1

    def _answer(
        self, method: str, path: str, body: Any, found: tuple[str, Callable[..., None], tuple[str, ...]] | None
    ) -> None:
        if self.state.fail_next is not None:
            status, self.state.fail_next = self.state.fail_next, None
            return self._error(status, "Server Error" if status >= 500 else "Forbidden")
        self.fault = self._take_fault(method, path)
        if self.fault is not None and self.fault.status is not None:
            return self._send(self.fault.status, self.fault.body, self.fault.headers, self.fault.content_type)
        if path.startswith("/orgs/") and "/teams/" in path and self.state.org_read != "granted":
            if self.state.org_read == "integration":
                return self._error(403, NOT_INTEGRATION, docs=f"{DOCS}/teams/members")
            return self._error(404, "Not Found", docs=f"{DOCS}/teams/members")
        if found is None:
            return self._error(404, "Not Found")
        _, fn, groups = found
        return fn(*groups, body=body)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # --- endpoints ---------------------------------------------------------------------

    def _pull(self, n: str) -> dict[str, Any] | None:
        pr = self.state.pulls.get(int(n))
        if pr is None:
            self._error(404, "Not Found")
        return pr

    def get_user(self, body: Any) -> None:
        if self.state.kind_of(self.token) == "app":  # an installation token is no user
            return self._error(403, NOT_INTEGRATION, docs=f"{DOCS}/users/users#get-the-authenticated-user")
        self._send(200, self.standin.public_user(self.state.token_user))

    def create_pull(self, body: Any) -> None:
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            return self._error(
                422, "Validation Failed", [{"resource": "PullRequest", "field": missing[0], "code": "missing_field"}]
            )
        if self.state.branch_lookup is not None:
            for ref in (body["head"], body["base"]):
                sha = self.state.branch_lookup(ref)
                if sha:
                    self.state.branches[ref] = sha
        if body["head"] not in self.state.branches:
            return self._error(
                422, "Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
            )
        for pr in self.state.pulls.values():
            if pr["head"]["ref"] == body["head"] and pr["state"] == "open":
                return self._error(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {self.state.owner}:{body['head']}.",
                        }
                    ],
                )
        number = max(self.state.pulls, default=0) + 1
        author = self.state.token_login(self.token)
        pr = self.standin.add_pull(
            number,
            author,
            self.state.branches[body["head"]],
            body["base"],
            body["head"],
            self.state.branches.get(body["base"], "b" * 40),
            body["title"],
            body.get("body") or "",
        )
        self._send(201, pr)

    def list_pulls(self, body: Any) -> None:
        state = self.query.get("state", ["open"])[-1]
        if state not in ("open", "closed", "all"):
            return self._error(422, "Validation Failed", [{"resource": "Issue", "field": "state", "code": "invalid"}])
        base = self.query.get("base", [None])[-1]
        sort = self.query.get("sort", ["created"])[-1]
        direction = self.query.get("direction", ["desc" if sort == "created" else "asc"])[-1]
        pulls = [
            p
            for p in self.state.pulls.values()
            if (state == "all" or p["state"] == state) and (base is None or p["base"]["ref"] == base)
        ]
        key = "updated_at" if sort == "updated" else "created_at"
        pulls.sort(key=lambda p: (p[key], p["number"]), reverse=direction == "desc")
        self._list([_simple(p) for p in pulls])

    def get_pull(self, n: str, body: Any) -> None:
        pr = self._pull(n)
        if pr is not None:
            self._send(200, pr)

    def list_reviews(self, n: str, body: Any) -> None:
        if self._pull(n) is not None:  # a pending review is seen by its author only
            me = self.state.token_login(self.token).lower()
            self._list(
                [
                    r
                    for r in self.state.reviews[int(n)]
                    if r["state"] != "PENDING" or (r["user"] or {}).get("login", "").lower() == me
                ]
            )

    def list_commits(self, n: str, body: Any) -> None:
        if self._pull(n) is not None:  # GitHub lists at most 250 commits of a pull request
            self._list(self.state.pull_commits[int(n)][:250])

    def add_labels(self, n: str, body: Any) -> None:
        pr = self._pull(n)
        if pr is None:
            return
        names = body.get("labels", body) if isinstance(body, dict) else body
        for name in names:
            if name not in [label["name"] for label in pr["labels"]]:
                pr["labels"].append(self.standin._label(name))
        self._send(200, pr["labels"])

    def list_comments(self, n: str, body: Any) -> None:
        if self._pull(n) is not None:
            url = f"{self.standin.repo_url()}/issues/{int(n)}"
            self._list([c for c in self.state.comments.values() if c["issue_url"] == url])

    def _too_long(self, text: Any, docs: str) -> bool:
        if isinstance(text, str) and len(text) > COMMENT_LIMIT:
            self._error(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "IssueComment",
                        "code": "unprocessable",
                        "field": "data",
                        "message": f"Body is too long (maximum is {COMMENT_LIMIT} characters)",
                    }
                ],
                docs=docs,
            )
            return True
        if not isinstance(text, str) or not text:
            self._error(
                422,
                "Validation Failed",
                [{"resource": "IssueComment", "code": "missing_field", "field": "body"}],
                docs=docs,
            )
            return True
        return False

    def create_comment(self, n: str, body: Any) -> None:
        if self._pull(n) is None or self._too_long(body.get("body"), f"{DOCS}/issues/comments#create-an-issue-comment"):
            return
        comment = self.standin._comment(int(n), body["body"], self.standin.user(self.state.token_login(self.token)))
        self.state.comments[comment["id"]] = comment
        self._send(201, comment)

    def edit_comment(self, cid: str, body: Any) -> None:
        comment = self.state.comments.get(int(cid))
        if comment is None:
            return self._error(404, "Not Found")
        if self._too_long(body.get("body"), f"{DOCS}/issues/comments#update-an-issue-comment"):
            return
        comment.update(body=body["body"], updated_at=_now())
        self._send(200, comment)

    def delete_comment(self, cid: str, body: Any) -> None:
        if self.state.comments.pop(int(cid), None) is None:
            return self._error(404, "Not Found")
        self.state.answers.append(
            Answer("DELETE", self.path.split("?", 1)[0], self.query, 204, "", b"", dict(self.rate))
        )
        head = "".join(f"{k}: {v}\r\n" for k, v in self.rate.items())
        self.wfile.write(f"HTTP/1.1 204 No Content\r\nDate: {formatdate(usegmt=True)}\r\n{head}\r\n".encode())

    def collaborator_permission(self, login: str, body: Any) -> None:
        low = login.lower()
        if low in {u.lower() for u in self.state.missing_users}:
            return self._error(
                404, "Not Found", docs=f"{DOCS}/collaborators/collaborators#get-repository-permissions-for-a-user"
            )
        role = self.state.permissions.get(low)
        if role is None:  # not a collaborator: the organisation's base role for its members, else none (read if public)
            role = (
                self.state.base_permission
                if self.standin.association(login) == "MEMBER"
                else ("none" if self.state.private else "read")
            )
        legacy = LEGACY[role]
        user = self.standin.user(login)
        user.update(
            role_name=role,
            permissions={
                "admin": legacy == "admin",
                "maintain": role in ("admin", "maintain"),
                "push": legacy in ("admin", "write"),
                "triage": role != "read" and legacy != "none",
                "pull": legacy != "none",
            },
        )
        self._send(200, {"permission": legacy, "role_name": role, "user": user})

    def get_team(self, org: str, slug: str, body: Any) -> None:
        members = self.state.teams.get(f"{org}/{slug}")
        if members is None:
            return self._error(404, "Not Found", docs=f"{DOCS}/teams/teams#get-a-team-by-name")
        api = self.standin.url
        tid = _id(f"{org}/{slug}")
        organization = self.standin.user(org)
        organization = {k: organization[k] for k in ("login", "id", "node_id", "url", "avatar_url", "type")}
        organization.update(
            {
                "repos_url": f"{api}/orgs/{org}/repos",
                "events_url": f"{api}/orgs/{org}/events",
                "hooks_url": f"{api}/orgs/{org}/hooks",
                "issues_url": f"{api}/orgs/{org}/issues",
                "members_url": f"{api}/orgs/{org}/members{{/member}}",
                "public_members_url": f"{api}/orgs/{org}/public_members{{/member}}",
                "description": None,
                "html_url": f"{WEB}/{org}",
                "has_organization_projects": True,
                "has_repository_projects": True,
                "public_repos": 1,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-02T03:04:05Z",
                "updated_at": "2026-01-02T03:04:05Z",
                "archived_at": None,
            }
        )
        self._send(
            200,
            {
                "id": tid,
                "node_id": f"T_{tid}",
                "url": f"{api}/orgs/{org}/teams/{slug}",
                "html_url": f"{WEB}/orgs/{org}/teams/{slug}",
                "name": slug.replace("-", " ").title(),
                "slug": slug,
                "description": None,
                "privacy": "closed",
                "notification_setting": "notifications_enabled",
                "permission": "pull",
                "members_url": f"{api}/teams/{tid}/members{{/member}}",
                "repositories_url": f"{api}/teams/{tid}/repos",
                "parent": None,
                "members_count": len(members),
                "repos_count": 1,
                "created_at": "2020-01-02T03:04:05Z",
                "updated_at": "2026-01-02T03:04:05Z",
                "organization": organization,
                "type": "organization",
                "organization_id": _id(org),
            },
        )

    def commit_pulls(self, sha: str, body: Any) -> None:
        """The pull requests a commit belongs to: the one merged as it (merge, squash, each commit of a rebase), and
        the merged or open ones that contain it."""
        found = []
        for number, pr in self.state.pulls.items():
            merged = pr["merged_at"] is not None
            if pr["state"] == "closed" and not merged:
                continue
            shas = {c["sha"] for c in self.state.pull_commits.get(number, [])} | set(self.state.rebased.get(number, []))
            if (merged and pr["merge_commit_sha"] == sha) or sha in shas:
                found.append(_simple(pr))
        self._list(found)

    def team_membership(self, org: str, slug: str, user: str, body: Any) -> None:
        if user.lower() in {u.lower() for u in self.state.teams.get(f"{org}/{slug}", set())}:
            return self._send(
                200,
                {
                    "url": f"{self.standin.url}/orgs/{org}/teams/{slug}/memberships/{user}",
                    "role": "member",
                    "state": "active",
                },
            )
        self._error(404, "Not Found")

    # --- mlgate doctor: branch protection and rulesets ---------------------------------------------------------
    # The world lives in ``state.settings`` (a :class:`BranchSettings`, set by the test); None: nothing is protected.

    def _settings(self) -> BranchSettings:
        return self.state.settings or BranchSettings()

    def _query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.path.partition("?")[2]))

    def branch_protection(self, branch: str, body: Any) -> None:
        """GitHub shows classic protection to admins only: others get 403 (an integration token) or 404."""
        from urllib.parse import unquote

        s = self._settings()
        if not s.admin:
            if s.hidden_status == 403:
                return self._error(403, "Resource not accessible by integration")
            return self._error(404, "Not Found")
        if s.branches is not None and unquote(branch) not in s.branches:
            return self._error(404, "Branch not found")
        payload = s.protection.get(unquote(branch))
        if payload is None:
            return self._error(404, "Branch not protected")
        self._send(200, payload)

    def _visible(self, ruleset: dict[str, Any], parents: bool) -> bool:
        return parents or ruleset["source_type"] == "Repository"

    def branch_rules(self, branch: str, body: Any) -> None:
        """Every rule of every active ruleset whose ref_name condition takes the branch, with its ruleset's identity."""
        from urllib.parse import unquote

        ref = f"refs/heads/{unquote(branch)}"
        out = []
        for rs in self._settings().rulesets:
            if rs["enforcement"] != "active" or not _applies(rs, ref):
                continue
            for rule in rs["rules"]:
                out.append(
                    {
                        **rule,
                        "ruleset_source_type": rs["source_type"],
                        "ruleset_source": rs["source"],
                        "ruleset_id": rs["id"],
                    }
                )
        self._send(200, out)

    def list_rulesets(self, body: Any) -> None:
        parents = self._query().get("includes_parents", "true") == "true"
        keys = (
            "id",
            "name",
            "target",
            "source_type",
            "source",
            "enforcement",
            "node_id",
            "_links",
            "created_at",
            "updated_at",
        )
        self._send(200, [{k: rs[k] for k in keys} for rs in self._settings().rulesets if self._visible(rs, parents)])

    def get_ruleset(self, rid: str, body: Any) -> None:
        s = self._settings()
        parents = self._query().get("includes_parents", "true") == "true"
        for rs in s.rulesets:
            if rs["id"] == int(rid) and self._visible(rs, parents):
                shown = dict(rs)
                if not s.can_see_bypass:  # bypass actors are shown to those who may edit the ruleset
                    shown.pop("bypass_actors", None)
                return self._send(200, shown)
        self._error(404, "Not Found")


# --- mlgate doctor: the payloads of branch protection and rulesets, shaped as GitHub documents them ------------------


@dataclass
class BranchSettings:
    """What GitHub enforces on branches: classic protection per branch, rulesets, and what the token may see."""

    protection: dict[str, dict[str, Any]] = field(default_factory=dict)  # branch -> protection_payload(...)
    rulesets: list[dict[str, Any]] = field(default_factory=list)  # ruleset_payload(...)
    admin: bool = True  # may the token read classic protection?
    hidden_status: int = 404  # what GitHub answers a non-admin: 404, or 403 for an integration token
    can_see_bypass: bool = True  # are rulesets' bypass_actors shown to the token?
    branches: tuple[str, ...] | None = None  # the branches that exist (None: any name)


def _applies(ruleset: dict[str, Any], ref: str) -> bool:
    from fnmatch import fnmatchcase

    cond = (ruleset.get("conditions") or {}).get("ref_name") or {}

    def hit(patterns: list[str]) -> bool:
        return any(
            p == "~ALL" or (p == "~DEFAULT_BRANCH" and ref == "refs/heads/main") or fnmatchcase(ref, p)
            for p in patterns
        )

    return hit(cond.get("include") or []) and not hit(cond.get("exclude") or [])


def simple_user(api_root: str, login: str, *, owner: str | None = None) -> dict[str, Any]:
    """GitHub's simple-user object for ``login`` on the API at ``api_root`` (``owner``: the organisation's login)."""
    api = f"{api_root}/users/{quote(login)}"
    bot = login.endswith("[bot]")
    return {
        "login": login,
        "id": _id(login),
        "node_id": f"U_{_id(login)}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{_id(login)}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{WEB}/apps/{login[:-5]}" if bot else f"{WEB}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Bot" if bot else "Organization" if login == owner else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def protection_payload(
    repo_url: str,
    branch: str = "main",
    *,
    pull_request: bool = True,
    approvals: int = 1,
    code_owners: bool = True,
    dismiss_stale: bool = True,
    last_push: bool = True,
    checks: tuple[str, ...] = ("validate",),
    strict: bool = True,
    enforce_admins: bool = True,
    force_pushes: bool = False,
    bypass_users: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``GET /repos/{o}/{r}/branches/{branch}/protection`` (GitHub omits the sections that are off)."""
    url = f"{repo_url}/branches/{branch}/protection"
    data: dict[str, Any] = {"url": url}
    if checks:
        data["required_status_checks"] = {
            "url": f"{url}/required_status_checks",
            "strict": strict,
            "contexts": list(checks),
            "contexts_url": f"{url}/required_status_checks/contexts",
            "checks": [{"context": c, "app_id": 15368} for c in checks],
        }
    if pull_request:
        reviews: dict[str, Any] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": dismiss_stale,
            "require_code_owner_reviews": code_owners,
            "required_approving_review_count": approvals,
            "require_last_push_approval": last_push,
        }
        if bypass_users:
            reviews["bypass_pull_request_allowances"] = {
                "users": [simple_user(repo_url.split("/repos/", 1)[0], u) for u in bypass_users],
                "teams": [],
                "apps": [],
            }
        data["required_pull_request_reviews"] = reviews
    data.update(
        {
            "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
            "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": enforce_admins},
            "required_linear_history": {"enabled": False},
            "allow_force_pushes": {"enabled": force_pushes},
            "allow_deletions": {"enabled": False},
            "block_creations": {"enabled": False},
            "required_conversation_resolution": {"enabled": False},
            "lock_branch": {"enabled": False},
            "allow_fork_syncing": {"enabled": False},
        }
    )
    return data


def pull_request_rule(
    approvals: int = 1, *, code_owners: bool = True, dismiss_stale: bool = True, last_push: bool = True
) -> dict[str, Any]:
    return {
        "type": "pull_request",
        "parameters": {
            "required_approving_review_count": approvals,
            "dismiss_stale_reviews_on_push": dismiss_stale,
            "require_code_owner_review": code_owners,
            "require_last_push_approval": last_push,
            "required_review_thread_resolution": False,
            "allowed_merge_methods": ["merge", "squash"],
        },
    }


def status_checks_rule(*checks: str, strict: bool = True) -> dict[str, Any]:
    return {
        "type": "required_status_checks",
        "parameters": {
            "strict_required_status_checks_policy": strict,
            "do_not_enforce_on_create": False,
            "required_status_checks": [{"context": c, "integration_id": 15368} for c in checks],
        },
    }


def merge_queue_rule() -> dict[str, Any]:
    return {
        "type": "merge_queue",
        "parameters": {
            "check_response_timeout_minutes": 60,
            "grouping_strategy": "ALLGREEN",
            "max_entries_to_build": 5,
            "max_entries_to_merge": 5,
            "merge_method": "MERGE",
            "min_entries_to_merge": 1,
            "min_entries_to_merge_wait_minutes": 5,
        },
    }


def workflows_rule(
    path: str = ".github/workflows/validate.yml",
    repository_id: int = 1,
    ref: str | None = "refs/heads/main",
    sha: str | None = None,
) -> dict[str, Any]:
    workflow: dict[str, Any] = {"path": path, "repository_id": repository_id}
    if ref:
        workflow["ref"] = ref
    if sha:
        workflow["sha"] = sha
    return {"type": "workflows", "parameters": {"do_not_enforce_on_create": False, "workflows": [workflow]}}


NON_FAST_FORWARD = {"type": "non_fast_forward"}


def ruleset_payload(
    standin: StandIn,
    rid: int,
    name: str,
    rules: list[dict[str, Any]],
    *,
    organization: bool = False,
    enforcement: str = "active",
    include: tuple[str, ...] = ("~DEFAULT_BRANCH",),
    bypass: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """``GET /repos/{o}/{r}/rulesets/{id}``: a repository's or its organization's branch ruleset."""
    owner, repo = standin.state.owner, standin.state.name
    conditions: dict[str, Any] = {"ref_name": {"include": list(include), "exclude": []}}
    if organization:
        conditions["repository_name"] = {"include": [repo], "exclude": [], "protected": True}
    html = (
        f"https://github.com/organizations/{owner}/settings/rules/{rid}"
        if organization
        else f"https://github.com/{owner}/{repo}/rules/{rid}"
    )
    return {
        "id": rid,
        "name": name,
        "target": "branch",
        "source_type": "Organization" if organization else "Repository",
        "source": owner if organization else f"{owner}/{repo}",
        "enforcement": enforcement,
        "bypass_actors": [dict(b) for b in bypass],
        "current_user_can_bypass": "never",
        "node_id": f"RRS_{rid}",
        "_links": {"self": {"href": f"{standin.repo_url()}/rulesets/{rid}"}, "html": {"href": html}},
        "conditions": conditions,
        "rules": rules,
        "created_at": "2026-01-05T10:00:00Z",
        "updated_at": "2026-01-05T10:00:00Z",
    }
