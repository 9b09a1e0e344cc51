"""``mlgate init`` from any folder: an empty one (``git init``), a repository with no commit yet (the set-up is its
first commit) or an existing repository (the files are left for the user to commit), on whatever branch the
repository calls its default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

from mlgate.change.scaffold import plan, write_files
from mlgate.errors import GitError, UsageError
from mlgate.infra.defaults import BASE_KEY, FALLBACK_BRANCH, git_config, remote_default_branch
from mlgate.infra.git import GitRepo

FIRST_COMMIT = "Set up mlgate"


@dataclass(frozen=True)
class Initialised:
    """What ``mlgate init`` did."""

    root: Path
    #: the registry's branch (where pull requests merge, publish.yml runs)
    branch: str
    written: list[str] = field(default_factory=list)
    #: ``git init`` ran here
    created_repository: bool = False
    #: the first commit init made, when the repository had none
    commit: str | None = None
    #: ``git config mlgate.base`` was set to ``branch`` (no remote names a default branch)
    recorded_base: bool = False
    #: the repository had no commit, but git does not know who you are: the first commit is left to you
    no_identity: bool = False

    def next_step(self) -> str | None:
        """What the user has to do with the files, when init did not commit them."""
        if self.commit is not None:
            return None
        paths = " ".join(sorted({p.split("/", 1)[0] for p in self.written}))
        who = "git config --global user.name 'Your Name' && git config --global user.email you@example.com && "
        return (
            f"{who if self.no_identity else ''}git add {paths} && git commit -m '{FIRST_COMMIT}'   # on {self.branch}"
        )


def is_repository(directory: str | os.PathLike[str]) -> bool:
    """Whether ``directory`` is inside a git work tree."""
    try:
        GitRepo(directory)
    except GitError:
        return False
    return True


def _git(cwd: Path, *args: str, what: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"git exited with {proc.returncode}"
        raise GitError(f"{what} failed: {detail}")
    return proc.stdout.strip()


def _has_commit(root: Path) -> bool:
    return subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=root).returncode == 0


def _knows_who(cwd: Path) -> bool:
    """Whether git can name the author of a commit made here (``user.name`` and ``user.email``)."""
    return all(
        subprocess.run(["git", "var", var], cwd=cwd, capture_output=True).returncode == 0
        for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")
    )


def _existing_parent(path: Path) -> Path:
    probe = path.absolute()
    while not probe.is_dir():
        probe = probe.parent
    return probe


def init_registry(
    directory: str | os.PathLike[str] = ".",
    admins: Sequence[str] = (),
    reviewers: Sequence[str] = (),
    *,
    git_init: bool = False,
    requirement: str | None = None,
    distribution: metadata.Distribution | None = None,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
) -> Initialised:
    """Make ``directory`` an mlgate registry (``mlgate init``).

    Not a git repository: with ``git_init``, ``git init`` on git's ``init.defaultBranch`` (else ``main``);
    without it, a UsageError. The registry's branch is the remote's default branch when one is known, else the
    current branch, recorded as ``git config mlgate.base`` (what ``register``/``promote`` ``--base`` default
    to). A repository with no commit gets the set-up as its first commit, on that branch (when git knows the author's name and email; otherwise
    :meth:`Initialised.next_step` says what to run); in one with commits,
    the files are left for the user to review and commit. Every check runs before anything is written or
    created.
    """
    root = Path(directory)
    repository = root.is_dir() and is_repository(root)
    if not repository and not git_init:
        raise UsageError(
            f"{directory} is not a git repository: pass --git-init to create one there (or run `git init` first)"
        )
    if repository:
        branch = remote_default_branch(root) or GitRepo(root).current_branch() or FALLBACK_BRANCH
        first = not _has_commit(root)
    else:
        branch = git_config(_existing_parent(root), "init.defaultBranch") or FALLBACK_BRANCH
        _git(_existing_parent(root), "check-ref-format", "--branch", branch, what=f"the branch name {branch!r}")
        first = True
    files = plan(
        root,
        admins,
        reviewers,
        requirement=requirement,
        distribution=distribution,
        metrics=metrics,
        branch=branch,
    )
    # the first commit needs git's author identity; without one, init says what to run instead of failing
    unknown = first and not _knows_who(root if repository else _existing_parent(root))
    if not repository:
        GitRepo.init(root, branch=branch).close()
    written: list[str] = []
    recorded = False
    try:
        written = write_files(root, files)
        if remote_default_branch(root) is None:
            _git(root, "config", BASE_KEY, branch, what=f"git config {BASE_KEY}")
            recorded = True
        commit = None
        if first and not unknown:
            _git(root, "add", "--", *written, what="git add")
            _git(root, "commit", "--quiet", "-m", FIRST_COMMIT, "--", *written, what="the first commit")
            commit = _git(root, "rev-parse", "HEAD", what="git rev-parse")
    except (GitError, OSError):
        _undo(root, written, recorded, created=not repository)
        raise
    return Initialised(root, branch, written, not repository, commit, recorded, unknown)


def _undo(root: Path, written: list[str], recorded: bool, *, created: bool) -> None:
    """Leave the folder as init found it: a failed init writes nothing."""
    if created:
        shutil.rmtree(root / ".git", ignore_errors=True)
    elif recorded:
        subprocess.run(["git", "config", "--unset", BASE_KEY], cwd=root, capture_output=True)
    if not created and written:
        subprocess.run(["git", "rm", "--cached", "--quiet", "--ignore-unmatch", "--", *written], cwd=root)
    for rel in written:
        (root / rel).unlink(missing_ok=True)
        for parent in Path(rel).parents:
            if parent != Path(".") and (root / parent).is_dir() and not any((root / parent).iterdir()):
                (root / parent).rmdir()
