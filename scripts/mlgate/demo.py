"""``mlgate demo``: the registry's main job on a throwaway repository, shown step by step."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

from . import layout
from .errors import EXIT_OK, UsageError
from .gitrepo import GitRepo
from .registry import Registry, describe_models
from .report import models_text, report_text, resolved_text
from .resources import example_registry_dir
from .validate import validate_repo
from .yamlio import dump, load

Echo = Callable[[str], None]


def run_demo(keep: str | None = None, echo: Echo = print) -> int:
    """Build a repository from the example registry and walk through validation.

    Returns 0 when every step behaved as the demo expects (good changes pass,
    bad ones are refused), else 1.
    """
    if keep is not None and Path(keep).exists():
        raise UsageError(f"{keep} already exists; --keep needs a new folder")
    tmp = None if keep else tempfile.mkdtemp(prefix="mlgate-demo-")
    root = Path(keep or tmp) / "registry-repo"
    try:
        return _steps(root, echo)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _steps(root: Path, echo: Echo) -> int:
    def step(title: str) -> None:
        echo(f"\n== {title}")

    def cmd(line: str) -> None:
        echo(f"$ {line}")

    unexpected = []
    step(f"A registry repository with the example models, in {root}")
    repo = GitRepo.init(root)
    shutil.copytree(example_registry_dir(), root / layout.REGISTRY)
    repo.commit_all("Initial registry: three models with versions, evidence and aliases")
    echo("main: " + repo.resolve("main")[:12] + " Initial registry")

    step("Validate the whole registry (what CI runs on main)")
    cmd("mlgate validate")
    report = validate_repo(root)
    echo(report_text(report).rstrip())
    unexpected += [] if report.ok else ["the example registry should validate"]

    step("What is registered, and what serves as champion")
    cmd("mlgate list")
    reg = Registry.open(root, "main")
    echo(models_text(describe_models(reg)).rstrip())
    cmd("mlgate resolve models:/fraud-detector@champion")
    echo(resolved_text(reg.resolve("models:/fraud-detector@champion").to_dict()).rstrip())

    step("A pull request that moves an alias to a version that does not exist")
    repo.switch("bad-alias", create=True)
    _edit(root / layout.alias_path("fraud-detector", "champion"), version=9)
    repo.commit_all("Promote fraud-detector v9 to champion")
    cmd("mlgate validate --base main --head bad-alias")
    report = validate_repo(root, base="main", head="bad-alias")
    echo(report_text(report).rstrip())
    unexpected += [] if not report.ok else ["an alias to a missing version should fail"]

    step("A pull request that quietly improves the metrics of a merged version")
    repo.switch("main")
    repo.switch("tamper", create=True)
    _edit(root / layout.eval_path("fraud-detector", 2), metrics={"auc": 0.95, "precision_at_1pct_fpr": 0.68, "latency_p99_ms": 34.5})
    repo.commit_all("Fix fraud-detector v2 metrics")
    cmd("mlgate validate --base main --head tamper")
    report = validate_repo(root, base="main", head="tamper")
    echo(report_text(report).rstrip())
    unexpected += [] if not report.ok else ["editing a merged version should fail"]

    step("A pull request that promotes churn-predictor v4, which regresses on auc")
    repo.switch("main")
    repo.switch("churn-v4", create=True)
    _edit(root / layout.alias_path("churn-predictor", "champion"), version=4)
    repo.commit_all("Promote churn-predictor v4 to champion")
    cmd("mlgate validate --base main --head churn-v4")
    report = validate_repo(root, base="main", head="churn-v4")
    echo(report_text(report).rstrip())
    unexpected += [] if {f.rule for f in report.errors} == {"MG403"} else ["the regression should fail the gate"]

    step("A pull request that promotes fraud-detector v3: every gate passes, approvals pending")
    repo.switch("main")
    repo.switch("fraud-v3", create=True)
    _edit(root / layout.alias_path("fraud-detector", "champion"), version=3)
    repo.commit_all("Promote fraud-detector v3 to champion")
    cmd("mlgate validate --base main --head fraud-v3")
    report = validate_repo(root, base="main", head="fraud-v3")
    echo(report_text(report).rstrip())
    if report.errors or [f.rule for f in report.pending] != ["MG406"]:
        unexpected.append("only the approvals should be pending")
    repo.close()

    step("Done")
    if unexpected:
        echo("The demo did not behave as expected: " + "; ".join(unexpected))
        return 1
    echo("Bad changes are refused with a rule id, a file and a reason; a good promotion waits only for sign-off.")
    echo("Pull requests with review, merge and rollback through a forge build on this.")
    return EXIT_OK


def _edit(path: Path, **fields: object) -> None:
    data = load(path.read_bytes(), str(path)).data
    data.update(fields)
    path.write_text(dump(data), encoding="utf-8")
