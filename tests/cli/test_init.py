"""`mlgate init` as a newcomer meets it: an empty folder, a repository with no commit, a branch not named main,
metric bounds for champion; and the commands after it defaulting to that branch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.infra.yamlio import load
from mlgate.testing import TrainingRun

REQUIREMENT = "mlgate @ git+https://github.com/acme/mlgate@" + "0" * 40
INIT = ["--admin", "pat", "--reviewer", "carol", "--reviewer", "dave", "--mlgate-requirement", REQUIREMENT]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def policy(root: Path) -> dict:
    return load((root / "registry/policy.yaml").read_bytes(), "policy.yaml").data


def test_a_trunk_repository_from_init_to_a_merged_promotion(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "reg"
    subprocess.run(["git", "init", "--quiet", "-b", "trunk", str(root)], check=True)
    code, out, err = run_cli("init", root, *INIT, "--metric", "auc:min=0.8,no_regression=0.01")
    assert code == 0, err
    assert "registry branch: trunk (git config mlgate.base" in out and "committed the set-up as " in out
    assert git(root, "log", "--format=%s", "trunk") == "Set up mlgate" and git(root, "status", "--porcelain") == ""
    assert git(root, "config", "mlgate.base") == "trunk"
    publish = load((root / ".github/workflows/publish.yml").read_bytes(), "publish.yml").data
    assert publish["on"]["push"] == {"branches": ["trunk"]}

    # register, merge, promote, approve, merge: no --base anywhere
    good = TrainingRun.write(tmp_path / "run-1", metrics={"auc": 0.91})
    new_model = ["--model-description", "Scores transactions.", "--owner", "alice"]
    code, out, err = run_cli("-C", root, *good.register_args("fraud"), *new_model, "--as", "alice")
    assert code == 0, err
    assert "on top of trunk" in out and "pull request #1" in out
    assert run_cli("-C", root, "merge", "1", "--as", "pat")[0] == 0
    code, out, err = run_cli("-C", root, "promote", "fraud", "1", "--alias", "champion", "--as", "alice")
    assert code == 0, err
    assert "metric auc" in out and "auc = 0.91 (required >= 0.8)" in out
    for reviewer in ("carol", "dave"):
        assert run_cli("-C", root, "review", "2", "--approve", "--as", reviewer)[0] == 0
    code, out, err = run_cli("-C", root, "merge", "2", "--as", "carol")
    assert code == 0, err
    code, out, _ = run_cli("-C", root, "resolve", "models:/fraud@champion", "--ref", "trunk", "--json")
    assert code == 0 and '"version": 1' in out

    # a worse version: the metric bound set at init stops it
    worse = TrainingRun.write(tmp_path / "run-2", metrics={"auc": 0.75})
    assert run_cli("-C", root, *worse.register_args("fraud", run_id="run-2"), "--as", "alice")[0] == 0
    assert run_cli("-C", root, "merge", "3", "--as", "pat")[0] == 0
    code, out, _ = run_cli("-C", root, "promote", "fraud", "2", "--alias", "champion", "--as", "alice")
    assert code == 1, out
    assert "fail     metric auc         auc = 0.75 is below the minimum 0.8" in out
    assert "fail     no regression auc  auc regresses: v2 0.75 vs v1 0.91 (delta -0.16, tolerance 0.01" in out


def test_an_empty_folder_needs_git_init_when_nobody_can_be_asked(tmp_path: Path, run_cli) -> None:
    folder = tmp_path / "new"
    code, out, err = run_cli("init", folder, *INIT)
    assert code == 2 and out == ""
    assert err == (
        f"mlgate: error: {folder} is not a git repository: pass --git-init to create one there "
        "(or run `git init` first)\n"
    )
    assert not folder.exists()


def test_git_init_uses_gits_default_branch_and_commits(tmp_path: Path, run_cli) -> None:
    subprocess.run(["git", "config", "--global", "init.defaultBranch", "develop"], check=True)
    folder = tmp_path / "new"
    folder.mkdir()
    code, out, err = run_cli("init", folder, *INIT, "--git-init")
    assert code == 0, err
    assert out.startswith(f"initialised an empty git repository in {folder} (branch develop)\n")
    assert git(folder, "branch", "--show-current") == "develop"
    assert git(folder, "ls-tree", "-r", "--name-only", "develop").splitlines() == [
        ".github/CODEOWNERS",
        ".github/mlgate-requirements.txt",
        ".github/pull_request_template.md",
        ".github/workflows/publish.yml",
        ".github/workflows/validate.yml",
        "registry/models/.gitkeep",
        "registry/policy.yaml",
    ]
    # no --metric: the champion gate is bounded by nothing, and both init and the policy say so
    assert "note: the champion gate bounds no metric yet" in out
    assert policy(folder)["aliases"]["champion"]["metrics"] == {}
    assert "# or start with: mlgate init --metric auc:min=0.8" in (folder / "registry/policy.yaml").read_text()
    code, _, err = run_cli("-C", folder, "validate")
    assert code == 0, err


def test_in_a_repository_with_history_init_leaves_the_commit_to_you(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "r"
    subprocess.run(["git", "init", "--quiet", "-b", "work", str(root)], check=True)
    (root / "README.md").write_text("hi\n")
    git(root, "add", "README.md")
    git(root, "commit", "--quiet", "-m", "first")
    code, out, err = run_cli("init", root, *INIT)
    assert code == 0, err
    assert "next: git add .github registry && git commit -m 'Set up mlgate'   # on work\n" in out
    assert git(root, "log", "--format=%s") == "first" and git(root, "config", "mlgate.base") == "work"


def test_without_a_git_identity_init_says_how_to_make_the_first_commit(tmp_path: Path, run_cli, monkeypatch) -> None:
    blank = tmp_path / "blank.gitconfig"
    blank.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(blank))
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "new"
    code, out, err = run_cli("init", folder, *INIT, "--git-init")
    assert code == 0, err
    assert out.splitlines()[-2] == (
        "next: git config --global user.name 'Your Name' && git config --global user.email you@example.com && "
        "git add .github registry && git commit -m 'Set up mlgate'   # on main"
    )
    assert (folder / "registry/policy.yaml").is_file() and git(
        folder, "status", "--porcelain"
    ) == "?? .github/\n?? registry/"


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("auc", "no ':' after the metric name"),
        ("auc:minimum=0.8", "unknown bound 'minimum' (bounds: min, max, no_regression)"),
        ("auc:min=high", "min='high': 'high' is not a number"),
        ("auc:min=0.8,no_regression", "'no_regression' is not BOUND=NUMBER"),
        ("auc:no_regression=-0.1", "no_regression=-0.1: a tolerance cannot be negative"),
        ("9lives:min=1", "'9lives' is not a metric name"),
    ],
)
def test_a_bad_metric_names_the_part_that_is_wrong(tmp_path: Path, run_cli, spec: str, part: str) -> None:
    root = tmp_path / "r"
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    code, out, err = run_cli("init", root, *INIT, "--metric", spec)
    assert code == 2 and out == ""
    assert err.startswith(f"mlgate: error: --metric {spec!r}: {part}") and "e.g. auc:min=0.8" in err
    assert not (root / "registry").exists()


def test_lower_is_better_metrics_and_the_rollback_approvers(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "r"
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    code, _, err = run_cli(
        "init", root, *INIT, "--metric", "auc:min=0.8,no_regression=0.01", "--metric", "latency_p99_ms:max=50"
    )
    assert code == 0, err
    champion = policy(root)["aliases"]["champion"]
    assert champion["metrics"] == {"auc": {"min": 0.8, "no_regression": 0.01}, "latency_p99_ms": {"max": 50}}
    assert champion["rollback"]["approvals"] == {"min": 1, "from": ["carol", "dave"], "exclude_author": True}


def test_on_a_terminal_init_asks_before_git_init(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    primary, secondary = os.openpty()
    os.write(primary, b"y\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mlgate", "init", str(folder), *INIT],
        stdin=secondary,
        capture_output=True,
        text=True,
        timeout=60,
    )
    os.close(primary)
    os.close(secondary)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{folder} is not a git repository. Run `git init` there? [Y/n]")
    assert (folder / ".git").is_dir() and (folder / "registry/policy.yaml").is_file()


def test_base_defaults_to_the_remotes_default_branch(tmp_path: Path, run_cli) -> None:
    from mlgate.testing import RegistryRepo

    origin = RegistryRepo.create(tmp_path / "first", branch="trunk").add_origin(tmp_path / "origin.git")
    clone = RegistryRepo.clone(origin, tmp_path / "clone")  # origin/HEAD -> trunk; no mlgate.base
    args = ["-C", clone.root, "promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice", "--no-pr"]
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    assert '"base": "trunk"' in out
