"""Many files, one pull request: the write side for changes that span models (``mlgate import``).

A batch is read in two steps. :func:`open_base` gives the target branch's commit and tree, so the caller can
decide what is new; :func:`propose` turns a set of files into one commit on that very commit, refuses it if
the validator would (gates aside: they wait for review), and publishes it as register and promote do
(:func:`mlgate.change.propose._commit_and_publish`): one new branch, pushed when there is a remote, one pull request.
A failed run leaves the repository and its branches as they were; a re-run takes over the branch it left
(same files), or replaces its own unmerged change (other files), never anyone else's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlgate.change.propose import LABEL, Proposal, _commit_and_publish, _open_base
from mlgate.core import layout
from mlgate.errors import UsageError
from mlgate.forge import Forge
from mlgate.infra.git import GitRepo, GitTree


@dataclass(frozen=True)
class Base:
    """The target branch as a batch starts from it: its name, commit and tree."""

    git: GitRepo
    name: str
    sha: str
    tree: GitTree


def open_base(repo_path: str | os.PathLike[str], base: str, author: str) -> Base:
    """The repository's target branch ``base``; ``author`` must be a forge login (it requests the change)."""
    git, sha, tree = _open_base(repo_path, base, author)
    return Base(git, base, sha, tree)


def propose(
    base: Base,
    files: Mapping[str, bytes | None],
    *,
    branch: str,
    title: str,
    body: str,
    author: str,
    forge: Forge | None,
    open_pr: bool = True,
    labels: Sequence[str] = (),
    kind: str = "batch",
) -> Proposal:
    """``files`` (path -> content, None deletes) as one commit on ``base``, on ``branch``, as one pull request.

    Only paths under registry/ are accepted. Nothing is created when the change would not pass validation
    (:class:`UsageError` naming the first problems).
    """
    if not files:
        raise UsageError("nothing to write: a batch needs at least one file")
    outside = sorted(p for p in files if not p.startswith(f"{layout.REGISTRY}/"))
    if outside:
        raise UsageError(f"a batch writes only under {layout.REGISTRY}/, not {outside[0]!r}")
    return _commit_and_publish(
        base.git,
        kind=kind,
        base=base.name,
        base_sha=base.sha,
        files=files,
        message=f"{title}\n\n{_summary(files)}",
        branch=branch,
        title=title,
        body=body,
        forge=forge if open_pr else None,
        author=author,
        labels=[LABEL, *labels],
    )


def _summary(files: Mapping[str, bytes | None]) -> str:
    written = sum(1 for v in files.values() if v is not None)
    removed = len(files) - written
    return f"{written} file(s) written" + (f", {removed} removed" if removed else "") + ".\n"
