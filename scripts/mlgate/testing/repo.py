"""Real git repositories holding a registry, in a folder, with helpers to change, commit, merge and push them.

>>> repo = RegistryRepo.create(tmp_path)            # example registry, committed on main
>>> repo.branch("pr-1")
>>> repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
>>> repo.commit("Promote v3")
>>> origin = repo.add_origin(tmp_path / "origin.git")   # a bare remote to push branches to
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mlgate.core import layout
from mlgate.infra.git import GitRepo
from mlgate.infra.resources import example_registry_dir
from mlgate.infra.yamlio import dump, load

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

    def add_origin(self, path: str | os.PathLike[str], name: str = "origin") -> Path:
        """A bare clone of this repository at ``path``, added as its remote ``name``: where mlgate pushes the
        branches of its pull requests. Returns the clone's path (read it with :func:`branch_sha`)."""
        _git("clone", "--quiet", "--bare", str(self.root), str(path))
        self.git.git("remote", "add", name, str(path))
        return Path(path)

    @classmethod
    def clone(cls, source: str | os.PathLike[str], path: str | os.PathLike[str]) -> RegistryRepo:
        """A clone of ``source`` (a repository or a bare ``origin``) at ``path``: another user's checkout."""
        _git("clone", "--quiet", str(source), str(path))
        return cls(Path(path))

    def rev(self, ref: str = "HEAD") -> str:
        return self.git.resolve(ref)

    def status(self) -> str:
        """``git status --porcelain`` plus the branch list: compare before/after to prove nothing changed."""
        return self.git.git("status", "--porcelain", "--untracked-files=all") + self.git.git(
            "branch", "-av", "--no-abbrev"
        )

    def close(self) -> None:
        self.git.close()


def branch_sha(git_dir: str | os.PathLike[str], branch: str) -> str | None:
    """The commit ``branch`` points at in the repository at ``git_dir`` (bare or not), or None if it has no such
    branch. Plain git, not mlgate's, so that a test checks what mlgate pushed with another reader."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        cwd=git_dir,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() or None


def _git(*args: str) -> None:
    subprocess.run(["git", *args], check=True, capture_output=True)
