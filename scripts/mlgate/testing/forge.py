"""The local forge (pull requests as branches of the repository, reviews recorded beside them) set up as the
example registry expects, and the review-then-merge steps tests repeat.

>>> forge = local_forge(repo.root)                  # dave and erin lead ML, pat runs the platform
>>> proposal = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
>>> merge_approved(repo.root, forge, proposal.pr.number, "dave", "erin")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mlgate.testing.reviews import EXAMPLE_TEAMS

if TYPE_CHECKING:
    from mlgate.forge.local import LocalForge


def local_forge(repo_path: str | os.PathLike[str], teams: Mapping[str, Iterable[str]] = EXAMPLE_TEAMS) -> LocalForge:
    """The local forge of the repository at ``repo_path``, with ``teams`` (default: the example registry's)."""
    from mlgate.forge.local import LocalForge

    forge = LocalForge(repo_path)
    for team, members in teams.items():
        forge.set_team(team, list(members))
    return forge


def approve(forge: LocalForge, number: int, *users: str) -> None:
    """Each of ``users`` approves pull request ``number`` on its current head."""
    for user in users:
        forge.review(number, user, "APPROVED")


def merge_approved(
    repo_path: str | os.PathLike[str], forge: LocalForge, number: int, *approvers: str, merger: str | None = None
) -> str:
    """``approvers`` approve pull request ``number``, then ``merger`` (default: the first approver) merges it
    the way ``mlgate merge`` does, refused unless validation passes. Returns the merge commit."""
    from mlgate.change.propose import merge_pull_request

    approve(forge, number, *approvers)
    who = merger or (approvers[0] if approvers else None)
    if who is None:
        raise ValueError("merge_approved needs an approver or a merger")
    sha, _ = merge_pull_request(repo_path, forge, number, who)
    return sha
