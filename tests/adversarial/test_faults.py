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

from mlgate.change.propose import promote
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo, TrainingRun, branch_sha, merge_approved

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
def setup(repo: RegistryRepo, forge: LocalForge, tmp_path: Path) -> tuple[RegistryRepo, Path, dict[str, list[str]]]:
    origin = repo.add_origin(tmp_path / "origin.git")
    # something to roll back: fraud-detector's champion moved 2 -> 3 by a merged PR
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "erin")
    subprocess.run(["git", "push", "--quiet", "origin", "main"], cwd=repo.root, check=True)
    training = TrainingRun.write(tmp_path / "training", artifact=b"m" * 100)
    commands = {
        "register": training.register_args("search-ranker"),
        "promote": ["promote", "search-ranker", "1", "--alias", "challenger"],
        "rollback": ["rollback", "fraud-detector", "--alias", "champion"],
    }
    return repo, origin, commands


def state(repo: RegistryRepo, origin: Path) -> tuple[str, str, list[int]]:
    """The checkout and its branches, every branch of the remote, and the local forge's pull requests."""
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
    before = state(repo, origin)
    killed = run_with_fault(repo, commands[command], step, "kill")
    assert killed.returncode == 137
    if step == "after-commit":  # nothing was published yet: not even a branch, locally or on the remote
        assert state(repo, origin) == before
    else:  # the new branch is left behind (and pushed, from the push on), but no pull request yet
        assert state(repo, origin) != before and state(repo, origin)[2] == before[2]
    again = run_with_fault(repo, commands[command], None, "")
    assert again.returncode == 0, again.stderr
    prs = LocalForge(repo.root).list_pull_requests()
    assert len(prs) == len(before[2]) + 1
    branch = prs[-1].head
    assert branch_sha(origin, branch) == repo.git.branch_sha(branch) == prs[-1].head_sha
