"""Rollout gates on real repositories: each start, step, completion, abort and evidence pull request judged
by the base branch's policy, and the revert of each step judged as a rollback."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate import validate_repo
from mlgate.core.rollout import next_step
from mlgate.testing import EXAMPLE_TEAMS, RegistryRepo, StaticReviews

FRAUD = "registry/models/fraud-detector"
CHAMPION = f"{FRAUD}/aliases/champion.yaml"
ONLINE = f"{FRAUD}/online/champion/3.yaml"
ROLLOUT_GATE = {
    "steps": [5, 25, 50],
    "online": {
        "min_requests": 1000,
        "min_hours": 24,
        "metrics": {"error_rate": {"max": 0.02, "no_regression": 0.001}, "latency_p99_ms": {"max": 60}},
    },
}


def approved(repo: RegistryRepo, *users: str, author: str = "alice", head: str = "pr") -> StaticReviews:
    reviews = StaticReviews(author, repo.rev(head), teams=EXAMPLE_TEAMS)
    for u in users:
        reviews.review(u)
    return reviews


def judge(repo: RegistryRepo, *users: str, head: str = "pr", base: str = "main"):
    report = validate_repo(repo.root, base=base, head=head, reviews=approved(repo, *users, head=head))
    return report, {(g.model, g.alias): g for g in report.gates}


def checks(change) -> dict[str, tuple[str, str]]:
    return {c.gate: (c.status, c.reason) for c in change.checks}


def failing(change) -> dict[str, tuple[str, str]]:
    return {g: (c.rule, c.reason) for g, c in ((c.gate, c) for c in change.checks) if c.status == "fail"}


def set_policy(repo: RegistryRepo, gate: dict[str, Any] | None = ROLLOUT_GATE, alias: str = "champion") -> None:
    policy = repo.read_yaml("registry/policy.yaml")
    if gate is None:
        policy["aliases"][alias].pop("rollout", None)
    else:
        policy["aliases"][alias]["rollout"] = gate
    repo.write("registry/policy.yaml", policy)
    repo.commit("policy: champion rolls out progressively")


def set_alias(repo: RegistryRepo, version: int = 2, rollout: dict[str, Any] | None = None, commit: bool = True) -> None:
    data = repo.read_yaml(CHAMPION)
    data["version"] = version
    data.pop("rollout", None)
    if rollout is not None:
        data["rollout"] = rollout
    repo.write(CHAMPION, data)
    if commit:
        repo.commit(f"champion: v{version} {rollout}")


def canary(percent: float, candidate: int = 3, mode: str = "canary") -> dict[str, Any]:
    return {"candidate": candidate, "mode": mode, "percent": percent}


def evidence(
    repo: RegistryRepo,
    percent: float,
    *,
    holder: int = 2,
    mode: str = "canary",
    requests: int = 5000,
    start: str = "2026-03-01T00:00:00Z",
    end: str = "2026-03-03T00:00:00Z",
    candidate: dict[str, float] | None = None,
    held: dict[str, float] | None = None,
    commit: bool = True,
) -> None:
    repo.write(
        ONLINE,
        {
            "apiVersion": "mlgate/v1",
            "kind": "OnlineEvaluation",
            "model": "fraud-detector",
            "alias": "champion",
            "candidate": 3,
            "holder": holder,
            "mode": mode,
            "percent": percent,
            "window": {"start": start, "end": end},
            "requests": {"candidate": requests, "holder": requests * 19},
            "metrics": {
                "candidate": candidate or {"error_rate": 0.011, "latency_p99_ms": 41},
                "holder": held or {"error_rate": 0.011, "latency_p99_ms": 40},
            },
        },
    )
    if commit:
        repo.commit(f"evidence at {percent}%")


def at_step(repo: RegistryRepo, percent: float, with_evidence: bool = True, **ev: Any) -> None:
    """main: the rollout gate, champion rolling v3 out at ``percent``, evidence there; then branch pr."""
    set_policy(repo)
    set_alias(repo, 2, canary(percent))
    if with_evidence:
        evidence(repo, percent, **ev)
    repo.branch("pr")


def step_to(repo: RegistryRepo, percent: float) -> None:
    set_alias(repo, 2, canary(percent))


# --- start ---------------------------------------------------------------------------------------------


def test_a_start_applies_the_full_offline_gate_to_the_candidate(repo: RegistryRepo) -> None:
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 2, canary(5))
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-start" and change.status == "pass" and report.ok, report.findings
    c = checks(change)
    assert c["no regression auc"] == ("pass", "v3 0.911 vs v2 0.902 (delta +0.009, tolerance 0.005, higher is better)")
    assert c["rollout step"] == ("pass", "starts at the first step, 5%")
    assert {"evidence bias_audit", "card sections", "metric latency_p99_ms", "approvals"} <= set(c)
    assert change.title() == "fraud-detector@champion: starts a canary of v3 at 5% (holder v2) (rollout-start)"
    assert change.rollout["next"] == 25 and change.rollout["evidence"]["present"] is False


def test_a_start_with_a_candidate_that_regresses_offline_is_refused(repo: RegistryRepo) -> None:
    set_policy(repo)
    repo.add_version("fraud-detector", 4, like=3, metrics={"auc": 0.89})
    repo.commit("v4")
    repo.branch("pr")
    set_alias(repo, 2, canary(5, candidate=4))
    report, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "no regression auc": (
            "MG403",
            "auc regresses: v4 0.89 vs v2 0.902 (delta -0.012, tolerance 0.005, higher is better)",
        )
    }
    assert [f.rule for f in report.errors] == ["MG403"]


def test_a_canary_starts_at_the_first_step_only(repo: RegistryRepo) -> None:
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 2, canary(25))
    report, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "rollout step": ("MG408", "a canary starts at the policy's first step, 5%, not 25% (steps 5, 25, 50)")
    }
    assert not report.ok


def test_a_shadow_may_mirror_any_share_from_the_start(repo: RegistryRepo) -> None:
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 2, canary(40, mode="shadow"))
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert checks(change)["rollout step"] == ("pass", "a shadow answers no request: it may mirror 40% from the start")
    assert report.ok and change.rollout["next"] == 50


def test_a_start_needs_the_rollout_gates_approvals_too(repo: RegistryRepo) -> None:
    set_policy(repo, {**ROLLOUT_GATE, "approvals": {"min": 1, "from": ["pat"]}})
    repo.branch("pr")
    set_alias(repo, 2, canary(5))
    _, changes = judge(repo, "dave", "carol")
    status, reason = checks(changes[("fraud-detector", "champion")])["rollout approvals"]
    assert status == "fail" and reason.startswith("0 of 1 required approval from pat")
    report, changes = judge(repo, "dave", "carol", "pat")
    assert report.ok, report.findings


def test_a_start_with_no_rollout_gate_is_judged_by_the_offline_gate_alone(repo: RegistryRepo) -> None:
    repo.branch("pr")
    set_alias(repo, 2, canary(12.5))
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-start" and report.ok
    assert checks(change)["rollout step"][1] == "the policy sets no steps for 'champion': any share may start"


# --- promotion without a rollout -------------------------------------------------------------------------


def test_a_promotion_without_a_rollout_is_refused_when_the_policy_requires_one(repo: RegistryRepo) -> None:
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 3)
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "promotion"
    assert failing(change) == {
        "rollout required": (
            "MG407",
            "'champion' requires a progressive rollout (steps 5, 25, 50) before a new version holds it: start one "
            "at 5% with `mlgate rollout start fraud-detector 3 --alias champion --canary 5`",
        )
    }
    assert [f.rule for f in report.errors] == ["MG407"]


def test_a_rollback_to_a_former_holder_still_uses_the_rollback_gate(repo: RegistryRepo) -> None:
    set_alias(repo, 3)  # v3 champion before the policy asked for rollouts
    held = repo.git.resolve("HEAD")
    set_alias(repo, 2)
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 3, commit=False)
    repo.commit(f"champion back to v3\n\nMlgate-Rollback-Held-At: {held}\n")
    report, changes = judge(repo, "dave")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollback" and report.ok, report.findings


def test_a_move_back_with_no_proof_needs_a_rollout_like_any_promotion(repo: RegistryRepo) -> None:
    set_alias(repo, 3)
    set_alias(repo, 2)
    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 3)
    report, changes = judge(repo, "dave")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "promotion" and "MG407" in {f.rule for f in report.errors}


# --- step up ---------------------------------------------------------------------------------------------


def test_a_step_up_with_passing_evidence(repo: RegistryRepo) -> None:
    at_step(repo, 5)
    step_to(repo, 25)
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-step" and report.ok, report.findings
    c = checks(change)
    assert c["rollout step"] == ("pass", "5% -> 25%, the next step")
    assert c["online evidence"] == ("pass", "canary at 5% vs v2, 2026-03-01T00:00:00Z to 2026-03-03T00:00:00Z")
    assert c["online requests"] == ("pass", "the candidate saw 5,000 requests (required 1,000)")
    assert c["online window"][0] == "pass" and "48 hours (required 24)" in c["online window"][1]
    assert c["live no regression error_rate"] == (
        "pass",
        "live v3 0.011 vs v2 0.011 (delta +0, tolerance 0.001, lower is better)",
    )
    assert change.rollout["next"] == 50


def test_too_few_requests(repo: RegistryRepo) -> None:
    at_step(repo, 5, requests=999)
    step_to(repo, 25)
    report, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "online requests": ("MG409", "the candidate saw 999 requests (required 1,000)")
    }
    assert [(f.rule, f.path) for f in report.errors] == [("MG409", CHAMPION)]


def test_too_short_a_window(repo: RegistryRepo) -> None:
    at_step(repo, 5, end="2026-03-01T23:59:59Z")
    step_to(repo, 25)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "online window": (
            "MG409",
            "window 2026-03-01T00:00:00Z to 2026-03-01T23:59:59Z: 24 hours (required 24)",
        )
    }


def test_a_live_metric_out_of_bounds(repo: RegistryRepo) -> None:
    at_step(repo, 5, candidate={"error_rate": 0.011, "latency_p99_ms": 61}, held={"error_rate": 0.011})
    step_to(repo, 25)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "live latency_p99_ms": ("MG409", "latency_p99_ms = 61 is above the maximum 60")
    }


def test_a_live_regression_against_the_holder_in_exact_decimals(repo: RegistryRepo) -> None:
    # 0.012 - 0.011 is 0.0010000000000000009 in floats: exactly the tolerance, so it passes
    at_step(repo, 5, candidate={"error_rate": 0.012, "latency_p99_ms": 41})
    step_to(repo, 25)
    report, changes = judge(repo, "dave", "carol")
    assert checks(changes[("fraud-detector", "champion")])["live no regression error_rate"][0] == "pass"
    assert report.ok
    repo.switch("main")
    evidence(repo, 5, candidate={"error_rate": 0.0121, "latency_p99_ms": 41})
    repo.switch("pr")
    repo.git.git("rebase", "--quiet", "main")
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "live no regression error_rate": (
            "MG409",
            "error_rate regresses: live v3 0.0121 vs v2 0.011 (delta +0.0011, tolerance 0.001, lower is better)",
        )
    }


def test_a_missing_live_metric(repo: RegistryRepo) -> None:
    at_step(repo, 5, candidate={"latency_p99_ms": 41})
    step_to(repo, 25)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")])["live error_rate"] == (
        "MG409",
        "the evidence has no live 'error_rate' for the candidate",
    )


def test_a_skipped_step(repo: RegistryRepo) -> None:
    at_step(repo, 5)
    step_to(repo, 50)
    report, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "rollout step": ("MG408", "50% skips 25%: from 5% the next allowed step is 25% (steps 5, 25, 50)")
    }
    assert [f.rule for f in report.errors] == ["MG408"]


def test_an_out_of_order_step(repo: RegistryRepo) -> None:
    at_step(repo, 5)
    step_to(repo, 20)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "rollout step": ("MG408", "20% is not the next step: from 5% the next allowed step is 25% (steps 5, 25, 50)")
    }


def test_no_step_up_past_the_last_step(repo: RegistryRepo) -> None:
    at_step(repo, 50)
    step_to(repo, 100)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "rollout step": (
            "MG408",
            "50% is the last step (steps 5, 25, 50): complete the rollout next (mlgate rollout complete)",
        )
    }


def test_a_step_up_without_evidence(repo: RegistryRepo) -> None:
    at_step(repo, 5, with_evidence=False)
    step_to(repo, 25)
    _, changes = judge(repo, "dave", "carol")
    rule, reason = failing(changes[("fraud-detector", "champion")])["online evidence"]
    assert rule == "MG409"
    assert reason.startswith(f"no online evidence at {ONLINE} on the base: measure the canary at 5%")
    assert "mlgate rollout evidence fraud-detector --alias champion --from FILE.json" in reason


def test_evidence_in_the_same_pull_request_does_not_count(repo: RegistryRepo) -> None:
    """The step is judged on the evidence merged on the base, never on what the pull request itself brings."""
    at_step(repo, 5, with_evidence=False)
    evidence(repo, 5, commit=False)
    step_to(repo, 25)
    report, _ = judge(repo, "dave", "carol")
    kinds = {g.kind: g for g in report.gates}
    assert set(kinds) == {"rollout-step", "rollout-evidence"}
    assert failing(kinds["rollout-step"])["online evidence"][0] == "MG409"


@pytest.mark.parametrize(
    ("ev", "words"),
    [
        ({"holder": 1}, "holder v1, not v2"),
        ({"mode": "shadow"}, "mode shadow, not canary"),
    ],
)
def test_evidence_for_the_wrong_holder_or_mode(repo: RegistryRepo, ev: dict[str, Any], words: str) -> None:
    at_step(repo, 5, **ev)
    step_to(repo, 25)
    _, changes = judge(repo, "dave", "carol")
    rule, reason = failing(changes[("fraud-detector", "champion")])["online evidence"]
    assert rule == "MG409" and words in reason


def test_evidence_for_the_wrong_step(repo: RegistryRepo) -> None:
    set_policy(repo)
    set_alias(repo, 2, canary(5))
    evidence(repo, 5)
    set_alias(repo, 2, canary(25))  # stepped up; the evidence is the old step's
    repo.branch("pr")
    step_to(repo, 50)
    _, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "online evidence": ("MG409", f"{ONLINE}: the evidence is for step 5%, not 25%: collect it at the current step")
    }


# --- step down, complete, abort --------------------------------------------------------------------------


def test_a_step_down_uses_the_rollback_gate(repo: RegistryRepo) -> None:
    at_step(repo, 25, with_evidence=False)
    step_to(repo, 5)
    report, changes = judge(repo, "dave")  # the rollback gate asks one approval
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-step-down" and report.ok, report.findings
    assert checks(change)["rollout"] == ("pass", "steps down from 25% to 5%: judged by the rollback gate")


def test_a_completion_from_the_last_step_with_evidence(repo: RegistryRepo) -> None:
    at_step(repo, 50)
    set_alias(repo, 3)
    report, changes = judge(repo, "dave", "carol")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-complete" and report.ok, report.findings
    assert checks(change)["rollout step"] == ("pass", "completes from the last step, 50%")
    assert change.title() == "fraud-detector@champion: completes the canary of v3 from 50%: v2 -> v3 (rollout-complete)"


def test_a_completion_without_evidence(repo: RegistryRepo) -> None:
    at_step(repo, 50, with_evidence=False)
    set_alias(repo, 3)
    _, changes = judge(repo, "dave", "carol")
    assert set(failing(changes[("fraud-detector", "champion")])) == {"online evidence"}


def test_a_completion_not_from_the_last_step(repo: RegistryRepo) -> None:
    at_step(repo, 25)
    set_alias(repo, 3)
    report, changes = judge(repo, "dave", "carol")
    assert failing(changes[("fraud-detector", "champion")]) == {
        "rollout step": (
            "MG408",
            "a rollout completes from its last step, 50%; at 25% the next step is 50% (steps 5, 25, 50)",
        )
    }
    assert [f.rule for f in report.errors] == ["MG408"]


def test_an_abort_uses_the_rollback_gate(repo: RegistryRepo) -> None:
    at_step(repo, 25, with_evidence=False)
    set_alias(repo, 2)
    report, changes = judge(repo)
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-abort"
    assert set(failing(change)) == {"approvals"}  # the rollback gate's one approval
    report, changes = judge(repo, "erin")
    assert report.ok, report.findings
    assert checks(changes[("fraud-detector", "champion")])["rollout"][1] == (
        "aborts the canary of v3 at 25%: v2 serves every request again"
    )


@pytest.mark.parametrize(
    ("after_version", "after_rollout", "words"),
    [
        (2, canary(25, candidate=1), "candidate and mode stay the same"),
        (2, canary(25, mode="shadow"), "candidate and mode stay the same"),
        (3, canary(50), "must leave 'version' as it is"),
        (1, None, "must set 'version' to it (complete) or leave it at 2 (abort), not 1"),
    ],
)
def test_a_malformed_rollout_change(repo: RegistryRepo, after_version: int, after_rollout: Any, words: str) -> None:
    at_step(repo, 25, with_evidence=False)
    set_alias(repo, after_version, after_rollout)
    report, changes = judge(repo, "dave", "carol")
    rule, reason = failing(changes[("fraud-detector", "champion")])["rollout"]
    assert rule == "MG410" and words in reason
    assert "MG410" in {f.rule for f in report.errors}


def test_a_note_beside_a_rollout_is_not_judged(repo: RegistryRepo) -> None:
    at_step(repo, 25, with_evidence=False)
    repo.edit_yaml(CHAMPION, note="watching the canary")
    repo.commit("note")
    report, _ = judge(repo)
    assert report.gates == [] and report.ok


# --- evidence pull requests ------------------------------------------------------------------------------


def test_an_evidence_pull_request_needs_the_rollout_approvals(repo: RegistryRepo) -> None:
    at_step(repo, 5, with_evidence=False)
    evidence(repo, 5)
    report, changes = judge(repo)
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollout-evidence" and change.path == ONLINE
    assert set(failing(change)) == {"approvals"}
    report, changes = judge(repo, "dave", "carol")
    assert report.ok, report.findings
    assert checks(changes[("fraud-detector", "champion")])["online evidence"] == (
        "pass",
        "for the canary of v3 at 5% vs v2",
    )


def test_evidence_for_the_wrong_holder_or_step_is_refused_as_a_pull_request(repo: RegistryRepo) -> None:
    at_step(repo, 5, with_evidence=False)
    evidence(repo, 25, holder=1)
    report, changes = judge(repo, "dave", "carol")
    rule, reason = failing(changes[("fraud-detector", "champion")])["online evidence"]
    assert rule == "MG409" and reason == (
        "the evidence is for holder v1, not v2; step 25%, not 5%: collect it at the current step"
    )


def test_evidence_for_no_rollout_under_way(repo: RegistryRepo) -> None:
    repo.branch("pr")
    evidence(repo, 5)
    _, changes = judge(repo, "dave", "carol")
    rule, reason = failing(changes[("fraud-detector", "champion")])["online evidence"]
    assert rule == "MG409" and "no rollout of v3 is under way on fraud-detector@champion" in reason


def test_evidence_integrity(repo: RegistryRepo) -> None:
    at_step(repo, 5, with_evidence=False)
    evidence(repo, 5, start="2026-03-02T00:00:00Z", end="2026-03-01T00:00:00Z", commit=False)
    data = repo.read_yaml(ONLINE)
    data["candidate"] = 4
    repo.write(ONLINE, data)
    repo.commit("bad evidence")
    report, _ = judge(repo, "dave", "carol")
    found = {(f.rule, f.field) for f in report.errors}
    assert ("MG202", "candidate") in found and ("MG210", "window.end") in found
    assert ("MG210", "candidate") in found  # version 4 does not exist


# --- reverts ---------------------------------------------------------------------------------------------


def _revert_last_merge(repo: RegistryRepo, branch: str) -> None:
    repo.branch(branch, "main")
    subprocess.run(["git", "revert", "--no-edit", "-m", "1", "HEAD"], cwd=repo.root, check=True, capture_output=True)


def test_the_revert_of_each_step_is_judged_as_a_way_back(repo: RegistryRepo) -> None:
    set_policy(repo)
    kinds = []
    for n, (version, rollout, ev) in enumerate(
        [(2, canary(5), None), (2, canary(25), 5), (2, canary(50), 25), (3, None, 50)]
    ):
        if ev is not None:
            repo.switch("main")
            evidence(repo, ev)
        repo.branch(f"step{n}", "main")
        set_alias(repo, version, rollout)
        report, _ = judge(repo, "dave", "carol", head=f"step{n}")
        assert report.ok, report.findings
        repo.merge(f"step{n}")
        _revert_last_merge(repo, f"revert{n}")
        report, changes = judge(repo, "erin", head=f"revert{n}")  # the rollback gate: one approval
        change = changes[("fraud-detector", "champion")]
        kinds.append(change.kind)
        assert report.ok, (change.kind, report.findings)
        repo.switch("main")
    assert kinds == ["rollout-abort", "rollout-step-down", "rollout-step-down", "rollback"]


# --- properties ------------------------------------------------------------------------------------------

percents = st.sampled_from([0.5, 1, 2.5, 5, 10, 20, 25, 33.3, 50, 75, 99.99, 100])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(percents, min_size=1, max_size=5, unique=True), before=percents, after=percents)
def test_a_step_up_passes_its_order_check_only_to_the_next_step(
    tmp_path_factory: pytest.TempPathFactory, steps: list[float], before: float, after: float
) -> None:
    if after <= before:
        return
    repo = RegistryRepo.create(tmp_path_factory.mktemp("prop") / "repo")
    try:
        set_policy(repo, {"steps": steps})
        set_alias(repo, 2, canary(before))
        repo.branch("pr")
        step_to(repo, after)
        _, changes = judge(repo, "dave", "carol")
        status, _ = checks(changes[("fraud-detector", "champion")])["rollout step"]
        assert (status == "pass") == (after == next_step(steps, before))
    finally:
        repo.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.integers(min_value=-3600, max_value=4 * 86400), min_hours=st.sampled_from([0, 0.5, 1, 24, 36.25]))
def test_the_window_check_is_exact(tmp_path_factory: pytest.TempPathFactory, seconds: int, min_hours: float) -> None:
    from datetime import datetime, timedelta, timezone

    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    end = (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    repo = RegistryRepo.create(tmp_path_factory.mktemp("prop") / "repo")
    try:
        set_policy(repo, {"steps": [5, 25], "online": {"min_hours": min_hours}})
        set_alias(repo, 2, canary(5))
        evidence(repo, 5, end=end)
        repo.branch("pr")
        step_to(repo, 25)
        _, changes = judge(repo, "dave", "carol")
        status, _ = checks(changes[("fraud-detector", "champion")])["online window"]
        assert (status == "pass") == (seconds > 0 and seconds >= min_hours * 3600)
    finally:
        repo.close()


# --- the report ------------------------------------------------------------------------------------------


def test_the_report_shows_where_the_rollout_stands_and_what_evidence_it_has(repo: RegistryRepo) -> None:
    from mlgate.render.report import report_dict, report_markdown, report_text

    at_step(repo, 5)
    step_to(repo, 25)
    report, _ = judge(repo, "dave", "carol")
    text = report_text(report)
    assert "fraud-detector@champion: canary of v3: 5% -> 25% (holder v2) (rollout-step)" in text
    line = (
        f"rollout: canary of v3 at 25% (steps 5, 25, 50); next: 50%; evidence on the base: {ONLINE} at 5% vs v2 "
        "(5,000 requests); the next step needs evidence at 25%"
    )
    assert line in text
    assert line in report_markdown(report)
    data = report_dict(report)["gates"][0]["rollout"]
    assert (data["before"], data["after"], data["next"], data["steps"]) == (5, 25, 50, [5, 25, 50])
    assert data["evidence"] == {
        "path": ONLINE,
        "present": True,
        "percent": 5,
        "holder": 2,
        "mode": "canary",
        "requests": 5000,
    }


def test_the_report_says_when_evidence_is_missing(repo: RegistryRepo) -> None:
    from mlgate.render.report import report_text

    set_policy(repo)
    repo.branch("pr")
    set_alias(repo, 2, canary(5))
    report, _ = judge(repo, "dave", "carol")
    assert f"next: 25%; evidence missing: the next step needs {ONLINE} at 5%" in report_text(report)


# --- hostile rollout blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "rule"),
    [("0", "MG101"), ("100.5", "MG101"), ("-5", "MG101"), (".nan", "MG001"), (".inf", "MG001"), ("'5'", "MG101")],
)
def test_a_rollout_share_outside_0_to_100_is_refused(repo: RegistryRepo, percent: str, rule: str) -> None:
    repo.branch("pr")
    text = repo.path(CHAMPION).read_text() + f"rollout: {{candidate: 3, mode: canary, percent: {percent}}}\n"
    repo.write(CHAMPION, text)
    repo.commit("a hostile share")
    report, _ = judge(repo, "dave", "carol")
    assert [(f.rule, f.path) for f in report.errors] == [(rule, CHAMPION)]


def test_removing_an_alias_under_rollout_is_a_removal(repo: RegistryRepo) -> None:
    at_step(repo, 25, with_evidence=False)
    repo.delete(CHAMPION)
    repo.commit("drop champion")
    report, changes = judge(repo, "dave", "carol")
    assert changes[("fraud-detector", "champion")].kind == "removal"
