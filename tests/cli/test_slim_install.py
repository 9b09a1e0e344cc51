"""The core install works without PyGithub (the `github` extra); the github forge says which extra to install."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mlgate.testing import RegistryRepo

#: as if `pip install mlgate` had run without the `github` extra: PyGithub and requests cannot be imported
WITHOUT_GITHUB = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("github", "requests"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
"""


def slim(*code: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_GITHUB + "\n".join(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def mlgate(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return slim("from mlgate.cli import main", f"sys.exit(main({list(args)!r}))", cwd=cwd, env=env)


def test_the_github_forge_names_the_extra_to_install(repo: RegistryRepo) -> None:
    env = {"GITHUB_TOKEN": "t0ken", "GITHUB_REPOSITORY": "acme/registry", "GITHUB_API_URL": "http://127.0.0.1:9"}
    ran = mlgate("-C", str(repo.root), "validate", "--forge", "github", "--pr", "12", "--base", "main", env=env)
    assert ran.returncode == 2, ran.stderr
    assert ran.stderr == (
        "mlgate: error: the github forge needs PyGithub, which is not installed (no module 'github'): "
        "pip install 'mlgate[github]'\n"
    )
    assert ran.stdout == ""


def test_everything_else_works_without_it(repo: RegistryRepo) -> None:
    assert mlgate("--help").returncode == 0
    ran = mlgate("-C", str(repo.root), "validate")
    assert ran.returncode == 0 and ran.stdout.startswith("OK: no problems"), ran.stderr
    ran = mlgate("-C", str(repo.root), "resolve", "models:/fraud-detector@champion")
    assert ran.returncode == 0 and "fraud-detector" in ran.stdout, ran.stderr
    ran = slim(
        "import mlgate.serving as s",
        f"print(s.resolve('models:/fraud-detector@champion', s.open_source({str(repo.root)!r})).version)",
    )
    assert ran.returncode == 0 and ran.stdout.strip().isdigit(), ran.stderr


def test_pygithub_is_an_extra_that_the_test_extra_pulls_in() -> None:
    requires = metadata.requires("mlgate") or []

    def of(extra: str | None) -> set[str]:
        markers = (f'extra == "{extra}"', f"extra == '{extra}'")
        return {r.split(";")[0].strip() for r in requires if (any(m in r for m in markers) if extra else ";" not in r)}

    assert not any(r.lower().startswith(("pygithub", "requests")) for r in of(None))
    assert any(r.lower().startswith("pygithub") for r in of("github"))
    assert of("github") <= of("test")  # CI's `pip install '.[test]'` runs the github forge's tests
