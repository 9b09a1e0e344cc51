"""The built wheel carries the schemas and example registry, and works outside the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlgate.testing import RegistryRepo
from tests import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("mlgate-*.whl"))


def test_wheel_ships_the_same_schema_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for schema in (ROOT / "schemas").glob("*.json"):
            inside = f"mlgate/_data/schemas/{schema.name}"
            assert inside in names
            assert zf.read(inside) == schema.read_bytes()
        assert "mlgate/_data/registry/policy.yaml" in names
        assert "mlgate/_data/github/workflows/validate.yml" in names  # mlgate init and the demo need them
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "mlgate = mlgate.cli:main" in entry_points


def test_installed_wheel_validates_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
    )
    work = RegistryRepo.create(tmp_path / "elsewhere")
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import mlgate.infra.resources as r, mlgate.cli as c, sys; print(r.schemas_dir()); sys.exit(c.main(['validate']))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=work.root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    schemas_dir, report = proc.stdout.split("\n", 1)
    assert schemas_dir == str(target / "mlgate" / "_data" / "schemas")
    assert report.startswith("OK: no problems (49 files checked")
    demo = subprocess.run(
        [sys.executable, "-c", "import sys, mlgate.cli as c; sys.exit(c.main(['demo']))"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr
    assert "Every promotion was gated, reviewed, merged and reversible" in demo.stdout
