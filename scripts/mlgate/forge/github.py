"""The GitHub forge (github.com or GitHub Enterprise), through PyGithub. The only PyGithub importer.

mlgate asks GitHub's REST API through PyGithub's requester (authentication, base URL, error statuses) and reads
the documented JSON itself, so that no lazily completed object makes a request nobody planned. The HTTP under
it is :mod:`mlgate.forge.transport`'s: a deadline per request, bounded retries, JSON or a clear error.
"""

from __future__ import annotations

import http
import re
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import quote

import github
import requests
from github import Auth, GithubException
from github.Requester import HTTPRequestsConnectionClass, HTTPSRequestsConnectionClass

from mlgate.core.signoff import PullRequest, Review, requester_of, requesters_of
from mlgate.core.times import format_time, parse_iso
from mlgate.forge import COMMENT_MARKER, ForgeError
from mlgate.forge.transport import Backoff, DeadlineExceeded, GitHubAdapter, UnexpectedAnswer, rate_limit, retry_after

#: GitHub refuses an issue comment longer than this (422 "Body is too long (maximum is 65536 characters)")
COMMENT_LIMIT = 65536
#: the bot user that the comments of a workflow's GITHUB_TOKEN are written by
ACTIONS_BOT = "github-actions[bot]"
#: GitHub's own committer of commits made in its web interface or by its merges: not a person who pushed
WEB_FLOW = "web-flow"
#: repository roles that the collaborator permission endpoint names (``role_name``); custom roles fall back
#: to their base ``permission``
ROLES = ("admin", "maintain", "write", "triage", "read")
#: GitHub lists at most this many commits of a pull request
PR_COMMITS_LISTED = 250

_HELP_5XX = "GitHub or a proxy in front of it is failing: try again later (https://www.githubstatus.com)"


# --- errors -> one clear line ------------------------------------------------------------------------


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _tried(headers: dict[str, Any]) -> str:
    attempts = int(headers.get("x-mlgate-attempts") or 1)
    waited = float(headers.get("x-mlgate-waited") or 0)
    return f" (after {attempts} attempts over {waited:g} s of waiting)" if attempts > 1 else ""


def _utc_epoch(epoch: int) -> str:
    try:
        return format_time(datetime.fromtimestamp(epoch, timezone.utc))
    except (ValueError, OverflowError, OSError):  # a reset time no calendar holds: say what GitHub sent
        return f"epoch {epoch}"


def _describe(e: GithubException, what: str, now: float) -> str:
    status = e.status
    headers = {k.lower(): v for k, v in (e.headers or {}).items()}
    data = e.data if isinstance(e.data, dict) else {}
    message = got if isinstance(got := data.get("message"), str) else ""
    gave_up = f"; {headers['x-mlgate-gave-up']}" if headers.get("x-mlgate-gave-up") else ""
    tried = _tried(headers)
    head = f"{status} {_phrase(status)}".strip()
    if status == 401:
        return (
            f"GitHub rejected the token ({head}) while trying to {what}: check GITHUB_TOKEN "
            "(expired, revoked, or for another GitHub host)"
        )
    limit = rate_limit(status, headers, message)
    # a request refused without being sent: an earlier one of this run met the limit, which is still closed
    unsent = " (not sent: the limit an earlier request met is still closed)" if headers.get("x-mlgate-not-sent") else ""
    if limit == "secondary":
        after = retry_after(headers, now)
        wait = (
            f"GitHub asked to wait {after:.0f} s (until {_utc_epoch(int(now + after + 0.999))})"
            if after is not None
            else "GitHub named no wait (it advises at least a minute)"
        )
        return (
            f"GitHub's secondary rate limit ({head}) stopped mlgate while trying to {what}{tried}{unsent}: "
            f"{wait}{gave_up}; too many requests at once from this token: run fewer mlgate jobs at a time, "
            "retry in a few minutes"
        )
    if limit == "primary":
        reset = headers.get("x-ratelimit-reset")
        when = ""
        if reset and reset.isdigit():
            minutes = max(int(reset) - now, 0) / 60
            when = f" (it resets at {_utc_epoch(int(reset))}, in {minutes:.0f} min)"
        return (
            f"GitHub rate limit exceeded ({head}, the primary limit: {headers.get('x-ratelimit-used', '?')} of "
            f"{headers.get('x-ratelimit-limit', '?')} requests an hour used) while trying to {what}{unsent}{when}: retry "
            "then, or use a token with its own quota"
        )
    if status == 404:
        return (
            f"GitHub found nothing (404 Not Found) while trying to {what}: check the repository name and that the "
            "token can see it"
        )
    detail = message
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        detail += ": " + "; ".join(
            str(x.get("message") or x.get("code")) if isinstance(x, dict) else str(x) for x in errors
        )
    if status >= 500:
        return f"GitHub answered {head}{tried} while trying to {what}: {detail or 'no message'}{gave_up}; {_HELP_5XX}"
    if status == 403:
        return (
            f"GitHub refused ({head}: {detail or 'no message'}) while trying to {what}: the token lacks a permission "
            "this needs"
        )
    return f"GitHub answered {head} while trying to {what}: {detail or 'no message'}"


def _describe_unexpected(e: UnexpectedAnswer, what: str) -> str:
    tried = f" (after {e.attempts} attempts over {e.waited:g} s of waiting)" if e.attempts > 1 else ""
    kind = (
        "malformed JSON"
        if "json" in e.content_type
        else (
            f"an HTML page{f' titled {e.title!r}' if e.title else ''}"
            if "html" in e.content_type
            else f"a {e.content_type or 'untyped'} body"
        )
    )
    if 200 <= e.status < 300:
        advice = (
            "something between mlgate and GitHub (a proxy, a captive portal, a wrong --github-url or "
            "GITHUB_API_URL) answered instead of GitHub's API: check the URL and the network"
        )
    elif e.status >= 500:
        advice = _HELP_5XX
    else:
        advice = "check --github-url or GITHUB_API_URL and the network"
    return f"GitHub answered {e.status} {e.reason or _phrase(e.status)} with {kind} instead of JSON{tried} while trying to {what}: {advice}"


def _is_rate_limit(e: GithubException) -> bool:
    headers = {k.lower(): v for k, v in (e.headers or {}).items()}
    message = e.data.get("message") if isinstance(e.data, dict) else ""
    return rate_limit(e.status, headers, message if isinstance(message, str) else "") is not None


@contextmanager
def _translated(what: str, clock: Callable[[], float] = time.time) -> Iterator[None]:
    """GitHub and network failures -> one clear ForgeError (exit 2), never a traceback."""
    try:
        yield
    except GithubException as e:
        raise ForgeError(_describe(e, what, clock())) from None
    except UnexpectedAnswer as e:
        raise ForgeError(_describe_unexpected(e, what)) from None
    except DeadlineExceeded as e:
        raise ForgeError(
            f"GitHub sent no complete answer within {e.seconds:g} s while trying to {what}: the network or "
            "GitHub is too slow; try again later"
        ) from None
    except requests.RequestException as e:
        raise ForgeError(f"cannot reach GitHub to {what}: {type(e).__name__}: {e}") from None
    except RuntimeError as e:  # PyGithub refuses a redirect to another host or scheme
        if isinstance(e, RecursionError):
            raise ForgeError(f"GitHub's answer while trying to {what} is nested too deeply to read") from None
        if "redirect" not in str(e):
            raise
        raise ForgeError(f"GitHub redirected mlgate elsewhere while trying to {what}: {e}") from None
    except (OverflowError, ValueError, AssertionError) as e:
        # numbers or dates out of range in headers or payloads, a next-page link to another host (PyGithub asserts)
        raise ForgeError(
            f"GitHub's answer while trying to {what} could not be read ({type(e).__name__}: {str(e)[:200]})"
        ) from None


MAX_PAGES = 1000  # 100,000 items of a list: far past any pull request's reviews or commits


class _BadShape(ForgeError):
    pass


# --- pure helpers ----------------------------------------------------------------------------------------


def _size(text: str) -> int:
    # GitHub counts characters; UTF-8 bytes are never fewer, whatever unit it counts in
    return len(text.encode("utf-8"))


def _cut(text: str, size: int) -> str:
    """The longest run of whole lines of ``text`` (at most ``size`` UTF-8 bytes), code fences closed."""
    fence = "\n```"
    head = text.encode("utf-8")[: max(size - len(fence), 0)].decode("utf-8", "ignore")
    if "\n" in head:
        head = head[: head.rindex("\n")]
    if len(re.findall(r"^\s*```", head, re.M)) % 2:
        head += fence
    return head


def fit_comment(
    marker: str, full: str, short: str | None = None, summary_url: str | None = None, limit: int = COMMENT_LIMIT
) -> str:
    """The comment to post: ``marker`` and ``full``, or, when that is over GitHub's limit, ``short`` (the failing
    gates; else ``full`` cut at a line) with a pointer to the job summary that holds the whole report."""
    text = f"{marker}\n{full}"
    if _size(text) <= limit:
        return text
    where = f"[the job summary]({summary_url})" if summary_url else "the job summary of the validate check"
    note = (
        f"\n\n---\n_This report is shortened: the whole report is longer than a GitHub comment may be "
        f"({limit:,} characters). It is in {where}._\n"
    )
    body = full if short is None else short
    room = limit - _size(note) - _size(marker) - 1
    if _size(body) > room:
        body = _cut(body, room - _size("\n…")) + "\n…"
    return f"{marker}\n{body}{note}"


def _outdated(marker: str) -> str:
    return (
        f"{marker}\n**This mlgate report is outdated**: the latest run could not update it. The pull request's "
        "validate check shows the current verdict.\n"
    )


def _utc(text: Any) -> str:
    """GitHub's timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or ""."""
    when = parse_iso(text) if isinstance(text, str) and text else None
    return "" if when is None else format_time(when)


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def _reviews(items: list[Any]) -> tuple[Review, ...]:
    """Submitted reviews in GitHub's (chronological) order; a PENDING review is a draft, not a review."""
    return tuple(
        Review(_login(r.get("user")), str(r["state"]), r.get("commit_id") or "", _utc(r.get("submitted_at")))
        for r in items
        if r.get("state") != "PENDING"
    )


def _pushers(commits: list[Any]) -> tuple[str, ...]:
    """GitHub users that authored or committed a commit (not GitHub's own ``web-flow``; unlinked emails are null)."""
    seen: dict[str, str] = {}
    for c in commits:
        for role in ("author", "committer"):
            login = _login(c.get(role))
            if login and login.lower() != WEB_FLOW:
                seen.setdefault(login.lower(), login)
    return tuple(seen.values())


def _connection_class(base: type, make_adapter: Callable[[int | None], GitHubAdapter]) -> Callable[..., Any]:
    """PyGithub's connection class with mlgate's adapter mounted on its session."""

    class Connection(base):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.adapter = make_adapter(self.pool_size)
            self.session.mount(f"{self.protocol}://", self.adapter)

    return Connection


class GitHubForge:
    """Pull requests, reviews, comments, permissions and team membership on GitHub.

    ``timeout`` bounds each socket operation and ``deadline`` each whole request (seconds); GitHub's transient
    failures are retried with backoff for at most ``max_wait`` seconds of waiting in all, through ``sleep``
    and ``clock`` (tests pass a recording fake). ``app_login`` is the bot user an installation token writes
    comments as (GitHub answers ``GET /user`` with 403 for such tokens, so mlgate cannot ask); ``run_url``
    is where the job summary with the full report is, for a report too long for a comment.
    """

    name = "github"
    #: how many requests mlgate may have on their way at once: one, as GitHub asks ("make requests serially
    #: instead of concurrently", its REST API best practices), so a long history read on a cold cache stays
    #: inside the secondary limits (900 points a minute, concurrent requests) instead of meeting them
    concurrent_requests = 1

    def __init__(
        self,
        repo: str,
        token: str,
        base_url: str = "https://api.github.com",
        timeout: int = 15,
        *,
        deadline: float = 30.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        app_login: str = ACTIONS_BOT,
        run_url: str | None = None,
    ) -> None:
        # No retries and no throttling inside PyGithub: the adapter does both, within bounds, and says what it did.
        self.gh = github.Github(
            auth=Auth.Token(token),
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            user_agent="mlgate",
            lazy=True,
        )
        self.backoff = Backoff(sleep=sleep, clock=clock, max_wait=max_wait)
        self.clock = clock
        self.app_login = app_login
        self.run_url = run_url
        self.repo_name = repo
        self._repo = f"/repos/{quote(repo, safe='/')}"
        self._identity: tuple[str, bool] | None = None
        self._teams: dict[tuple[str, str], bool] = {}
        # PyGithub builds its connection (and one for a URL on another host) lazily from these classes; the
        # instance's own attributes shadow the class-wide defaults, so no other Github object is affected.
        requester = self.gh.requester
        names = ("_Requester__connectionClass", "_Requester__httpConnectionClass", "_Requester__httpsConnectionClass")
        if not all(hasattr(requester, name) for name in names):
            raise ForgeError("this PyGithub version hides its connection classes: mlgate cannot bound its requests")

        def adapter(pool: int | None) -> GitHubAdapter:
            return GitHubAdapter(self.backoff, deadline, pool_connections=pool or 10, pool_maxsize=pool or 10)

        http_class = _connection_class(HTTPRequestsConnectionClass, adapter)
        https_class = _connection_class(HTTPSRequestsConnectionClass, adapter)
        setattr(requester, names[0], https_class if base_url.lower().startswith("https:") else http_class)
        setattr(requester, names[1], http_class)
        setattr(requester, names[2], https_class)

    # --- requests -----------------------------------------------------------------------------------------

    def _call(
        self,
        what: str,
        verb: str,
        url: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        expect: tuple[int, ...] = (),
    ) -> tuple[int, dict[str, Any], Any]:
        """One request: (status, headers, JSON); the statuses in ``expect`` are answers, not errors (a rate limit
        is always an error)."""
        with _translated(what, self.clock):
            try:
                headers, data = self.gh.requester.requestJsonAndCheck(verb, url, parameters=params, input=body)
            except GithubException as e:
                if e.status in expect and not _is_rate_limit(e):
                    return e.status, dict(e.headers or {}), e.data
                raise
        return 200, headers, data

    def _list(self, what: str, url: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every item of a paginated list (100 a page, following the ``Link: rel="next"`` header)."""
        items: list[Any] = []
        _, headers, data = self._call(what, "GET", url, {**(params or {}), "per_page": 100})
        seen: set[str] = set()
        while True:
            if not isinstance(data, list):
                raise _BadShape(f"GitHub's answer while trying to {what} is not a list")
            items += data
            link = next(
                (
                    link["url"]
                    for link in requests.utils.parse_header_links(headers.get("link") or "")
                    if link.get("rel") == "next"
                ),
                None,
            )
            if not link:
                return items
            if link in seen or len(seen) >= MAX_PAGES:
                raise _BadShape(
                    f"GitHub's pages while trying to {what} do not end (a next link repeats, or more "
                    f"than {MAX_PAGES} pages)"
                )
            seen.add(link)
            _, headers, data = self._call(what, "GET", link)

    @contextmanager
    def _shape(self, what: str) -> Iterator[None]:
        try:
            yield
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise _BadShape(
                f"GitHub's answer while trying to {what} is not what its API documents ({type(e).__name__}: {e})"
            ) from None

    # --- pull requests -------------------------------------------------------------------------------------

    def _pull(
        self,
        data: dict[str, Any],
        reviews: tuple[Review, ...],
        pushers: tuple[str, ...],
        commit_requesters: tuple[str, ...] = (),
    ) -> PullRequest:
        merged = bool(data.get("merged_at"))
        body = data.get("body") or ""
        return PullRequest(
            number=int(data["number"]),
            author=_login(data.get("user")) or "",
            head_sha=data["head"]["sha"],
            reviews=reviews,
            state="merged" if merged else data["state"],
            base=data["base"]["ref"],
            head=data["head"]["ref"],
            title=data.get("title") or "",
            url=data.get("html_url") or "",
            merge_commit=data.get("merge_commit_sha") if merged else None,
            merged_by=_login(data.get("merged_by")) if merged else None,
            requester=requester_of(body),
            pushers=pushers,
            body=body,
            closed_at=_utc(data.get("closed_at")),
            requested_by=tuple(dict.fromkeys((*requesters_of(body), *commit_requesters))),
        )

    def _reviews_and_pushers(
        self, number: int, listed: int | None
    ) -> tuple[tuple[Review, ...], tuple[str, ...], tuple[str, ...]]:
        """The reviews, the pushers, and the requesters named by trailers in the commits' messages."""
        what = f"read the reviews of pull request #{number}"
        items = self._list(what, f"{self._repo}/pulls/{number}/reviews")
        with self._shape(what):
            reviews = _reviews(items)
        what = f"read the commits of pull request #{number}"
        commits = self._list(what, f"{self._repo}/pulls/{number}/commits")
        if listed is not None and len(commits) < listed:
            raise ForgeError(
                f"pull request #{number} has {listed} commits and GitHub lists only {len(commits)} "
                f"(at most {PR_COMMITS_LISTED}): mlgate cannot tell who pushed to it, so none of its "
                "approvals could be trusted; split it into smaller pull requests"
            )
        with self._shape(what):
            pushers = _pushers(commits)
            named = tuple(r for c in commits for r in requesters_of(str((c.get("commit") or {}).get("message") or "")))
        return reviews, pushers, named

    def pull_request(self, number: int) -> PullRequest:
        what = f"read pull request #{number}"
        _, _, data = self._call(what, "GET", f"{self._repo}/pulls/{int(number)}")
        with self._shape(what):
            listed = int(data["commits"])
        reviews, pushers, named = self._reviews_and_pushers(number, listed)
        with self._shape(what):
            return self._pull(data, reviews, pushers, named)

    def rejected_pull_requests(self, base: str) -> list[PullRequest]:
        """Pull requests into ``base`` labelled ``mlgate`` that were closed without being merged, with their reviews."""
        what = f"list the closed pull requests into {base}"
        items = self._list(
            what, f"{self._repo}/pulls", {"state": "closed", "base": base, "sort": "created", "direction": "asc"}
        )
        with self._shape(what):
            rejected = [
                d
                for d in items
                if not d.get("merged_at")
                and any(isinstance(label, dict) and label.get("name") == "mlgate" for label in d.get("labels") or [])
            ]
        result = []
        for data in rejected:
            reviews, pushers, named = self._reviews_and_pushers(int(data["number"]), None)
            with self._shape(what):
                result.append(self._pull(data, reviews, pushers, named))
        return result

    def pull_requests_for_commit(self, sha: str) -> list[int]:
        """Pull requests merged *as* commit ``sha``: its merge commit, squash commit, or the last commit of a rebase.

        GitHub also lists a rebase-merged pull request for each of its other rebased commits, and open pull
        requests that contain the commit: neither merged as that commit.
        """
        what = f"find the pull request merged as commit {sha[:12]}"
        items = self._list(what, f"{self._repo}/commits/{quote(sha, safe='')}/pulls")
        with self._shape(what):
            return [int(d["number"]) for d in items if d.get("merged_at") and d.get("merge_commit_sha") == sha]

    def open_pull_request(
        self, *, title: str, body: str, head: str, base: str, labels: Sequence[str], author: str
    ) -> PullRequest:
        what = f"open a pull request from {head} into {base}"
        _, _, data = self._call(
            what, "POST", f"{self._repo}/pulls", body={"title": title, "body": body, "head": head, "base": base}
        )
        with self._shape(what):
            pr = self._pull(data, (), ())
        if labels:
            self._call(
                f"label pull request #{pr.number}",
                "POST",
                f"{self._repo}/issues/{pr.number}/labels",
                body={"labels": list(labels)},
            )
        return pr

    # --- who may approve ------------------------------------------------------------------------------------

    def permission(self, user: str) -> str | None:
        """``user``'s role on the repository (admin, maintain, write, triage, read, none); None when GitHub will
        not say (403)."""
        status, _, data = self._call(
            f"read {user}'s permission on {self.repo_name}",
            "GET",
            f"{self._repo}/collaborators/{quote(user, safe='')}/permission",
            expect=(403, 404),
        )
        if status == 404:
            return "none"  # not a user GitHub knows
        if status == 403:
            return None
        role = data.get("role_name") if isinstance(data, dict) else None
        permission = data.get("permission") if isinstance(data, dict) else None
        if isinstance(role, str) and role in ROLES:
            return role
        return permission if permission in ("admin", "write", "read", "none") else None

    def is_member(self, user: str, team: str) -> bool | None:
        """Whether ``user`` is an active member of ``team`` (``@org/slug``); None when the token cannot tell: GitHub
        answers 403 without the right to read the organisation's teams, and 404 for a team the token cannot see."""
        org, _, slug = team.lstrip("@").partition("/")
        path = f"/orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}"
        status, _, data = self._call(
            f"check whether {user} is in {team}", "GET", f"{path}/memberships/{quote(user, safe='')}", expect=(403, 404)
        )
        if status == 403:
            return None
        if status == 404:
            return False if self._team_visible(path, team) else None
        return isinstance(data, dict) and data.get("state") == "active"

    def _team_visible(self, path: str, team: str) -> bool:
        key = (path.lower(), team)
        if key not in self._teams:
            status, _, _ = self._call(f"read team {team}", "GET", path, expect=(403, 404))
            self._teams[key] = status == 200
        return self._teams[key]

    # --- the report comment ----------------------------------------------------------------------------------

    def _me(self) -> tuple[str, bool]:
        """The token's user and whether it is a bot. An installation token may not ask (``GET /user`` is 403):
        its comments are written by the app's bot user, ``app_login``."""
        if self._identity is None:
            status, _, data = self._call("find out whose token this is", "GET", "/user", expect=(403,))
            if status == 403:
                self._identity = (self.app_login, True)
            else:
                with self._shape("find out whose token this is"):
                    self._identity = (str(data["login"]), data.get("type") == "Bot")
        return self._identity

    def account(self) -> tuple[str, bool]:
        """Whose token this is (``GET /user``), and whether that is a bot: an installation token (GitHub Actions'
        ``GITHUB_TOKEN``) may not ask, and acts as ``app_login``."""
        return self._me()

    def _is_mine(self, comment: dict[str, Any]) -> bool:
        login, bot = self._me()
        user = comment.get("user")
        if (_login(user) or "").lower() != login.lower():
            return False
        return not bot or (isinstance(user, dict) and user.get("type") == "Bot")

    def upsert_comment(self, number: int, body: str, marker: str = COMMENT_MARKER, short: str | None = None) -> None:
        """Post the report, or update the one report comment this token wrote (never anyone else's).

        A report over GitHub's limit is replaced by ``short`` (the failing gates) and a pointer to the job summary.
        If the update fails, the old comment is marked outdated (or deleted) so that no stale verdict stays on
        the pull request, and the failure is raised.
        """
        text = fit_comment(marker, body, short, self.run_url)
        comments = self._list(
            f"read the comments of pull request #{number}", f"{self._repo}/issues/{int(number)}/comments"
        )
        with self._shape(f"read the comments of pull request #{number}"):
            mine = [c for c in comments if self._is_mine(c) and str(c.get("body") or "").startswith(marker)]
        what = f"comment on pull request #{number}"
        try:
            if mine:
                self._call(what, "PATCH", f"{self._repo}/issues/comments/{int(mine[0]['id'])}", body={"body": text})
            else:
                self._call(what, "POST", f"{self._repo}/issues/{int(number)}/comments", body={"body": text})
        except ForgeError as e:
            stale = [problem for c in mine if (problem := self._withdraw(c, marker))]
            if stale:
                raise ForgeError(f"{e}; and the earlier report could not be marked outdated: {stale[0]}") from None
            raise
        for extra in mine[1:]:  # two runs that both found no comment each wrote one
            problem = self._withdraw(extra, marker)
            if problem:
                raise ForgeError(problem)

    def _withdraw(self, comment: dict[str, Any], marker: str) -> str | None:
        """Mark an old report outdated, else delete it; what went wrong, if both failed."""
        url = f"{self._repo}/issues/comments/{int(comment['id'])}"
        try:
            self._call("mark the old report comment outdated", "PATCH", url, body={"body": _outdated(marker)})
            return None
        except ForgeError:
            pass
        try:
            self._call("delete the old report comment", "DELETE", url)
            return None
        except ForgeError as e:
            return str(e)

    def api_json(self, path: str) -> Any:
        """GET ``path`` (e.g. ``/repos/o/r/rulesets``) of GitHub's REST API and return its JSON; for ``mlgate doctor``.

        A refusal is a ForgeError carrying ``status`` (GitHub's HTTP status, None when nothing answered) and
        ``github_message`` (GitHub's own ``message``): a 404 "Branch not protected" and a 404 that hides
        protection from a non-admin say different things.
        """
        answer: dict[str, Any] = {"status": None, "message": None}
        try:
            with _translated(f"read {path.split('?', 1)[0]}"):
                try:
                    _, data = self.gh.requester.requestJsonAndCheck("GET", path)
                except GithubException as e:
                    answer["status"] = e.status
                    answer["message"] = e.data.get("message") if isinstance(e.data, dict) else None
                    raise
        except ForgeError as e:
            e.status, e.github_message = answer["status"], answer["message"]  # type: ignore[attr-defined]
            raise
        return data
