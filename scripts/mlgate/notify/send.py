"""``mlgate notify``: every registry event between a commit and a ref, oldest first, to every subscriber of
registry/notifications.yaml (as of the ref) whose filters match.

Events come from :func:`mlgate.audit.history.history`, the code behind ``mlgate history``. Each subscriber gets
its events in order; after one finally fails, the rest are skipped (not sent out of order): a re-run with the
same ``--since`` sends them again with the same ids, which the receiver de-duplicates.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal
from urllib.parse import quote

from mlgate.audit.history import Event, history
from mlgate.check.notifications import load_notifications
from mlgate.core import layout
from mlgate.core.findings import Finding
from mlgate.core.notifications import CLOUDEVENTS, Notifications, Subscriber, url_problem
from mlgate.errors import ForgeError, GitError, InputError, UsageError
from mlgate.infra.git import GitRepo
from mlgate.notify import documents
from mlgate.notify.deliver import Outcome, RetryPolicy, post

#: GitHub's ``before`` of a push that created the branch: no previous commit
ZERO_COMMIT = re.compile(r"0{40}(0{24})?\Z")

Status = Literal["delivered", "failed", "skipped", "planned"]


class NotificationsInvalid(InputError):
    """registry/notifications.yaml on the ref cannot be used: ``findings`` says why, one per field."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more problems)" if len(findings) > 1 else ""
        super().__init__(f"{first.rule} {first.message}{more}", path=first.path, line=first.line)


@dataclass(frozen=True)
class Delivery:
    """One event for one subscriber, and what became of it."""

    id: str
    type: str
    subject: str
    commit: str
    title: str  # the commit's subject (the pull request's title): text from the repository
    status: Status
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    waits: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "commit": self.commit,
            "title": self.title,
            "status": self.status,
            "attempts": self.attempts,
            "http_status": self.http_status,
            "error": self.error,
        }


@dataclass
class SubscriberResult:
    """What one subscriber got."""

    subscriber: Subscriber
    deliveries: list[Delivery] = field(default_factory=list)
    filtered: int = 0  # events its filters do not ask for
    error: str | None = None  # why nothing was sent at all (a missing secret or URL)

    def count(self, status: Status) -> int:
        return sum(1 for d in self.deliveries if d.status == status)

    @property
    def ok(self) -> bool:
        return self.error is None and self.count("failed") == 0

    def to_dict(self) -> dict[str, Any]:
        s = self.subscriber
        return {
            "subscriber": s.label,
            "index": s.index,
            "format": s.format,
            "delivered": self.count("delivered"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "planned": self.count("planned"),
            "not_subscribed": self.filtered,
            "error": self.error,
            "deliveries": [d.to_dict() for d in self.deliveries],
        }


@dataclass
class NotifyResult:
    """Everything ``mlgate notify`` did: the range, the events in it, each subscriber's deliveries."""

    ref: str
    commit: str
    since: str | None
    events: list[Event]
    subscribers: list[SubscriberResult]
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.subscribers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "since": self.since,
            "dry_run": self.dry_run,
            "events": len(self.events),
            "ok": self.ok,
            "subscribers": [s.to_dict() for s in self.subscribers],
            "warnings": self.warnings,
        }


def default_source(repo_path: str | os.PathLike[str]) -> str:
    """The CloudEvents ``source``: the GitHub repository's URL in GitHub Actions, else ``urn:mlgate:`` and the
    repository folder's name."""
    server, name = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and name and re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?", server) and "/" in name:
        return f"{server}/{quote(name, safe='/')}"
    return "urn:mlgate:" + quote(Path(repo_path).resolve().name or "registry", safe="")


def _range(git: GitRepo, since: str, ref: str) -> tuple[str, str | None, set[str] | None]:
    """The ref's commit, the since commit (None: none, GitHub's zeros) and the first-parent commits after it."""
    head = git.resolve(ref)
    if ZERO_COMMIT.match(since):
        return head, None, None
    try:
        start = git.resolve(since)
    except GitError:
        raise UsageError(
            f"--since {since!r} is not a commit of this repository (a force push that dropped it, or a shallow "
            "clone: fetch with fetch-depth: 0)"
        ) from None
    base = git.git("merge-base", start, head).strip() if start != head else head
    if base != start:
        raise UsageError(
            f"--since {since[:40]!r} is not an ancestor of {ref!r}: the history was rewritten (a force push?). "
            f"Notify from the common ancestor: --since $(git merge-base {since[:40]} {ref})"
        )
    listed = git.git("rev-list", "--first-parent", f"{start}..{head}").split()
    return head, start, set(listed)


class _Scoped:
    """The forge, answering only about the pull requests and commits being notified.

    :func:`history` reads the branch's whole history and, with a forge, asks about every pull request in it
    (cached in .git/mlgate/, which a CI job's fresh clone does not have): thousands of API calls for a push
    that merged one. Through this, the forge is asked about the notified range alone; the other events are
    left without approvers, and dropped.
    """

    def __init__(self, forge: Any, pulls: set[int], commits: set[str]) -> None:
        self._forge = forge
        self._pulls = pulls
        self._commits = commits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._forge, name)

    def pull_request(self, number: int) -> Any:
        if number not in self._pulls:
            raise ForgeError(f"#{number} is not in the range notified")
        return self._forge.pull_request(number)

    def pull_requests_for_commit(self, sha: str) -> Any:
        """The pull requests that merged a commit of the range (a rebase merge names none in its subject):
        history asks about them next."""
        if sha not in self._commits:
            raise ForgeError(f"{sha[:12]} is not in the range notified")
        found = self._forge.pull_requests_for_commit(sha)
        self._pulls.update(n for n in found if isinstance(n, int))
        return found


def _events(repo_path: str | os.PathLike[str], head: str, commits: set[str], forge: Any) -> list[Event]:
    """The registry events of ``commits`` (first-parent commits of ``head``), oldest first; with a forge, their
    pull requests' authors, mergers and approvers (the forge asked about those pull requests only)."""
    if not commits:
        return []
    events = [e for e in reversed(history(repo_path, ref=head).events) if e.commit in commits]
    if forge is None or not events:
        return events
    scoped = _Scoped(forge, {e.pr for e in events if e.pr is not None}, {e.commit for e in events})
    return [e for e in reversed(history(repo_path, ref=head, forge=scoped).events) if e.commit in commits]


def _secret(sub: Subscriber) -> tuple[bytes | None, str | None]:
    if sub.secret_env is None:
        return None, None
    value = os.environ.get(sub.secret_env)
    if not value:
        return None, f"the environment variable {sub.secret_env} (secret_env) is not set or empty: nothing sent"
    return value.encode("utf-8"), None


def _url(sub: Subscriber) -> tuple[str | None, str | None]:
    if sub.url is not None:
        return sub.url, None
    assert sub.url_env is not None  # the manifest gives one of the two (MG211)
    value = os.environ.get(sub.url_env, "").strip()
    if not value:
        return None, f"the environment variable {sub.url_env} (url_env) is not set or empty: nothing sent"
    problem = url_problem(value)
    if problem:
        return None, f"the URL in {sub.url_env} {problem}: nothing sent"
    return value, None


def _body(sub: Subscriber, event: Event, event_id: str, source: str) -> tuple[bytes, dict[str, str]]:
    headers = {"User-Agent": documents.USER_AGENT, documents.EVENT_ID_HEADER: event_id}
    if sub.format == CLOUDEVENTS:
        body = documents.encode(documents.cloudevent(event, event_id, source))
        headers["Content-Type"] = documents.CLOUDEVENTS_CONTENT_TYPE + "; charset=utf-8"
    else:
        body = documents.encode(documents.slack_message(event))
        headers["Content-Type"] = "application/json; charset=utf-8"
    return body, headers


def _deliver(
    sub: Subscriber,
    events: list[tuple[Event, str]],
    source: str,
    policy: RetryPolicy,
    dry_run: bool,
    sleep: Callable[[float], None],
) -> SubscriberResult:
    result = SubscriberResult(sub)
    wanted = [(e, i) for e, i in events if sub.wants(e.kind, e.model, e.alias)]
    result.filtered = len(events) - len(wanted)

    def entry(e: Event, i: str, status: Status, outcome: Outcome | None = None) -> Delivery:
        if outcome is None:
            return Delivery(i, documents.event_type(e), documents.subject(e), e.commit, e.subject, status)
        return Delivery(
            i,
            documents.event_type(e),
            documents.subject(e),
            e.commit,
            e.subject,
            status,
            outcome.attempts,
            outcome.status,
            outcome.error,
            outcome.waits,
        )

    if dry_run:
        result.deliveries = [entry(e, i, "planned") for e, i in wanted]
        return result
    url, problem = _url(sub)
    secret, secret_problem = _secret(sub)
    result.error = problem or secret_problem
    if url is None or result.error:
        result.deliveries = [entry(e, i, "skipped") for e, i in wanted]
        return result
    failed = False
    for e, i in wanted:
        if failed:
            result.deliveries.append(entry(e, i, "skipped"))
            continue
        body, headers = _body(sub, e, i, source)
        if secret is not None:
            headers[documents.SIGNATURE_HEADER] = documents.signature(secret, body)
        outcome = post(url, body, headers, policy, sleep=sleep)
        failed = not outcome.delivered
        result.deliveries.append(entry(e, i, "delivered" if outcome.delivered else "failed", outcome))
    return result


def notify(
    repo_path: str | os.PathLike[str] = ".",
    *,
    since: str,
    ref: str = "main",
    dry_run: bool = False,
    forge: Any = None,
    policy: RetryPolicy | None = None,
    source: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """Post every registry event of ``ref``'s first-parent history after commit ``since`` to the subscribers
    of ``ref``'s registry/notifications.yaml, oldest first; ``dry_run`` sends nothing.

    ``since`` all zeros (GitHub's ``before`` when a push creates the branch) sends nothing: there is no
    previous commit to start from (pass the root commit to send the whole history). A ``since`` that is not
    an ancestor of ``ref`` (a force push) or no commit at all raises :class:`UsageError`; an unusable
    notifications.yaml raises :class:`NotificationsInvalid` (both exit 2).
    """
    if not since or since.startswith("-"):
        raise UsageError(f"--since {since!r} is not a commit")
    if source is not None and (not source or len(source) > 2048 or re.search(r"[\s\x00-\x1f\x7f]", source)):
        raise UsageError(f"--source {source!r} is not a URI: no spaces or control characters, 1 to 2048 characters")
    git = GitRepo(repo_path)
    try:
        head, start, commits = _range(git, since, ref)
        subscriptions, findings = load_notifications(git.tree(head))
    finally:
        git.close()
    if findings:
        raise NotificationsInvalid(findings)
    wanted = commits if subscriptions is not None and subscriptions.subscribers and commits else set()
    # the forge (approvers) is asked only when there is something to send
    events = _events(repo_path, head, wanted, forge)
    result = NotifyResult(ref, head, start, events, [], dry_run)
    if start is None:
        result.warnings.append(
            f"--since {since[:12]}... names no commit (a push that created the branch): nothing sent; "
            "pass the root commit (git rev-list --max-parents=0 REF) to send what followed it"
        )
    if subscriptions is None:
        result.warnings.append(f"{layout.NOTIFICATIONS} does not exist on {ref}: no subscribers, nothing sent")
        subscriptions = Notifications()
    ids = documents.event_ids(events)
    pairs = list(zip(events, ids, strict=True))
    chosen = source or default_source(repo_path)
    retry = policy or RetryPolicy()
    subs = subscriptions.subscribers
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(subs)))) as pool:
        done = pool.map(lambda s: _deliver(s, pairs, chosen, retry, dry_run, sleep), subs)
        result.subscribers = list(done)
    return result
