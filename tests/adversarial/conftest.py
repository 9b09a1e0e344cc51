"""Fixtures shared by the attacks: the example registry with a local forge whose teams match its policy."""

from __future__ import annotations

import pytest

from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo


@pytest.fixture
def lab(repo: RegistryRepo, forge: LocalForge) -> tuple[RegistryRepo, LocalForge]:
    """The example registry, and a local forge where dave and erin are ML leads and pat a platform admin."""
    return repo, forge
