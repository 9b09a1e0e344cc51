"""``mlgate rollout`` on the command line: exit codes, messages and output a user sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.testing import RegistryRepo, local_forge, merge_approved

GATE = {"steps": [5, 25], "online": {"min_requests": 100, "min_hours": 1}}


@pytest.fixture
def gated(repo: RegistryRepo) -> RegistryRepo:
    policy = repo.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["rollout"] = GATE
    repo.write("registry/policy.yaml", policy)
    repo.commit("champion rolls out")
    return repo


def test_start_status_evidence_step_on_the_command_line(gated: RegistryRepo, run_cli, tmp_path: Path) -> None:
    root = str(gated.root)
    code, out, _ = run_cli(
        "-C", root, "rollout", "start", "fraud-detector", "3", "--alias", "champion", "--canary", "5", "--as", "alice"
    )
    assert code == 0
    assert "fraud-detector@champion: starts a canary of v3 at 5% (holder v2) (rollout-start)" in out
    assert "pull request #1" in out
    forge = local_forge(gated.root)
    merge_approved(gated.root, forge, 1, "dave", "carol")

    code, out, _ = run_cli("-C", root, "rollout", "status", "fraud-detector", "--alias", "champion")
    assert code == 0
    assert (
        "rollout: canary of v3 at 5%" in out
        and "next: step to 25%: mlgate rollout step fraud-detector --alias champion" in out
    )
    assert "evidence: missing (registry/models/fraud-detector/online/champion/3.yaml)" in out
    assert "online gate: FAIL" in out

    code, out, err = run_cli("-C", root, "rollout", "step", "fraud-detector", "--alias", "champion", "--as", "alice")
    assert code == 1 and "fail     online evidence" in out and "nothing was created" in err

    source = tmp_path / "m.json"
    source.write_text(
        json.dumps(
            {
                "window": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-01T06:00:00Z"},
                "requests": {"candidate": 500, "holder": 9500},
                "metrics": {"candidate": {}, "holder": {}},
            }
        )
    )
    code, out, _ = run_cli(
        "-C",
        root,
        "rollout",
        "evidence",
        "fraud-detector",
        "--alias",
        "champion",
        "--from",
        source,
        "--as",
        "mon",
        "--json",
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["kind"] == "rollout-evidence" and shown["gate"]["kind"] == "rollout-evidence"
    merge_approved(gated.root, forge, shown["pull_request"]["number"], "dave", "carol")

    code, out, _ = run_cli("-C", root, "rollout", "status", "fraud-detector", "--alias", "champion", "--json")
    view = json.loads(out)
    assert code == 0 and view["evidence"]["passes"] is True and view["evidence"]["requests"]["candidate"] == 500
    code, out, _ = run_cli("-C", root, "rollout", "step", "fraud-detector", "--alias", "champion", "--as", "alice")
    assert code == 0 and "5% -> 25%, the next step" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["start", "fraud-detector", "3", "--alias", "champion"], "--canary PERCENT or --shadow [PERCENT]"),
        (
            ["start", "fraud-detector", "3", "--alias", "champion", "--canary", "5", "--shadow", "5"],
            "--canary PERCENT or",
        ),
        (["start", "fraud-detector", "3", "--alias", "champion", "--canary", "0"], "0<x<=100"),
        (["start", "fraud-detector", "3", "--alias", "champion", "--canary", "100.5"], "0<x<=100"),
        (["start", "fraud-detector", "3", "--alias", "champion", "--canary", "nan"], "--canary nan"),
        (["start", "fraud-detector", "3", "--alias", "Champion", "--canary", "5"], "not a valid alias name"),
        (["step", "fraud-detector", "--alias", "champion"], "no rollout is under way on fraud-detector@champion"),
        (["status", "fraud-detectr", "--alias", "champion"], "fraud-detector"),
        (["evidence", "fraud-detector", "--alias", "champion", "--from", "missing.json"], "no rollout is under way"),
    ],
)
def test_usage_errors_exit_2_with_one_line(repo: RegistryRepo, run_cli, args: list[str], words: str) -> None:
    code, out, err = (
        run_cli("-C", str(repo.root), "rollout", *args, "--as", "alice")
        if args[0] != "status"
        else run_cli("-C", str(repo.root), "rollout", *args)
    )
    assert code == 2 and words in err, err


def test_a_shadow_without_a_share_takes_the_first_step(gated: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli(
        "-C",
        str(gated.root),
        "rollout",
        "start",
        "fraud-detector",
        "3",
        "--alias",
        "champion",
        "--shadow",
        "--no-pr",
        "--as",
        "alice",
    )
    assert code == 0 and "starts a shadow of v3 at 5% (holder v2)" in out


def test_a_failing_start_exits_1_with_the_gate_table(repo: RegistryRepo, run_cli) -> None:
    code, out, err = run_cli(
        "-C",
        str(repo.root),
        "rollout",
        "start",
        "churn-predictor",
        "4",
        "--alias",
        "champion",
        "--canary",
        "5",
        "--as",
        "alice",
    )
    assert code == 1
    assert "fail     no regression auc" in out and "fails its gate (no regression auc)" in err


def test_the_rules_are_listed(run_cli) -> None:
    for rid, name in (
        ("MG407", "rollout-required"),
        ("MG408", "rollout-step"),
        ("MG409", "rollout-online"),
        ("MG410", "rollout-malformed"),
        ("MG210", "rollout-integrity"),
    ):
        code, out, _ = run_cli("rules", rid)
        assert code == 0 and name in out


def test_status_without_a_rollout_gate_offers_a_step_or_the_completion(repo: RegistryRepo, run_cli) -> None:
    """The example registry's canary (search-ranker v2 on champion at 5%) has no rollout gate in the policy."""
    code, out, _ = run_cli("-C", repo.root, "rollout", "status", "search-ranker", "--alias", "champion")
    assert code == 0
    assert "rollout: canary of v2 at 5%" in out
    assert "next: step or complete: mlgate rollout step search-ranker --alias champion --to PERCENT, " in out
    assert "or mlgate rollout complete search-ranker --alias champion" in out
    code, out, _ = run_cli("-C", repo.root, "rollout", "status", "search-ranker", "--alias", "champion", "--json")
    assert json.loads(out)["next"]["action"] == "step or complete"


@pytest.mark.parametrize("command", ["status", "abort", "complete"])
def test_a_misspelt_model_gets_a_did_you_mean(repo: RegistryRepo, run_cli, command: str) -> None:
    args = ["-C", repo.root, "rollout", command, "search-rankr", "--alias", "champion"]
    code, _, err = run_cli(*args, *([] if command == "status" else ["--as", "carol", "--no-pr"]))
    assert code == 2 and "did you mean 'search-ranker'?" in err and err.count("\n") == 1
