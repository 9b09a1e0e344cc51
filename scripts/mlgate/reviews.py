"""Sign-off: the interface forges implement to supply a pull request's reviews, and how they count.

A forge (GitHub, the local forge) implements :class:`ReviewSource`; the gate
engine only ever sees this interface. :func:`count_approvals` applies the
rules: each reviewer's latest review only, APPROVED on the PR's current head
commit only, never the author (when the policy excludes authors), never a bot,
and only members of the allowed set of users and ``@org/team`` entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .policy import Approvals

APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED = "APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"


#: permissions that may approve, as GitHub's branch protection counts them (collaborator permission endpoint)
WRITE_PERMISSIONS = ("admin", "maintain", "write")
#: the trailer mlgate writes into a pull request's body and commit when it opens one for someone else
REQUESTER_TRAILER = "Mlgate-Requested-By"


@dataclass(frozen=True)
class Review:
    """One submitted review, in the order the forge received it.

    ``user`` is None for a deleted account (GitHub's "ghost"): such a review never counts. Forges never
    pass PENDING reviews (a draft is not a review); DISMISSED withdraws the reviewer's earlier verdict.
    """

    user: str | None
    state: str
    commit: str
    submitted_at: str = ""


@dataclass(frozen=True)
class PullRequest:
    """A pull request as a forge reports it; the gate needs author, head_sha and reviews."""

    number: int
    author: str
    head_sha: str
    reviews: tuple[Review, ...] = ()
    state: str = "open"  # open, merged, closed
    base: str = ""
    head: str = ""  # the branch
    title: str = ""
    url: str = ""
    merge_commit: str | None = None
    merged_by: str | None = None
    #: who asked for the change when mlgate opened the pull request for them (the requester trailer), else None
    requester: str | None = None
    #: logins that authored or committed a commit of the pull request, or pushed to it: none may approve it
    pushers: tuple[str, ...] = ()
    body: str = ""
    closed_at: str = ""  # when it was closed (merged or not), ISO UTC; "" while open


class ReviewSource(Protocol):
    """Where approvals come from: a forge's view of one pull request."""

    def pull_request(self) -> PullRequest:
        """The pull request being judged, with every review submitted on it."""

    def is_member(self, user: str, team: str) -> bool | None:
        """Whether ``user`` belongs to ``team`` (written ``@org/team``); None when the forge will not say
        (the token cannot read the organisation's teams)."""

    def permission(self, user: str) -> str | None:
        """``user``'s permission on the repository: admin, maintain, write, triage, read or none; None when
        the forge will not say."""


@dataclass(frozen=True)
class ApprovalCount:
    """The outcome of counting: who counted, and why each other reviewer did not."""

    required: int
    counted: tuple[str, ...]
    ignored: tuple[tuple[str, str], ...]  # (user, reason)

    @property
    def ok(self) -> bool:
        return len(self.counted) >= self.required

    def describe(self, allowed: tuple[str, ...] = ()) -> str:
        text = f"{len(self.counted)} of {self.required} required approval{'s' if self.required != 1 else ''}"
        if allowed:
            text += f" from {', '.join(allowed)}"
        if self.counted:
            text += f" ({', '.join(self.counted)})"
        if self.ignored:
            text += "; not counted: " + "; ".join(f"{u} ({why})" for u, why in self.ignored)
        return text


_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?\Z")


def is_login(text: str) -> bool:
    """Whether ``text`` is a whole forge login (``carol``, ``ci-app[bot]``): no newline, space or other character."""
    return bool(_LOGIN.match(text))


def is_bot(user: str) -> bool:
    return user.endswith("[bot]")


def _allowed(user: str, allowed: tuple[str, ...], source: ReviewSource) -> bool:
    if not allowed:
        return True
    for entry in allowed:
        if entry.startswith("@"):
            if source.is_member(user, entry):
                return True
        elif entry.lower() == user.lower():
            return True
    return False


def count_approvals(rule: Approvals, pr: PullRequest, source: ReviewSource) -> ApprovalCount:
    """Apply the approval rules of a gate to a pull request's reviews."""
    latest: dict[str, Review] = {}
    for review in pr.reviews:
        if review.state == COMMENTED:  # a comment neither grants nor withdraws approval
            continue
        latest[review.user.lower()] = review
    counted: list[str] = []
    ignored: list[tuple[str, str]] = []
    for review in latest.values():
        user = review.user
        if not is_login(user):
            ignored.append((user, "not a valid login"))
        elif review.state != APPROVED:
            ignored.append((user, "changes requested" if review.state == CHANGES_REQUESTED else review.state.lower()))
        elif review.commit != pr.head_sha:
            ignored.append((user, f"approved an older commit {review.commit[:7]}, not the head {pr.head_sha[:7]}"))
        elif rule.exclude_author and user.lower() == pr.author.lower():
            ignored.append((user, "the author cannot approve their own change"))
        elif is_bot(user):
            ignored.append((user, "a bot's approval is not a sign-off"))
        elif not _allowed(user, rule.allowed, source):
            ignored.append((user, f"not in {', '.join(rule.allowed)}"))
        else:
            counted.append(user)
    return ApprovalCount(rule.min, tuple(sorted(counted)), tuple(sorted(ignored)))
