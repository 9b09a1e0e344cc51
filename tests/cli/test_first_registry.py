"""The README's "Your first registry" runs as written: every shell block in order, in an empty folder, with a
training checkout beside it. Two things are the test's own: the training run's files (and filling in the card,
which a person does by hand), and a ``--mlgate-requirement`` for ``init``, which pins a release and cannot pin
this editable checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests import ROOT

PIN = "mlgate==0.1.0 --hash=sha256:" + "a" * 64


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Your first registry\n", 1)[1].split("\n## ", 1)[0]


def _commands() -> list[str]:
    """The section's shell blocks as one script, without installing and without the shell start-up lines."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", _section(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("   #")[0].split("  #")[0].rstrip() if not line.startswith("#") else ""
            if not line or line.startswith(("pip install", "eval ", "_MLGATE_COMPLETE")):
                continue
            lines.append(line)
    return lines


def test_the_first_registry_walkthrough_runs_as_written(tmp_path: Path) -> None:
    home, train = tmp_path / "home", tmp_path / "train"
    home.mkdir()
    train.mkdir()
    (train / "model.pkl").write_bytes(b"weights" * 100)
    (train / "holdout.csv").write_text("x,y\n1,0\n")
    (train / "train.csv").write_text("x,y\n0,1\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLGATE_", "GIT_"))},
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for args in (["config", "--global", "user.name", "José Müller"], ["config", "--global", "user.email", "j@x.org"]):
        subprocess.run(["git", *args], env=env, check=True)
    for args in (["init", "-q"], ["remote", "add", "origin", "https://github.com/jose/churn.git"]):
        subprocess.run(["git", "-C", str(train), *args], env=env, check=True)
    subprocess.run(["git", "-C", str(train), "add", "-A"], env=env, check=True)
    subprocess.run(["git", "-C", str(train), "commit", "-qm", "training code"], env=env, check=True)

    commands = _commands()
    assert any(c.startswith("mlgate init") for c in commands) and any("rollback" not in c for c in commands)
    cwd = tmp_path
    for command in commands:
        if command.startswith("mlgate init"):
            command += f" --mlgate-requirement '{PIN}'"
        ran = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, f"`{command}` exited {ran.returncode}:\n{ran.stdout}\n{ran.stderr}"
        assert "Traceback" not in ran.stderr
        if command.startswith("mlgate new card"):  # the person fills in each section
            card = train / "card.md"
            card.write_text(re.sub(r"<!--.*?-->", "Filled in.", card.read_text(), flags=re.S))
        target = re.match(r"(?:mkdir \S+ && )?cd (\S+)", command)
        if target:
            cwd = (cwd / target.group(1)).resolve()
        if command.startswith("mlgate resolve"):
            assert "models:/churn@champion -> version 1" in ran.stdout
            assert f"file://{train / 'model.pkl'}" in ran.stdout
        if command.startswith("mlgate show churn"):
            assert re.search(r"auc", ran.stdout) and "0.86" in ran.stdout
    history = subprocess.run(
        ["mlgate", "history", "churn"], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "promotion" in history and "jose" in history and "Jos-M" not in history
