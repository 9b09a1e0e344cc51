"""What a repository's git configuration says mlgate should default to: the registry's branch, the acting user.

Read-only and forgiving: outside a git repository, or when git says nothing, each answer falls back to the
next source, so that a command can still fail with its own, clearer error.
"""

from __future__ import annotations

import os
import subprocess

#: git config key naming the registry's target branch (``mlgate init`` records it when there is no remote)
BASE_KEY = "mlgate.base"
#: git config key naming the acting user's forge login
USER_KEY = "mlgate.user"
FALLBACK_BRANCH = "main"


def _git(path: str | os.PathLike[str], *args: str) -> str | None:
    """git's output (stripped) in ``path``, or None when git fails or says nothing."""
    where = os.fspath(path)
    if not os.path.isdir(where):
        return None
    try:
        proc = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True)
    except OSError:  # no git on PATH: the command's own git call says so
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


def git_config(path: str | os.PathLike[str], key: str) -> str | None:
    """The value of git config ``key`` as seen from ``path`` (repository, global or system), or None."""
    return _git(path, "config", "--get", key)


def branch_exists(path: str | os.PathLike[str], branch: str) -> bool:
    return _git(path, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}") is not None


def remote_default_branch(path: str | os.PathLike[str], remote: str = "origin") -> str | None:
    """The branch ``remote``'s HEAD points at, as the last clone or ``git remote set-head`` recorded it."""
    ref = _git(path, "symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD")
    prefix = f"refs/remotes/{remote}/"
    return ref[len(prefix) :] if ref and ref.startswith(prefix) and len(ref) > len(prefix) else None


def default_branch(path: str | os.PathLike[str] = ".") -> str:
    """The registry's target branch for the repository at ``path``: the branch pull requests merge into.

    In order: git config ``mlgate.base`` (``mlgate init`` records it), the remote's default branch
    (``origin/HEAD``), git's ``init.defaultBranch`` when the repository has that branch, else ``main``.
    """
    configured = git_config(path, BASE_KEY)
    if configured:
        return configured
    remote = remote_default_branch(path)
    if remote:
        return remote
    initial = git_config(path, "init.defaultBranch")
    if initial and branch_exists(path, initial):
        return initial
    return FALLBACK_BRANCH
