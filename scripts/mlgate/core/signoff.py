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

from mlgate.core.policy import Approvals

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
    #: every login a requester trailer names, in the body and in the commits' messages (mlgate writes both):
    #: a body can be edited by anyone with write access, a pushed commit cannot be taken back
    requested_by: tuple[str, ...] = ()
    closed_at: str = ""  # when it was closed (merged or not), ISO UTC; "" while open
    closed_by: str | None = None  # who closed it (merged or not), when the forge says


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
    #: the ignored reviewers whose approval could be neither counted nor refused: the forge would not say
    #: whether they may approve (their permission, or their membership of an allowed team, cannot be read)
    unverified: tuple[str, ...] = ()

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


# GitHub's login syntax: letters, digits and hyphens, not starting with one, at most 39 (new accounts may
# not have double or trailing hyphens, but old ones do); Enterprise Managed Users add an underscore and the
# enterprise's short code (``mona-cat_octo``); apps end in ``[bot]``.
_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:_[A-Za-z0-9]{1,39})?(?:\[bot\])?\Z")
_TEAM = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
_TRAILER = re.compile(rf"^[ \t]*{re.escape(REQUESTER_TRAILER)}[ \t]*:(.*)$", re.I | re.M)


def is_login(text: str) -> bool:
    """Whether ``text`` is a whole forge login (``carol``, ``mona-cat_octo``, ``ci-app[bot]``): no newline,
    space or any other character."""
    return bool(_LOGIN.match(text))


def is_team(text: str) -> bool:
    """Whether ``text`` is a whole ``@org/team-slug``."""
    return bool(_TEAM.match(text))


def requester_trailer(login: str) -> str:
    """The line mlgate writes into a pull request's body and commit to record who asked for the change."""
    return f"{REQUESTER_TRAILER}: {login}"


def requesters_of(body: str | None) -> tuple[str, ...]:
    """Every login a pull request body's ``Mlgate-Requested-By:`` lines name. Anyone who can edit the body can
    add one, so all of them are excluded from approving, never only the last."""
    found = (m.strip() for m in _TRAILER.findall((body or "").replace("\r\n", "\n")))
    return tuple(m for m in found if is_login(m))


def requester_of(body: str | None) -> str | None:
    """The requester a pull request body records (its last trailer naming a valid login)."""
    found = requesters_of(body)
    return found[-1] if found else None


def is_bot(user: str) -> bool:
    return user.endswith("[bot]")


GHOST = "(deleted user)"


def count_approvals(rule: Approvals, pr: PullRequest, source: ReviewSource) -> ApprovalCount:
    """Apply the approval rules of a gate to a pull request's reviews.

    What GitHub's branch protection would count, then narrowed by the policy: each reviewer's latest
    submitted review (a comment neither grants nor withdraws; DISMISSED withdraws), APPROVED on the pull
    request's current head, from a reviewer with write, maintain or admin permission; never a deleted
    account, a bot, and (with ``exclude_author``, the default) never the author, the requester mlgate
    recorded, or anyone who pushed a commit to the pull request; then only the users and teams the rule
    allows (named users matched first; a team is asked about only for reviewers no name matched).
    """
    latest: dict[str, Review] = {}
    ghosts = 0
    for review in pr.reviews:
        if review.state in (COMMENTED, "PENDING"):  # a comment neither grants nor withdraws; a draft is no review
            continue
        if review.user is None:
            ghosts += 1
            continue
        latest[review.user.lower()] = review
    excluded = {pr.author.lower(): "the author cannot approve their own change"}
    for requester in (*requesters_of(pr.body), *pr.requested_by, *((pr.requester,) if pr.requester else ())):
        excluded.setdefault(requester.lower(), "the requester cannot approve their own change")
    for pusher in pr.pushers:
        excluded.setdefault(pusher.lower(), "pushed a commit to this pull request")
    counted: list[str] = []
    ignored: list[tuple[str, str]] = [(GHOST, "a deleted account's review never counts")] * min(ghosts, 1)
    unverified: list[str] = []
    for review in latest.values():
        user = review.user or GHOST
        reason = _refusal(rule, pr, review, user, excluded, source)
        if reason is None:
            counted.append(user)
        else:
            ignored.append((user, str(reason)))
            if isinstance(reason, _Unread):
                unverified.append(user)
    return ApprovalCount(rule.min, tuple(sorted(counted)), tuple(sorted(ignored)), tuple(sorted(unverified)))


class _Unread(str):
    """A reason that says the forge would not answer (not that the reviewer may not approve)."""


#: why an approval is unverified when the reviewer's permission cannot be read
UNREAD_PERMISSION = "their permission on the repository cannot be read (the token cannot see collaborators)"
_UNREAD_MEMBERSHIP = re.compile(
    r"membership of @\S+(?:, @\S+)* cannot be read \(the token needs read:org; a fork's pull request gets no "
    r"secrets\), so it is not counted\Z"
)


def unverified_reason(reason: str) -> bool:
    """Whether ``reason``, as :func:`count_approvals` wrote it into :attr:`ApprovalCount.ignored`, marks an
    approval as unverified (:attr:`ApprovalCount.unverified`): for records that kept the reason only (an audit
    trail written before the field existed). Exactly this module's two texts, never a similar reviewer text."""
    return reason == UNREAD_PERMISSION or bool(_UNREAD_MEMBERSHIP.match(reason))


def _refusal(
    rule: Approvals, pr: PullRequest, review: Review, user: str, excluded: dict[str, str], source: ReviewSource
) -> str | None:
    """Why ``review`` does not count, or None if it does. Cheap checks first: the forge is asked last."""
    if not is_login(user):
        return "not a valid login"
    if review.state != APPROVED:
        return "changes requested" if review.state == CHANGES_REQUESTED else review.state.lower()
    if review.commit != pr.head_sha:
        return f"approved an older commit {review.commit[:7]}, not the head {pr.head_sha[:7]}"
    if is_bot(user):
        return "a bot's approval is not a sign-off"
    if rule.exclude_author and user.lower() in excluded:
        return excluded[user.lower()]
    permission = source.permission(user)
    if permission is None:
        return _Unread(UNREAD_PERMISSION)
    if permission not in WRITE_PERMISSIONS:
        return f"has {permission} permission on the repository; approvals count from write, maintain or admin"
    return _not_allowed(user, rule.allowed, source)


def _not_allowed(user: str, allowed: tuple[str, ...], source: ReviewSource) -> str | None:
    """None if ``user`` is in the rule's allowed set (or it has none), else why not, in words."""
    if not allowed:
        return None
    if any(not entry.startswith("@") and entry.lower() == user.lower() for entry in allowed):
        return None
    unknown = []
    for team in (entry for entry in allowed if entry.startswith("@")):
        member = source.is_member(user, team)
        if member:
            return None
        if member is None:
            unknown.append(team)
    if unknown:
        return _Unread(
            f"membership of {', '.join(unknown)} cannot be read (the token needs read:org; a fork's pull "
            f"request gets no secrets), so it is not counted"
        )
    return f"not in {', '.join(allowed)}"
