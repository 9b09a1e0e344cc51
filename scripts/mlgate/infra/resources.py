"""Where the files that ship with mlgate live: the JSON Schemas and the example registry.

In a wheel they sit inside the package (``mlgate/_data/``, mapped from the
repository's ``schemas/`` and ``registry/`` at build time). In a source checkout
or an editable install they are read from the repository itself, so there is
only ever one copy to edit.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # mlgate/, above infra/


def _find(name: str, source: str | None = None) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent.parent / (source or name)):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mlgate's {name}/ folder is missing from this installation (looked in {_PACKAGE})")


def schemas_dir() -> Path:
    """The folder holding ``*.schema.json``."""
    return _find("schemas")


def example_registry_dir() -> Path:
    """The example ``registry/`` folder (used by ``mlgate demo`` and the tests)."""
    return _find("registry")


def github_dir() -> Path:
    """This repository's .github/ (workflows, PR template), the templates of ``mlgate init``."""
    return _find("github", ".github")
