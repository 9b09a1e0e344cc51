"""A gate that bounds no metric says so in every format, rather than looking like one whose metrics passed."""

from __future__ import annotations

import json

from mlgate.testing import RegistryRepo

# the example policy's "*" gate (any alias but champion and challenger) bounds no metric
GATE = ["gate", "fraud-detector", "3", "--alias", "staging"]
REASON = "no metric gates configured: this gate bounds no metric of eval.yaml (add metrics: to it in the policy)"


def test_text_shows_none_not_pass(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", repo.root, *GATE)
    assert code == 0  # the dry run passes: approvals only wait for a pull request
    assert f"  none     metrics        {REASON}\n" in out


def test_markdown_shows_a_warning(repo: RegistryRepo, run_cli) -> None:
    _, out, _ = run_cli("-C", repo.root, *GATE, "--format", "markdown")
    assert f"| metrics | :warning: none | {REASON} |" in out


def test_json_marks_it_unconfigured(repo: RegistryRepo, run_cli) -> None:
    _, out, _ = run_cli("-C", repo.root, *GATE, "--format", "json")
    [metrics] = [c for c in json.loads(out)["checks"] if c["gate"] == "metrics"]
    assert metrics == {
        "gate": "metrics",
        "status": "pass",
        "rule": "MG402",
        "reason": REASON,
        "details": {"configured": False},
    }


def test_a_gate_with_metric_bounds_says_nothing_of_the_kind(repo: RegistryRepo, run_cli) -> None:
    _, out, _ = run_cli("-C", repo.root, "gate", "fraud-detector", "3", "--alias", "challenger")
    assert "metric auc" in out and "no metric gates configured" not in out
