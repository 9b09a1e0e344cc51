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
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from mlgate.audit.history import Event
from mlgate.check.notifications import load_notifications
from mlgate.core import layout
from mlgate.core.notifications import CLOUDEVENTS, Notifications, Subscriber, url_problem
from mlgate.errors import UsageError
from mlgate.infra.git import GitRepo
from mlgate.notify import documents
from mlgate.notify.deliver import Outcome, RetryPolicy, post
from mlgate.notify.events import commit_range, events_in
from mlgate.notify.results import Delivery, NotificationsInvalid, NotifyResult, Status, SubscriberResult


def default_source(repo_path: str | os.PathLike[str]) -> str:
    """The CloudEvents ``source``: the GitHub repository's URL in GitHub Actions, else ``urn:mlgate:`` and the
    repository folder's name."""
    server, name = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and name and re.fullmatch(r"https://[A-Za-z0-9.-]+(:[0-9]+)?", server) and "/" in name:
        return f"{server}/{quote(name, safe='/')}"
    return "urn:mlgate:" + quote(Path(repo_path).resolve().name or "registry", safe="")


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
    previous commit to start from (pass the root commit to send what followed it). A ``since`` that is not
    an ancestor of ``ref`` (a force push) or no commit at all raises :class:`UsageError`; an unusable
    notifications.yaml raises :class:`NotificationsInvalid` (both exit 2).
    """
    if not since or since.startswith("-"):
        raise UsageError(f"--since {since!r} is not a commit")
    if source is not None and (not source or len(source) > 2048 or re.search(r"[\s\x00-\x1f\x7f]", source)):
        raise UsageError(f"--source {source!r} is not a URI: no spaces or control characters, 1 to 2048 characters")
    git = GitRepo(repo_path)
    try:
        head, start, commits = commit_range(git, since, ref)
        subscriptions, findings = load_notifications(git.tree(head))
    finally:
        git.close()
    if findings:
        raise NotificationsInvalid(findings)
    wanted = commits if subscriptions is not None and subscriptions.subscribers and commits else {}
    # the forge (approvers) is asked only when there is something to send
    events = events_in(repo_path, head, wanted, forge, since=start)
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
