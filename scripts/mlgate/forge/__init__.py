"""Forges: where pull requests, reviews and comments live.

:class:`Forge` is the small interface every forge implements; two ship with
mlgate: ``local`` (pull requests are branches of a local repository, reviews
recorded beside them in the git directory) and ``github`` (PyGithub, for
github.com and GitHub Enterprise). The gate engine sees a forge only through
:class:`ForgeReviews`, a :class:`~mlgate.reviews.ReviewSource`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from mlgate.core.signoff import PullRequest, is_login
from mlgate.errors import ForgeError as ForgeError  # re-exported: every error is defined in mlgate.errors
from mlgate.errors import PullRequestExists as PullRequestExists  # re-exported
from mlgate.errors import UsageError

COMMENT_MARKER = "<!-- mlgate-report -->"
FORGES = ("local", "github")
#: what ``pip install 'mlgate[github]'`` adds: the github forge's imports
GITHUB_EXTRA_MODULES = ("github", "requests", "urllib3")


class Forge(Protocol):
    """What mlgate needs from a code-review host."""

    name: str

    def open_pull_request(
        self, *, title: str, body: str, head: str, base: str, labels: Sequence[str], author: str
    ) -> PullRequest:
        """Open a pull request from branch ``head`` into ``base``."""

    def pull_request(self, number: int) -> PullRequest:
        """A pull request with its author, head commit, state, requester, pushers and every submitted review."""

    def rejected_pull_requests(self, base: str) -> list[PullRequest]:
        """Pull requests into ``base`` labelled ``mlgate`` that were closed without being merged, with their reviews."""

    def is_member(self, user: str, team: str) -> bool | None:
        """Whether ``user`` is a member of ``team`` (``@org/team``); None when the forge will not say."""

    def permission(self, user: str) -> str | None:
        """``user``'s permission on the repository (admin, maintain, write, triage, read, none); None when the
        forge will not say."""

    def upsert_comment(self, number: int, body: str, marker: str = COMMENT_MARKER, short: str | None = None) -> None:
        """Post ``body`` on the pull request, or update the comment that carries ``marker`` and that this forge's
        user wrote; ``short`` replaces ``body`` where the forge limits a comment's size."""

    def pull_requests_for_commit(self, sha: str) -> list[int]:
        """Numbers of the pull requests that were merged as commit ``sha`` (merge, squash or last rebased commit)."""


class HasAccount(Protocol):
    """A forge whose credentials belong to an account it can name (the github forge: the token's user)."""

    def account(self) -> tuple[str, bool]:
        """The login the forge's credentials act as, and whether it is a bot (an app's installation token)."""


def forge_account(forge: object) -> tuple[str, bool] | None:
    """``forge.account()`` when the forge has an account of its own (github), else None (local: no account)."""
    account = getattr(forge, "account", None)
    if not callable(account):
        return None
    login, bot = account()
    return str(login), bool(bot)


class ForgeReviews:
    """A :class:`~mlgate.reviews.ReviewSource` for one pull request of a forge (fetched once).

    Permissions and team memberships are asked once per user per run: the answers are kept for the life of
    this object, including "cannot say" (None).
    """

    def __init__(self, forge: Forge, number: int, head_sha: str | None = None, pull: PullRequest | None = None) -> None:
        """``head_sha``: the commit being judged, when it is not the pull request's current head (a check run
        for an earlier push): approvals count only on the commit whose files are judged. ``pull``: the pull
        request as this run already read it from the forge (not asked again: each read costs API calls)."""
        self.forge = forge
        self.number = number
        self.head_sha = head_sha
        self._pr: PullRequest | None = None
        if pull is not None:
            self._pr = self._judged(pull)
        self._members: dict[tuple[str, str], bool | None] = {}
        self._permissions: dict[str, str | None] = {}

    def _judged(self, pr: PullRequest) -> PullRequest:
        if self.head_sha and pr.head_sha != self.head_sha:
            from dataclasses import replace

            return replace(pr, head_sha=self.head_sha)
        return pr

    def pull_request(self) -> PullRequest:
        if self._pr is None:
            self._pr = self._judged(self.forge.pull_request(self.number))
        return self._pr

    def is_member(self, user: str, team: str) -> bool | None:
        key = (user.lower(), team.lower())
        if key not in self._members:
            self._members[key] = self.forge.is_member(user, team)
        return self._members[key]

    def permission(self, user: str) -> str | None:
        key = user.lower()
        if key not in self._permissions:
            self._permissions[key] = self.forge.permission(user)
        return self._permissions[key]


@dataclass(frozen=True)
class ActionsContext:
    """The pull request a GitHub Actions run is about, from its event payload."""

    number: int | None
    base_sha: str
    head_sha: str
    #: the pull request comes from a fork: its workflow gets no repository secret (no ``MLGATE_TOKEN``)
    fork: bool = False
    #: the head is the pull request's own commit (pull_request, pull_request_review), not a merge queue's merge
    pr_head: bool = True


_QUEUE_REF = re.compile(r"/pr-([0-9]+)-[0-9a-f]+$")


def actions_context(environ: Mapping[str, str] | None = None) -> ActionsContext:
    """Read ``$GITHUB_EVENT_PATH`` for pull_request, pull_request_review and merge_group events."""
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError("not running in GitHub Actions (no GITHUB_EVENT_PATH): pass --pr, --base and --head")
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read the GitHub event payload {path}: {e}") from None
    if "pull_request" in event:
        pr = event["pull_request"]
        head_repo = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
        base_repo = ((pr.get("base") or {}).get("repo") or {}).get("full_name")
        fork = bool(head_repo and base_repo and head_repo.lower() != base_repo.lower())
        return ActionsContext(pr["number"], pr["base"]["sha"], pr["head"]["sha"], fork)
    if "merge_group" in event:
        mg = event["merge_group"]
        m = _QUEUE_REF.search(mg.get("head_ref", ""))
        return ActionsContext(int(m.group(1)) if m else None, mg["base_sha"], mg["head_sha"], pr_head=False)
    raise UsageError(f"event {env.get('GITHUB_EVENT_NAME', '?')!r} carries no pull request or merge group")


def _run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this process is part of (its job summary holds the full report), if any."""
    server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not (server and repo and run and run.isdigit()):
        return None
    attempt = env.get("GITHUB_RUN_ATTEMPT") or ""
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run}" + (f"/attempts/{attempt}" if attempt.isdigit() else "")


def open_forge(
    kind: str,
    repo_path: str | os.PathLike[str] = ".",
    *,
    github_url: str | None = None,
    github_repo: str | None = None,
    token: str | None = None,
) -> Forge:
    """The forge named ``kind`` for the repository at ``repo_path``."""
    if kind == "local":
        from mlgate.forge.local import LocalForge

        return LocalForge(repo_path)
    if kind == "github":
        try:
            from mlgate.forge.github import ACTIONS_BOT, GitHubForge
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] not in GITHUB_EXTRA_MODULES:
                raise
            raise UsageError(
                f"the github forge needs PyGithub, which is not installed (no module {e.name!r}): "
                "pip install 'mlgate[github]'"
            ) from None

        token = token or os.environ.get("GITHUB_TOKEN")
        github_repo = github_repo or os.environ.get("GITHUB_REPOSITORY")
        if not token:
            raise UsageError("the github forge needs a token: set GITHUB_TOKEN")
        if not github_repo:
            raise UsageError("the github forge needs the repository: --github-repo OWNER/NAME (or GITHUB_REPOSITORY)")
        url = github_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com"
        # an installation token cannot ask who it is: the bot its app writes comments as (GITHUB_TOKEN's by default)
        app_login = os.environ.get("MLGATE_GITHUB_APP_LOGIN") or ACTIONS_BOT
        if not (app_login.endswith("[bot]") and is_login(app_login)):
            raise UsageError(f"MLGATE_GITHUB_APP_LOGIN={app_login!r} is not an app's bot login (like {ACTIONS_BOT})")
        return GitHubForge(github_repo, token, url, app_login=app_login, run_url=_run_url(env=os.environ))
    raise UsageError(f"unknown forge {kind!r}; forges: {', '.join(FORGES)}")
