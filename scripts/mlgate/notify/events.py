"""The events ``mlgate notify`` sends: those of :func:`mlgate.audit.history.history` on a ref's first-parent
commits after a given commit, the forge asked only about their pull requests."""

from __future__ import annotations

import os
import re
from typing import Any, Mapping

from mlgate.audit.history import Event, history, pr_number
from mlgate.errors import ForgeError, GitError, UsageError
from mlgate.infra.git import Commit, GitRepo

#: GitHub's ``before`` of a push that created the branch: no previous commit
ZERO_COMMIT = re.compile(r"0{40}(0{24})?\Z")


def commit_range(git: GitRepo, since: str, ref: str) -> tuple[str, str | None, dict[str, str] | None]:
    """The ref's commit, the since commit (None: none, GitHub's zeros) and the first-parent commits after it,
    each with its subject."""
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
    listed = git.git("log", "--first-parent", "--format=%H%x1f%s%x1e", f"{start}..{head}")
    records = (r.strip("\n").split("\x1f", 1) for r in listed.split("\x1e") if r.strip())
    return head, start, {r[0]: r[1] if len(r) > 1 else "" for r in records}


class _Scoped:
    """The forge, answering only about the pull requests and commits being notified.

    :func:`history` with a forge asks about every pull request among its events, and a CI job's fresh clone has
    no cache of the answers (.git/mlgate/): a history wider than the push would cost thousands of API calls for
    a push that merged one. Through this, the forge is asked about the notified range alone, whatever history
    returns; other events are left without approvers, and dropped.
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


def events_in(
    repo_path: str | os.PathLike[str], head: str, commits: Mapping[str, str], forge: Any, *, since: str | None = None
) -> list[Event]:
    """The registry events of ``commits`` (first-parent commits of ``head``, with their subjects), oldest first;
    with a forge, their pull requests' authors, mergers and approvers (the forge asked about the pull requests
    the commits' subjects name, and about the commits that name none).

    With ``since`` (the commit ``commits`` follow), history walks those commits alone (a fresh clone, with no
    history cache, pays for the push, not for the whole history); the events are the same."""
    if not commits:
        return []
    scoped = None
    if forge is not None:
        named = (pr_number(Commit(sha, (), "", "", "", "", subject, "")) for sha, subject in commits.items())
        scoped = _Scoped(forge, {n for n in named if n is not None}, set(commits))
    found = history(repo_path, ref=head, forge=scoped, since_commit=since)
    return [e for e in reversed(found.events) if e.commit in commits]
