"""Test helpers for mlgate and for code that uses it: real git repositories in a folder.

>>> repo = RegistryRepo.create(tmp_path)            # example registry, committed on main
>>> repo.branch("pr-1")
>>> repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
>>> repo.commit("Promote v3")
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.core import layout
from mlgate.infra.git import GitRepo
from mlgate.infra.resources import example_registry_dir
from mlgate.infra.yamlio import dump, load

if TYPE_CHECKING:
    from mlgate.core.signoff import PullRequest, Review

AUTHOR = "Test Author <author@example.com>"


class RegistryRepo:
    """A real git repository holding a registry, with helpers to change and commit it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.git = GitRepo(self.root)

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, example: bool = True, branch: str = "main") -> RegistryRepo:
        """A new repository at ``path``; with ``example``, the example registry committed on ``branch``."""
        GitRepo.init(path, branch=branch).close()
        repo = cls(Path(path))
        if example:
            shutil.copytree(example_registry_dir(), repo.root / layout.REGISTRY)
            repo.commit("Initial registry")
        return repo

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, content: str | bytes | dict[str, Any]) -> Path:
        """Write a file (a dict is dumped as YAML), creating folders as needed."""
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = dump(content)
        if isinstance(content, str):
            content = content.encode("utf-8")
        p.write_bytes(content)
        return p

    def read_yaml(self, rel: str) -> dict[str, Any]:
        data: dict[str, Any] = load(self.path(rel).read_bytes(), rel).data
        return data

    def edit_yaml(self, rel: str, **fields: Any) -> Path:
        """Set top-level fields of a YAML manifest."""
        data = self.read_yaml(rel)
        data.update(fields)
        return self.write(rel, data)

    def delete(self, rel: str) -> None:
        p = self.path(rel)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()

    def symlink(self, rel: str, target: str) -> None:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)

    def commit(
        self, message: str, author: str = AUTHOR, *, committer: str | None = None, date: str | None = None
    ) -> str:
        """Commit every change; ``date`` (ISO 8601) sets both author and committer dates."""
        return self.git.commit_all(message, author=author, committer=committer, date=date)

    def branch(self, name: str, start: str | None = None) -> None:
        """Create ``name`` (from ``start`` or HEAD) and switch to it."""
        if start:
            self.git.switch(start)
        self.git.switch(name, create=True)

    def switch(self, name: str) -> None:
        self.git.switch(name)

    def merge(
        self,
        branch: str,
        into: str = "main",
        message: str | None = None,
        *,
        author: str = AUTHOR,
        date: str | None = None,
    ) -> str:
        """Merge ``branch`` into ``into`` with a merge commit (as a forge merges a pull request)."""
        self.git.switch(into)
        return self.git.merge(branch, message or f"Merge branch '{branch}'", author=author, date=date)

    def add_version(
        self,
        model: str,
        version: int,
        like: int,
        metrics: dict[str, Any] | None = None,
        card: str | None = None,
        drop_metrics: tuple[str, ...] = (),
    ) -> None:
        """Write version ``version`` of ``model`` as a copy of version ``like``, with other metrics or card."""
        src, dst = layout.version_dir(model, like), layout.version_dir(model, version)
        for f in sorted(self.path(src).iterdir()):
            self.write(f"{dst}/{f.name}", f.read_bytes())
        for name in ("version.yaml", "eval.yaml"):
            self.edit_yaml(f"{dst}/{name}", version=version)
        ev = self.read_yaml(f"{dst}/eval.yaml")
        ev["metrics"] = {k: v for k, v in {**ev["metrics"], **(metrics or {})}.items() if k not in drop_metrics}
        self.write(f"{dst}/eval.yaml", ev)
        if card is not None:
            self.write(f"{dst}/card.md", card)

    def rev(self, ref: str = "HEAD") -> str:
        return self.git.resolve(ref)

    def status(self) -> str:
        """``git status --porcelain`` plus the branch list: compare before/after to prove nothing changed."""
        return self.git.git("status", "--porcelain", "--untracked-files=all") + self.git.git(
            "branch", "-av", "--no-abbrev"
        )

    def close(self) -> None:
        self.git.close()


class StaticReviews:
    """An in-memory :class:`mlgate.reviews.ReviewSource`: a pull request whose reviews you script.

    >>> reviews = StaticReviews(author="alice", head_sha=repo.rev("pr"), teams={"@acme/ml-leads": {"dave"}})
    >>> reviews.review("dave")                      # APPROVED on the head commit
    >>> reviews.review("erin", "CHANGES_REQUESTED")
    """

    def __init__(
        self,
        author: str,
        head_sha: str,
        number: int = 1,
        teams: dict[str, set[str]] | None = None,
        permissions: dict[str, str | None] | None = None,
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
        self.calls = 0

    def review(self, user: str, state: str = "APPROVED", commit: str | None = None) -> StaticReviews:
        from mlgate.core.signoff import Review

        self.reviews.append(Review(user, state, commit or self.head_sha, f"2026-01-01T00:00:{len(self.reviews):02d}Z"))
        return self

    def pull_request(self) -> PullRequest:
        from mlgate.core.signoff import PullRequest

        self.calls += 1
        return PullRequest(
            self.number, self.author, self.head_sha, tuple(self.reviews), requester=self.requester, pushers=self.pushers
        )

    def is_member(self, user: str, team: str) -> bool | None:
        return user.lower() in self.teams.get(team.lower(), set())

    def permission(self, user: str) -> str | None:
        return self.permissions.get(user.lower(), "write")
