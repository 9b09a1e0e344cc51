"""Reviews without a forge: a pull request whose reviewers, teams and permissions a test scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlgate.core.signoff import PullRequest, Review

#: the teams the example registry's policy names (registry/policy.yaml), with the members its examples use:
#: ML leads approve promotions to champion, the platform team is the admins who approve policy changes
EXAMPLE_TEAMS: Mapping[str, tuple[str, ...]] = {"@acme/ml-leads": ("dave", "erin"), "@acme/ml-platform": ("pat",)}


class StaticReviews:
    """An in-memory :class:`mlgate.core.signoff.ReviewSource`: a pull request whose reviews you script.

    >>> reviews = StaticReviews(author="alice", head_sha=repo.rev("pr"), teams=EXAMPLE_TEAMS)
    >>> reviews.review("dave")                      # APPROVED on the head commit
    >>> reviews.review("erin", "CHANGES_REQUESTED")
    >>> validate_repo(repo.root, base="main", head="pr", reviews=reviews)
    """

    def __init__(
        self,
        author: str,
        head_sha: str,
        number: int = 1,
        teams: Mapping[str, Iterable[str]] | None = None,
        permissions: Mapping[str, str | None] | None = None,
        requester: str | None = None,
        pushers: tuple[str, ...] = (),
    ) -> None:
        self.author = author
        self.head_sha = head_sha
        self.number = number
        self.teams = {k.lower(): {u.lower() for u in v} for k, v in (teams or {}).items()}
        #: login -> permission (None: unknown); anyone not listed has write
        self.permissions = {k.lower(): v for k, v in (permissions or {}).items()}
        self.requester = requester
        self.pushers = pushers
        self.reviews: list[Review] = []
        #: how many times the pull request was read (a gate reads it once per run)
        self.calls = 0

    def review(self, user: str, state: str = "APPROVED", commit: str | None = None) -> StaticReviews:
        """Add ``user``'s review (submitted after every earlier one) on ``commit``, by default the head."""
        self.reviews.append(Review(user, state, commit or self.head_sha, f"2026-01-01T00:00:{len(self.reviews):02d}Z"))
        return self

    def pull_request(self) -> PullRequest:
        self.calls += 1
        return PullRequest(
            self.number, self.author, self.head_sha, tuple(self.reviews), requester=self.requester, pushers=self.pushers
        )

    def is_member(self, user: str, team: str) -> bool | None:
        return user.lower() in self.teams.get(team.lower(), set())

    def permission(self, user: str) -> str | None:
        return self.permissions.get(user.lower(), "write")
