"""``mlgate init``: the files a repository needs to become an mlgate registry."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

from . import __version__, layout
from .errors import UsageError
from .gitrepo import GitRepo
from .resources import github_dir
from .yamlio import dump

INSTALL_FROM_CHECKOUT = "run: python -m pip install ."
INSTALL_PINNED = "run: python -m pip install -r .github/mlgate-requirements.txt"
PLACEHOLDER_ADMIN = "@OWNER/ml-platform"


def _policy(admins: Sequence[str], reviewers: Sequence[str]) -> str:
    data = {
        "apiVersion": "mlgate/v1",
        "kind": "Policy",
        "description": "Promotion gates. Edit to taste; changes to this file need an admin's approval.",
        "admins": list(admins),
        "aliases": {
            "champion": {
                "evidence": ["eval", "card"],
                "metrics": {},
                "card_sections": ["Intended use", "Training data", "Evaluation", "Limitations"],
                "approvals": {"min": 2, "from": list(reviewers), "exclude_author": True},
                "rollback": {"approvals": {"min": 1}},
            },
            "*": {"evidence": ["eval"], "approvals": {"min": 1}},
        },
    }
    return "# mlgate policy: see the README's 'Policy and promotion gates'.\n" + dump(data)


def _codeowners(admins: Sequence[str], reviewers: Sequence[str]) -> str:
    return (
        "# Reviews GitHub requests (and, with 'Require review from Code Owners', requires).\n"
        f"/registry/policy.yaml   {' '.join(admins)}\n"
        f"/.github/               {' '.join(admins)}\n"
        f"/registry/models/       {' '.join(reviewers)}\n"
        "# Give each model its owners, e.g.:\n"
        "# /registry/models/fraud-detector/   @acme/fraud-ml\n"
    )


def planned_files(admins: Sequence[str], reviewers: Sequence[str]) -> dict[str, str]:
    shipped = github_dir()
    workflow = (shipped / "workflows" / "validate.yml").read_text()
    publish = (shipped / "workflows" / "publish.yml").read_text()
    if INSTALL_FROM_CHECKOUT not in workflow or INSTALL_FROM_CHECKOUT not in publish:
        raise UsageError("the shipped workflows have no install step to adapt (a packaging bug)")
    return {
        f"{layout.REGISTRY}/policy.yaml": _policy(admins, reviewers),
        f"{layout.MODELS}/.gitkeep": "",
        ".github/workflows/validate.yml": workflow.replace(INSTALL_FROM_CHECKOUT, INSTALL_PINNED),
        ".github/workflows/publish.yml": publish.replace(INSTALL_FROM_CHECKOUT, INSTALL_PINNED),
        ".github/mlgate-requirements.txt": f"# the mlgate that judges pull requests, read from the base branch\nmlgate=={__version__}\n",
        ".github/CODEOWNERS": _codeowners(admins, reviewers),
        ".github/pull_request_template.md": (shipped / "pull_request_template.md").read_text(),
    }


def _symlink_on_the_way(root: Path, rel: str) -> str | None:
    """The first folder on the way to ``rel`` (inside ``root``) that is a symlink, if any."""
    parts = rel.split("/")
    for i in range(1, len(parts)):
        if (root / "/".join(parts[:i])).is_symlink():
            return "/".join(parts[:i])
    return None


def scaffold(directory: str | os.PathLike[str], admins: Sequence[str] = (), reviewers: Sequence[str] = ()) -> list[str]:
    """Write the registry skeleton into the repository at ``directory``; refuse if any file exists."""
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"{directory} is not a folder")
    GitRepo(root)  # must be a git repository
    admins = tuple(admins) or (PLACEHOLDER_ADMIN,)
    reviewers = tuple(reviewers) or admins
    from .schemas import errors

    problems = list(errors("Policy", {"apiVersion": "mlgate/v1", "kind": "Policy", "admins": list(admins),
                                      "aliases": {"*": {"approvals": {"min": 1, "from": list(reviewers)}}}}))
    if problems:
        raise UsageError(f"--admin/--reviewer: {problems[0].instance!r} is not a user login or an @org/team")
    files = planned_files(admins, reviewers)
    linked = sorted({link for p in files if (link := _symlink_on_the_way(root, p))})
    if linked:
        raise UsageError(f"refusing to write through a symlink: {', '.join(linked)} "
                         f"{'is a symlink' if len(linked) == 1 else 'are symlinks'}; nothing was written")
    existing = [p for p in files if (root / p).exists() or (root / p).is_symlink()]
    if existing:
        raise UsageError(f"refusing to overwrite: {', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; nothing was written")
    written = []
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mlgate-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
        written.append(rel)
    return written
