"""Rollback detection without walking history: a pull request proves it returns an alias to a former holder.

The rollback gate (lighter than the promotion gate) applies only to a move back that the pull request's own
commits prove, with a claim the base answers in O(1):

- ``This reverts commit <sha>.`` (as ``git revert`` writes it): ``<sha>`` is a commit on the base's
  first-parent history, and its change of this alias is exactly the inverse of the pull request's: at
  ``<sha>`` the alias held the version the base holds now (the pull request's "from"), and at ``<sha>``'s
  first parent it held the pull request's target.
- ``Mlgate-Rollback-Held-At: <sha>`` (as ``mlgate rollback --to VERSION`` writes it): ``<sha>`` is a commit
  on the base's first-parent history at which the alias held the pull request's target.

Each claim is checked against the base, never trusted: a forged, unknown, abbreviated or foreign sha, a
commit merged only through a pull request branch (not on the first-parent history), a commit that moved
another alias, or one whose change is not the inverse proves nothing, and the move is judged by the full
promotion gate. Verifying a claim reads two commits and two blobs through the object reader and lists the
first-parent commits since the named one (``git rev-list --since``, which stops there): its cost follows
how far back the rollback goes, not the size of the history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from mlgate.core import layout
from mlgate.infra.git import GitRepo
from mlgate.registry.readers import alias_version_or_none

#: the trailer ``mlgate rollback --to`` writes: the alias held the target version at this first-parent commit
HELD_AT = "Mlgate-Rollback-Held-At"
REVERT = "revert"
HELD = "held"

#: git revert's line: "This reverts commit <sha>." or, for a merge, "This reverts commit <sha>, reversing"
_REVERTS = re.compile(r"^This reverts commit ([0-9a-f]{64}|[0-9a-f]{40})(?:\.|, reversing)?[ \t]*$", re.M)
_HELD = re.compile(rf"^{HELD_AT}:[ \t]*([0-9a-f]{{40}}|[0-9a-f]{{64}})[ \t]*$", re.M)
#: a pull request with more commits than this is not searched for claims (its moves back are promotions)
MAX_PR_COMMITS = 250
#: slack for clocks: the first-parent walk looks this far before the named commit's committer time
_SKEW = 86_400


@dataclass(frozen=True)
class Claim:
    """A commit a pull request names as proof of a rollback: ``kind`` is :data:`REVERT` or :data:`HELD`."""

    kind: str
    commit: str

    def trailer(self) -> str:
        return f"This reverts commit {self.commit}." if self.kind == REVERT else f"{HELD_AT}: {self.commit}"


@dataclass(frozen=True)
class Proof:
    """A verified claim: the commit on the base's first-parent history that shows the alias held the target."""

    claim: Claim
    model: str
    alias: str
    to_version: int

    def describe(self) -> str:
        if self.claim.kind == REVERT:
            return (
                f"reverts commit {self.claim.commit[:12]}, which moved {self.model}@{self.alias} off v{self.to_version}"
            )
        return f"{self.model}@{self.alias} held v{self.to_version} at commit {self.claim.commit[:12]}"


def claims_in(messages: Sequence[str]) -> list[Claim]:
    """Every claim in commit messages, in order, each once."""
    found: dict[Claim, None] = {}
    for message in messages:
        for m in _REVERTS.finditer(message):
            found[Claim(REVERT, m.group(1))] = None
        for m in _HELD.finditer(message):
            found[Claim(HELD, m.group(1))] = None
    return list(found)


Prover = Callable[[str, str, "int | None", "int | None"], "Proof | None"]


def no_proof(model: str, alias: str, from_v: int | None, to_v: int | None) -> Proof | None:
    return None


class RollbackProver:
    """Verifies a pull request's claims against ``base`` (a commit of ``repo``), lazily and once each.

    ``claims`` is a list, or a function returning one (called on the first move that needs it: a pull
    request that moves no alias back never reads its commit messages).
    """

    def __init__(self, repo: GitRepo, base: str, claims: Sequence[Claim] | Callable[[], Sequence[Claim]]) -> None:
        self.repo = repo
        self.base = base
        self._claims = claims
        self._chain: dict[str, bool] = {}

    def claims(self) -> Sequence[Claim]:
        if callable(self._claims):
            self._claims = self._claims()
        return self._claims

    def __call__(self, model: str, alias: str, from_v: int | None, to_v: int | None) -> Proof | None:
        if from_v is None or to_v is None or from_v == to_v:
            return None
        path = layout.alias_path(model, alias)
        for claim in self.claims():
            if self._holds(claim, path, from_v, to_v):
                return Proof(claim, model, alias, to_v)
        return None

    def _holds(self, claim: Claim, path: str, from_v: int, to_v: int) -> bool:
        header = self.repo.commit_header(claim.commit)
        if header is None:
            return False  # unknown, or not a commit
        parents, when = header
        if claim.kind == REVERT:
            if not parents or self._version(claim.commit, path) != from_v:
                return False
            if self._version(parents[0], path) != to_v:
                return False
        elif self._version(claim.commit, path) != to_v:
            return False
        return self._on_chain(claim.commit, when)

    def _version(self, commit: str, path: str) -> int | None:
        got = self.repo.objects.contents(f"{commit}:{path}")
        return alias_version_or_none(got[1] if got and got[0] == "blob" else None, path)

    def _on_chain(self, sha: str, when: int) -> bool:
        if sha not in self._chain:
            self._chain[sha] = self.repo.on_first_parent_chain(self.base, sha, when - _SKEW)
        return self._chain[sha]


def pull_request_claims(repo: GitRepo, base: str, head: str) -> Callable[[], list[Claim]]:
    """The claims in the messages of the commits ``head`` has and ``base`` lacks (none past
    :data:`MAX_PR_COMMITS` commits: such a pull request's moves back are judged as promotions)."""

    def read() -> list[Claim]:
        messages = repo.messages(base, head, MAX_PR_COMMITS)
        return claims_in(messages) if messages is not None else []

    return read
