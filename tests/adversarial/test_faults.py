"""Fault injection for register / promote / rollback: fail or kill the command at each step.

A failure leaves the repository and its branches (local and remote) as they were; a kill can leave the
new branch behind, and running the same command again takes it over and finishes. Either way the
command can be re-run to success, and exactly one pull request results.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgate.change.propose import merge_pull_request, promote
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo
from tests.adversarial.conftest import DIGEST, register_args

STEPS = {
    "after-commit": ("mlgate.infra.git", "GitRepo", "write_commit", "after"),
    "after-branch": ("mlgate.infra.git", "GitRepo", "set_branch", "after"),
    "during-push": ("mlgate.infra.git", "GitRepo", "push", "before"),
    "during-pr": ("mlgate.forge.local", "LocalForge", "open_pull_request", "before"),
}


def run_with_fault(repo: RegistryRepo, args: list[str], step: str | None, mode: str) -> subprocess.CompletedProcess:
    """Run `mlgate -C repo ARGS` in a fresh interpreter, with one step made to fail or to kill the process."""
    fault = ""
    if step:
        module, cls, method, when = STEPS[step]
        action = "os._exit(137)" if mode == "kill" else "raise RuntimeError('injected fault')"
        fault = textwrap.dedent(f"""
            import importlib, os
            _cls = getattr(importlib.import_module({module!r}), {cls!r})
            _orig = getattr(_cls, {method!r})
            def _faulty(self, *a, **kw):
                if {when!r} == "after":
                    result = _orig(self, *a, **kw)
                {action}
            setattr(_cls, {method!r}, _faulty)
        """)
    code = fault + f"\nimport sys\nfrom mlgate.cli import main\nsys.exit(main({['-C', str(repo.root), *args]!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "MLGATE_USER": "alice"}
    )


@pytest.fixture
def setup(repo: RegistryRepo, tmp_path: Path) -> tuple[RegistryRepo, Path, dict[str, list[str]]]:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.root), str(origin)], check=True)
    repo.git.git("remote", "add", "origin", str(origin))
    forge = LocalForge(repo.root)
    forge.set_team("@acme/ml-leads", ["dave", "erin"])
    # something to roll back: fraud-detector's champion moved 2 -> 3 by a merged PR
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    forge.review(p.pr.number, "dave", "APPROVED")
    forge.review(p.pr.number, "erin", "APPROVED")
    merge_pull_request(repo.root, forge, p.pr.number, "dave")
    subprocess.run(["git", "push", "--quiet", "origin", "main"], cwd=repo.root, check=True)
    (tmp_path / "m.bin").write_bytes(b"m" * 100)
    (tmp_path / "eval.yaml").write_text(f"dataset: {{name: h, sha256: {DIGEST}}}\nmetrics: {{auc: 0.95}}\n")
    (tmp_path / "card.md").write_text(
        "# card\n\n## Intended use\nx\n## Training data\nx\n## Evaluation\nx\n## Limitations\nx\n"
    )
    commands = {
        "register": register_args(tmp_path / "m.bin", tmp_path),
        "promote": ["promote", "search-ranker", "1", "--alias", "challenger"],
        "rollback": ["rollback", "fraud-detector", "--alias", "champion"],
    }
    return repo, origin, commands


def state(repo: RegistryRepo, origin: Path) -> tuple[str, str, list[int]]:
    remote = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)"], cwd=origin, capture_output=True, text=True
    ).stdout
    return repo.status(), remote, [p.number for p in LocalForge(repo.root).list_pull_requests()]


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("command", ["register", "promote", "rollback"])
def test_a_failure_at_any_step_leaves_everything_as_it_was(setup, command: str, step: str) -> None:
    repo, origin, commands = setup
    before = state(repo, origin)
    failed = run_with_fault(repo, commands[command], step, "fail")
    assert failed.returncode == 3 and "injected fault" in failed.stderr and "Traceback" not in failed.stderr
    assert state(repo, origin) == before
    again = run_with_fault(repo, commands[command], None, "")
    assert again.returncode == 0, again.stderr
    assert len(LocalForge(repo.root).list_pull_requests()) == len(before[2]) + 1


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("command", ["register", "promote", "rollback"])
def test_a_kill_at_any_step_can_be_rerun_to_success(setup, command: str, step: str) -> None:
    repo, origin, commands = setup
    before_prs = len(LocalForge(repo.root).list_pull_requests())
    killed = run_with_fault(repo, commands[command], step, "kill")
    assert killed.returncode == 137
    if step == "after-commit":  # nothing was published yet: not even a branch
        assert state(repo, origin)[0] == repo.status()
    again = run_with_fault(repo, commands[command], None, "")
    assert again.returncode == 0, again.stderr
    prs = LocalForge(repo.root).list_pull_requests()
    assert len(prs) == before_prs + 1
    branch = prs[-1].head
    remote = subprocess.run(
        ["git", "rev-parse", f"refs/heads/{branch}"], cwd=origin, capture_output=True, text=True
    ).stdout.strip()
    assert remote == repo.git.branch_sha(branch) == prs[-1].head_sha
