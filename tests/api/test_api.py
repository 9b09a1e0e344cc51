"""The Python API a training script calls: mlgate.register and mlgate.promote open pull requests, return what
they opened, and fail with the documented exception classes."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlgate
from mlgate.errors import GateFailed, MlgateError, NotFoundError, UsageError
from mlgate.forge.local import LocalForge
from mlgate.infra.git import GitRepo
from mlgate.infra.yamlio import load
from mlgate.testing.forge import merge_approved
from mlgate.testing.repo import RegistryRepo
from mlgate.testing.training import CARD, DATASET_SHA256, TrainingRun
from tests import ROOT


def _readme_script() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(# train\.py:.*?)```", text, re.S)
    assert block, "README has no training-script example"
    return block.group(1)


def _training_checkout(path: Path) -> Path:
    """What the README's script expects in its folder: the training outputs, the data, a git checkout with an
    origin, and the registry repository beside it."""
    (path / "out").mkdir(parents=True)
    (path / "data").mkdir()
    (path / "out/model.pkl").write_bytes(b"pickled model" * 64)
    (path / "out/card.md").write_text(CARD)
    (path / "data/holdout.csv").write_text("x,y\n1,0\n")
    (path / "data/train.csv").write_text("x,y\n0,1\n")
    GitRepo.init(path, branch="main").close()
    for args in (
        ["remote", "add", "origin", "https://token:secret@github.com/acme/churn.git"],
        ["add", "-A"],
        ["-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "training code"],
    ):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    return path


def test_the_readme_training_script_opens_a_registration(tmp_path: Path, forge: LocalForge, repo) -> None:
    registry = tmp_path / "model-registry"
    os.rename(repo.root, registry)
    code = _training_checkout(tmp_path / "churn")
    env = {**os.environ, "MLGATE_USER": "alice"}
    ran = subprocess.run(
        [sys.executable, "-c", _readme_script()], cwd=code, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert re.match(r"opened #1 for Register churn-predictor v5 on mlgate/register-churn-predictor-v5: ", ran.stdout)

    pr = LocalForge(registry).pull_request(1)
    assert pr.head == "mlgate/register-churn-predictor-v5" and pr.state == "open"
    git = GitRepo(registry)
    folder = "registry/models/churn-predictor/versions/5"
    version = load(git.tree(pr.head).read(f"{folder}/version.yaml"), "version.yaml").data
    evaluation = load(git.tree(pr.head).read(f"{folder}/eval.yaml"), "eval.yaml").data
    head = subprocess.run(["git", "-C", str(code), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert version["created_by"] == "alice"
    assert version["lineage"]["git_sha"] == head.strip()
    assert version["lineage"]["code_repo"] == "https://github.com/acme/churn.git"  # credentials removed
    assert version["lineage"]["params"] == {"max_depth": 6}
    assert evaluation["metrics"] == {"auc": 0.91, "latency_p99_ms": 12}
    assert evaluation["dataset"]["sha256"] == hashlib.sha256(b"x,y\n1,0\n").hexdigest()


def test_register_returns_the_pull_request_and_promote_its_gate_report(repo: RegistryRepo, forge, tmp_path) -> None:
    run = TrainingRun.write(tmp_path / "run", evidence={"bias_audit": "# Bias audit\nNo gap found.\n"})
    pr = mlgate.register(
        "search-ranker",
        artifact=run.artifact,
        metrics={"auc": 0.95, "latency_p99_ms": 30},
        eval_dataset={"name": "holdout", "sha256": DATASET_SHA256},
        card_text=CARD,
        evidence=run.evidence,
        run_id="run-7",
        git_sha="c" * 40,
        code_repo="https://github.com/acme/ranking",
        training_data={"uri": "s3://acme-data/clicks.parquet", "sha256": DATASET_SHA256},
        repo=repo.root,
        forge=forge,
        author="alice",
    )
    assert (pr.kind, pr.version, pr.branch, pr.base) == ("register", 3, "mlgate/register-search-ranker-v3", "main")
    assert pr.number == forge.pull_request(pr.number).number and pr.url and pr.report is None
    merge_approved(repo.root, forge, pr.number, "dave")

    # the example's champion has a canary of v2 under way: another version cannot jump the queue
    with pytest.raises(GateFailed, match="ending the rollout of version 2 must set 'version' to it .* not 3"):
        mlgate.promote("search-ranker", 3, "champion", repo=repo.root, forge=forge, author="bob")
    promoted = mlgate.promote(
        "search-ranker", 3, "challenger", note="better", repo=repo.root, forge=forge, author="bob"
    )
    assert promoted.kind == "promote" and promoted.version == 3
    assert promoted.report and "search-ranker@challenger" in promoted.report
    assert forge.pull_request(promoted.number).head == promoted.branch


def test_errors_are_the_documented_classes_and_leave_nothing(repo: RegistryRepo, forge, tmp_path) -> None:
    before = repo.status()
    with pytest.raises(GateFailed):  # churn-predictor v4 misses the champion's bounds
        mlgate.promote("churn-predictor", 4, "champion", repo=repo.root, forge=forge, author="bob")
    with pytest.raises(NotFoundError):
        mlgate.promote("churn-predictor", 99, "champion", repo=repo.root, forge=forge, author="bob")
    run = TrainingRun.write(tmp_path / "run")
    with pytest.raises(UsageError) as missing:
        mlgate.register(
            "churn-predictor", artifact=run.artifact, metrics={"auc": 0.9}, repo=repo.root, forge=forge, author="alice"
        )
    for keyword in ("run_id=", "git_sha= (or lineage_from=)", "training_data={'sha256': ...}", "card= or card_text="):
        assert keyword in str(missing.value)  # every missing input at once, named as the API's keyword
    assert "--" not in str(missing.value)
    assert repo.status() == before and forge.list_pull_requests() == []


def test_who_acts_is_asked_for_never_guessed(repo: RegistryRepo, forge, monkeypatch) -> None:
    monkeypatch.delenv("MLGATE_USER", raising=False)
    monkeypatch.setenv("HOME", str(repo.root.parent))  # no global git config naming an mlgate.user
    with pytest.raises(UsageError, match="MLGATE_USER"):
        mlgate.promote("search-ranker", 2, "champion", repo=repo.root, forge=forge)
    monkeypatch.setenv("MLGATE_USER", "bob")
    assert (
        mlgate.promote("search-ranker", 2, "champion", repo=repo.root, forge=forge).number == 1
    )  # completes the canary


def test_the_api_names_are_public() -> None:
    for name in ("register", "promote", "PullRequestInfo", "GateFailed"):
        assert name in mlgate.__all__ and getattr(mlgate, name)
    assert issubclass(GateFailed, MlgateError)
