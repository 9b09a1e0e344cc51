"""Fixtures shared by the attacks: the example registry with a local forge whose teams match its policy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo


@pytest.fixture
def lab(repo: RegistryRepo) -> tuple[RegistryRepo, LocalForge]:
    """The example registry, and a local forge where dave and erin are ML leads and pat a platform admin."""
    forge = LocalForge(repo.root)
    forge.set_team("@acme/ml-leads", ["dave", "erin"])
    forge.set_team("@acme/ml-platform", ["pat"])
    return repo, forge


#: the training data digest the attacks' registrations record
DIGEST = hashlib.sha256(b"d").hexdigest()


def register_args(artifact: Path, folder: Path, model: str = "search-ranker") -> list[str]:
    """``mlgate register`` of ``artifact`` with the eval.yaml and card.md in ``folder`` and a complete lineage."""
    return [
        "register", model, "--artifact", str(artifact),
        "--eval", str(folder / "eval.yaml"), "--card", str(folder / "card.md"),
        "--run-id", "r", "--git-sha", "a" * 40, "--code-repo", "https://x.test/y",
        "--dataset-uri", "s3://d/x", "--dataset-sha256", DIGEST,
    ]  # fmt: skip
