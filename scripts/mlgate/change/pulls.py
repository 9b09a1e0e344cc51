"""Pull requests of the local forge as a user handles them: list, show, close, and open one for a hand-made branch.

The local forge stands in for GitHub's web UI on one machine; these are the library functions behind
``mlgate pr ...``. Opening a pull request for a branch someone committed by hand (an edit of policy.yaml or
model.yaml) validates it the way the pull request's required check would: a problem other than a gate
refuses, and the description is the validation report, gates included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlgate.change.propose import LABEL, _base_sha, _ident, _is_ancestor
from mlgate.check.run import validate, watched
from mlgate.core.findings import Report
from mlgate.core.rules import Family, family
from mlgate.core.signoff import APPROVED, PullRequest, Review, is_login, requester_trailer
from mlgate.errors import CheckFailed, UsageError
from mlgate.forge import ForgeReviews
from mlgate.forge.local import PR_STATES, LocalForge
from mlgate.infra.git import GitRepo, GitTree
from mlgate.render.report import report_markdown

#: what ``pr list --state`` accepts: a forge state, or all of them
LIST_STATES = (*PR_STATES, "all")


def list_pulls(forge: LocalForge, state: str = "open") -> list[PullRequest]:
    """The pull requests in ``state`` (open, merged, closed, or all), oldest first."""
    if state not in LIST_STATES:
        raise UsageError(f"unknown pull request state {state!r}; states: {', '.join(LIST_STATES)}")
    return forge.list_pull_requests(None if state == "all" else state)


@dataclass(frozen=True)
class ReviewView:
    """A submitted review, and whether it was given on the pull request's current head commit."""

    review: Review
    current: bool


@dataclass(frozen=True)
class PullDetails:
    """Everything ``mlgate pr show`` tells about a pull request."""

    pr: PullRequest
    opened_at: str
    close_reason: str
    reviews: tuple[ReviewView, ...]
    #: the latest review of each reviewer is an approval of the current head commit
    current_approvers: tuple[str, ...]
    #: reviewers whose latest approval is of an earlier commit: it no longer counts
    stale_approvers: tuple[str, ...]
    #: the last gate report posted on the pull request (by ``mlgate merge`` or the check), if any
    report: str | None

    def to_dict(self) -> dict[str, Any]:
        pr = self.pr
        return {
            "number": pr.number,
            "title": pr.title,
            "state": pr.state,
            "branch": pr.head,
            "base": pr.base,
            "head_sha": pr.head_sha,
            "author": pr.author,
            "requester": pr.requester,
            "url": pr.url,
            "opened_at": self.opened_at,
            "closed_at": pr.closed_at or None,
            "closed_by": pr.closed_by if pr.state == "closed" else None,
            "close_reason": self.close_reason or None,
            "merge_commit": pr.merge_commit,
            "merged_by": pr.merged_by,
            "reviews": [
                {
                    "user": v.review.user,
                    "state": v.review.state,
                    "commit": v.review.commit,
                    "submitted_at": v.review.submitted_at,
                    "current": v.current,
                }
                for v in self.reviews
            ],
            "current_approvers": list(self.current_approvers),
            "stale_approvers": list(self.stale_approvers),
            "body": pr.body,
            "report": self.report,
        }


def pull_details(forge: LocalForge, number: int) -> PullDetails:
    """Pull request ``number`` with its reviews (each marked current or not) and its last gate report."""
    pr = forge.pull_request(number)
    views = tuple(ReviewView(r, bool(pr.head_sha) and r.commit == pr.head_sha) for r in pr.reviews)
    latest: dict[str, tuple[str, ReviewView]] = {}
    for v in views:
        if v.review.user:  # reviews are recorded in order: the last one of each reviewer counts
            latest[v.review.user.lower()] = (v.review.user, v)
    approved = [(user, v) for user, v in latest.values() if v.review.state == APPROVED]
    return PullDetails(
        pr=pr,
        opened_at=forge.opened_at(number),
        close_reason=forge.close_reason(number),
        reviews=views,
        current_approvers=tuple(user for user, v in approved if v.current),
        stale_approvers=tuple(user for user, v in approved if not v.current),
        report=forge.comment(number),
    )


def close_pull(forge: LocalForge, number: int, closed_by: str, reason: str = "") -> PullRequest:
    """Close pull request ``number`` without merging it: recorded as rejected, with who closed it, when and why.

    Its branch stays (like GitHub's): the requester's next run over it replaces it.
    """
    if not is_login(closed_by):
        raise UsageError(f"{closed_by!r} is not a login: whoever closes a pull request is a forge user name")
    return forge.close(number, closed_by=closed_by, reason=reason.strip())


@dataclass(frozen=True)
class Opened:
    """A pull request opened for a hand-made branch, and the validation report its description shows."""

    pr: PullRequest
    report: Report


def _check_branch(git: GitRepo, branch: str, base: str) -> tuple[str, str]:
    if branch == base:
        raise UsageError(f"a pull request merges a branch into another: {branch!r} is the base itself")
    head_sha = git.branch_sha(branch)
    if head_sha is None:
        raise UsageError(f"no branch {branch!r} in {git.root}: commit your change on a branch first")
    base_sha = _base_sha(git, base)
    if _is_ancestor(git, head_sha, base_sha):
        raise UsageError(f"branch {branch!r} has no commit that {base} does not have: nothing to merge")
    return head_sha, base_sha


def open_pull(
    repo_path: str | os.PathLike[str],
    forge: LocalForge,
    branch: str,
    *,
    author: str,
    base: str = "main",
    title: str | None = None,
) -> Opened:
    """Open a pull request from a hand-made ``branch`` into ``base``, validated as its required check would be.

    The branch's changes are judged as merged into the base as it is now: a conflict, or a problem other than
    a gate (schema, integrity, immutability...), refuses and opens nothing. Gates are judged with no review yet
    (approvals pending) and, like any failing gate, shown in the description, which is the validation report.
    ``author`` is recorded as the requester: they cannot approve it.
    """
    if not is_login(author):
        raise UsageError(f"{author!r} is not a login: whoever opens a pull request is a forge user name")
    git = GitRepo(repo_path)
    head_sha, base_sha = _check_branch(git, branch, base)
    tree = git.merge_tree(base_sha, head_sha)
    if tree is None:
        raise CheckFailed(f"branch {branch!r} conflicts with {base}: rebase it on {base} first")
    # the merge as a commit nothing points at (git's gc removes it): what the check judges
    merged = git.write_commit([base_sha, head_sha], {}, f"Merge branch {branch}\n", _ident(author), tree=tree)
    base_tree = GitTree(git, base_sha)
    report = validate(GitTree(git, merged), base_tree, git.changed_paths(base_sha, merged, watched(base_tree)))
    report.head = branch
    problems = [f for f in report.errors if family(f.rule) not in (Family.GATE, Family.POLICY)]
    if problems:
        listing = "; ".join(f"{f.path}: {f.rule} {f.message}" for f in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UsageError(f"branch {branch!r} would not pass validation: {listing}{more}; nothing was opened")
    title = (title or "").strip() or git.subject(head_sha)
    pr = forge.open_pull_request(
        title=title, body=_body(report, author), head=branch, base=base, labels=[LABEL], author=author
    )
    # judged again as the pull request it now is (no review yet): the gates say whose approval they wait for
    report = validate(
        GitTree(git, merged),
        base_tree,
        git.changed_paths(base_sha, merged, watched(base_tree)),
        reviews=ForgeReviews(forge, pr.number, head_sha),
    )
    report.head = branch
    return Opened(forge.set_body(pr.number, _body(report, author)), report)


def _body(report: Report, author: str) -> str:
    return (
        f"{report_markdown(report)}\n_Validation report by mlgate when the pull request was opened, before any "
        f"review; the `validate` check re-judges with the reviews._\n\n{requester_trailer(author)}\n"
    )
