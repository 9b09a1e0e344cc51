"""Promotion gates on real repositories: each gate passing and failing, judged by the base's policy."""

from __future__ import annotations

import pytest

from mlgate import validate_repo
from mlgate.check.gates import card_sections
from mlgate.testing import EXAMPLE_TEAMS, RegistryRepo, StaticReviews

CHURN = "registry/models/churn-predictor"
FRAUD = "registry/models/fraud-detector"


def approved(repo: RegistryRepo, *users: str, author: str = "alice", head: str = "pr") -> StaticReviews:
    reviews = StaticReviews(author, repo.rev(head), teams=EXAMPLE_TEAMS)
    for u in users:
        reviews.review(u)
    return reviews


def judge(repo: RegistryRepo, reviews: StaticReviews | None = None, head: str = "pr"):
    report = validate_repo(repo.root, base="main", head=head, reviews=reviews)
    return report, {(g.model, g.alias): g for g in report.gates}


def checks(change) -> dict[str, tuple[str, str]]:
    return {c.gate: (c.status, c.reason) for c in change.checks}


def move(repo: RegistryRepo, model: str, alias: str, version: int, message: str | None = None) -> None:
    repo.edit_yaml(f"registry/models/{model}/aliases/{alias}.yaml", version=version)
    repo.commit(message or f"{model}@{alias} -> {version}")


def test_a_promotion_that_passes_every_gate(repo: RegistryRepo) -> None:
    repo.branch("pr")
    move(repo, "fraud-detector", "champion", 3)
    report, changes = judge(repo, approved(repo, "dave", "carol"))
    change = changes[("fraud-detector", "champion")]
    assert (change.kind, change.from_version, change.to_version, change.policy_key) == ("promotion", 2, 3, "champion")
    assert change.status == "pass" and report.ok
    c = checks(change)
    assert c["no regression auc"] == ("pass", "v3 0.911 vs v2 0.902 (delta +0.009, tolerance 0.005, higher is better)")
    assert c["approvals"][1] == "2 of 2 required approvals from @acme/ml-leads, carol (carol, dave)"
    assert set(c) == {
        "deprecated",
        "evidence eval",
        "evidence card",
        "evidence bias_audit",
        "metric auc",
        "no regression auc",
        "metric latency_p99_ms",
        "card sections",
        "approvals",
    }


def test_regression_beyond_tolerance(repo: RegistryRepo) -> None:
    repo.branch("pr")
    move(repo, "churn-predictor", "champion", 4)
    report, changes = judge(repo, approved(repo, "dave", "erin"))
    status, reason = checks(changes[("churn-predictor", "champion")])["no regression auc"]
    assert status == "fail"
    assert reason == "auc regresses: v4 0.868 vs v3 0.874 (delta -0.006, tolerance 0.005, higher is better)"
    assert [(f.rule, f.path) for f in report.errors] == [("MG403", f"{CHURN}/aliases/champion.yaml")]


def test_tolerance_exactly_met_passes(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.add_version("churn-predictor", 5, like=4, metrics={"auc": 0.869})  # 0.874 - 0.005 exactly
    move(repo, "churn-predictor", "champion", 5)
    report, changes = judge(repo, approved(repo, "dave", "erin"))
    assert checks(changes[("churn-predictor", "champion")])["no regression auc"][0] == "pass"
    assert report.ok, report.findings


def test_max_bounded_metric_regression_is_lower_is_better(repo: RegistryRepo) -> None:
    policy = repo.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["metrics"]["latency_p99_ms"] = {"max": 50, "no_regression": 1.0}
    repo.write("registry/policy.yaml", policy)
    repo.commit("latency must not regress by more than 1 ms")
    repo.branch("pr")
    repo.add_version("fraud-detector", 4, like=3, metrics={"latency_p99_ms": 35.6})  # holder v2: 34.5
    move(repo, "fraud-detector", "champion", 4)
    _, changes = judge(repo, approved(repo, "dave", "erin"))
    status, reason = checks(changes[("fraud-detector", "champion")])["no regression latency_p99_ms"]
    assert status == "fail"
    assert "v4 35.6 vs v2 34.5 (delta +1.1, tolerance 1, lower is better)" in reason
    # and within the tolerance it passes
    repo.add_version("fraud-detector", 4, like=3, metrics={"latency_p99_ms": 35.5})
    repo.commit("faster")
    _, changes = judge(repo, approved(repo, "dave", "erin"))
    assert checks(changes[("fraud-detector", "champion")])["no regression latency_p99_ms"][0] == "pass"


def test_missing_metric_on_the_candidate_and_on_the_holder(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.add_version("fraud-detector", 4, like=3, drop_metrics=("auc",))
    move(repo, "fraud-detector", "champion", 4)
    _, changes = judge(repo, approved(repo, "dave", "erin"))
    c = checks(changes[("fraud-detector", "champion")])
    assert c["metric auc"] == ("fail", "cannot check auc: eval.yaml of version 4 has no 'auc'")

    # the champion on main lacks the metric: the comparison fails and says why
    repo.switch("main")
    repo.add_version("fraud-detector", 4, like=3, drop_metrics=("auc",))
    repo.commit("v4 without auc")
    policy = repo.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["metrics"]["auc"] = {"no_regression": 0.005}
    repo.write("registry/policy.yaml", policy)
    repo.commit("policy: auc only must not regress")
    repo.branch("pr2")
    move(repo, "fraud-detector", "champion", 4)
    repo.merge("pr2")
    repo.branch("pr3")
    move(repo, "fraud-detector", "champion", 3)
    _, changes = judge(repo, approved(repo, "dave", "erin", head="pr3"), head="pr3")
    status, reason = checks(changes[("fraud-detector", "champion")])["no regression auc"]
    assert (status, reason) == (
        "fail",
        "cannot compare auc: the current holder (version 4) has no 'auc' in its eval.yaml",
    )


def test_no_holder_on_the_base_passes_and_says_why(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.delete(f"{FRAUD}/aliases/champion.yaml")
    repo.commit("no champion")
    repo.merge("pr")
    repo.branch("pr2")
    repo.write(
        f"{FRAUD}/aliases/champion.yaml",
        {"apiVersion": "mlgate/v1", "kind": "Alias", "model": "fraud-detector", "alias": "champion", "version": 3},
    )
    repo.commit("first champion")
    _, changes = judge(repo, approved(repo, "dave", "erin", head="pr2"), head="pr2")
    change = changes[("fraud-detector", "champion")]
    assert change.from_version is None
    # v2 held it once, v3 never did: this is a promotion, not a rollback
    assert change.kind == "promotion"
    assert checks(change)["no regression auc"] == (
        "pass",
        "no version holds this alias on the base: nothing to regress against",
    )


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        ("# v4\n\n## Intended use\nx\n## Training data\nx\n## Evaluation\nx\n", "missing: Limitations"),
        (
            "# v4\n\n## intended USE\nx\n## Training data\nx\n## Evaluation\n\n<!-- TODO -->\n\n## Limitations\nx\n",
            "empty: Evaluation",
        ),
        (
            "# v4\n\n```\n## Intended use\n```\n## Training data\nx\n## Evaluation\nx\n## Limitations\nx\n",
            "missing: Intended use",
        ),
        ("   \n", "card.md is empty"),
    ],
    ids=["missing-section", "empty-section", "heading-in-code-block", "empty-card"],
)
def test_card_sections(repo: RegistryRepo, card: str, reason: str) -> None:
    repo.branch("pr")
    repo.add_version("fraud-detector", 4, like=3, card=card)
    move(repo, "fraud-detector", "champion", 4)
    report, changes = judge(repo, approved(repo, "dave", "erin"))
    assert checks(changes[("fraud-detector", "champion")])["card sections"] == ("fail", reason)
    assert "MG404" in {f.rule for f in report.errors}


def test_missing_extra_evidence(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.add_version("fraud-detector", 4, like=3)
    data = repo.read_yaml(f"{FRAUD}/versions/4/version.yaml")
    del data["evidence"]
    repo.write(f"{FRAUD}/versions/4/version.yaml", data)
    move(repo, "fraud-detector", "champion", 4)
    report, changes = judge(repo, approved(repo, "dave", "erin"))
    assert checks(changes[("fraud-detector", "champion")])["evidence bias_audit"] == (
        "fail",
        "version.yaml lists no 'bias_audit' evidence file",
    )
    assert [f.rule for f in report.errors] == ["MG401"]


def test_deprecated_target(repo: RegistryRepo) -> None:
    repo.branch("pr")
    move(repo, "churn-predictor", "challenger", 1)
    report, changes = judge(repo, approved(repo, "dave"))
    status, reason = checks(changes[("churn-predictor", "challenger")])["deprecated"]
    assert status == "fail" and reason.startswith("version 1 is deprecated: Trained on data")
    assert "MG205" in {f.rule for f in report.errors} and "MG405" not in {
        f.rule for f in report.errors
    }  # one problem, one finding


def test_policy_loosened_in_the_same_pr_is_judged_by_the_old_policy(repo: RegistryRepo) -> None:
    repo.branch("pr")
    policy = repo.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["metrics"]["auc"] = {"min": 0.5}
    policy["aliases"]["champion"]["approvals"] = {"min": 0}
    repo.write("registry/policy.yaml", policy)
    move(repo, "churn-predictor", "champion", 4)
    report, changes = judge(repo, approved(repo, "dave"))
    c = checks(changes[("churn-predictor", "champion")])
    assert c["no regression auc"][0] == "fail"  # the old policy's tolerance still applies
    assert c["approvals"] == ("fail", "1 of 2 required approvals from @acme/ml-leads, carol (dave)")
    policy_change = changes[(None, None)]
    assert policy_change.kind == "policy-change"
    assert checks(policy_change)["admin approval"][0] == "fail"
    assert {"MG403", "MG406", "MG501"} <= {f.rule for f in report.errors}


def test_policy_change_approved_by_an_admin(repo: RegistryRepo) -> None:
    repo.branch("pr")
    policy = repo.read_yaml("registry/policy.yaml")
    policy["description"] = "Tighter wording."
    repo.write("registry/policy.yaml", policy)
    repo.commit("reword policy")
    report, changes = judge(repo, approved(repo, "dave"))
    assert checks(changes[(None, None)])["admin approval"][0] == "fail"
    report, changes = judge(repo, approved(repo, "pat"))
    assert checks(changes[(None, None)])["admin approval"][0] == "pass" and report.ok


def test_per_model_loosening_is_rejected_and_has_no_effect(repo: RegistryRepo) -> None:
    model = repo.read_yaml(f"{CHURN}/model.yaml")
    model["policy"] = {
        "aliases": {"champion": {"metrics": {"auc": {"min": 0.7}}, "approvals": {"min": 0, "exclude_author": False}}}
    }
    repo.write(f"{CHURN}/model.yaml", model)
    full = validate_repo(repo.root)
    messages = sorted(f.message for f in full.errors if f.rule == "MG502")
    assert len(messages) == 3
    assert "policy.aliases.champion.metrics.auc.min 0.7 is below the registry's 0.85" in messages[2]
    repo.commit("loosen churn's champion gate")  # suppose it got merged anyway
    repo.branch("pr")
    repo.add_version("churn-predictor", 5, like=4, metrics={"auc": 0.8})
    move(repo, "churn-predictor", "champion", 5)
    _, changes = judge(repo, approved(repo, "alice", "dave"))
    c = checks(changes[("churn-predictor", "champion")])
    assert c["metric auc"] == ("fail", "auc = 0.8 is below the minimum 0.85")
    assert c["approvals"][0] == "fail"  # still 2 approvals, author excluded


def test_per_model_tightening_applies(repo: RegistryRepo) -> None:
    model = repo.read_yaml(f"{FRAUD}/model.yaml")
    model["policy"] = {
        "aliases": {"champion": {"metrics": {"auc": {"min": 0.92}}, "card_sections": ["Ethical considerations"]}}
    }
    repo.write(f"{FRAUD}/model.yaml", model)
    repo.commit("fraud needs auc >= 0.92")
    assert validate_repo(repo.root).ok
    repo.branch("pr")
    move(repo, "fraud-detector", "champion", 3)
    _, changes = judge(repo, approved(repo, "dave", "erin"))
    c = checks(changes[("fraud-detector", "champion")])
    assert c["metric auc"] == ("fail", "auc = 0.911 is below the minimum 0.92")
    assert c["card sections"] == ("fail", "missing: Ethical considerations")


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        (
            lambda r, stale: r.review("dave", commit=stale).review("erin"),
            "1 of 2 required approvals from @acme/ml-leads, carol (erin); not counted: dave (approved an older commit",
        ),
        (
            lambda r, stale: r.review("alice").review("erin"),
            "1 of 2 required approvals from @acme/ml-leads, carol (erin); not counted: alice (the author cannot approve their own change)",
        ),
        (
            lambda r, stale: r.review("mallory").review("erin"),
            "1 of 2 required approvals from @acme/ml-leads, carol (erin); not counted: mallory (not in @acme/ml-leads, carol)",
        ),
        (
            lambda r, stale: r.review("dave").review("erin").review("dave", "CHANGES_REQUESTED"),
            "1 of 2 required approvals from @acme/ml-leads, carol (erin); not counted: dave (changes requested)",
        ),
        (
            lambda r, stale: r.review("dave").review("mlgate-ci[bot]").review("carol[bot]"),
            "1 of 2 required approvals from @acme/ml-leads, carol (dave); not counted: carol[bot] (a bot's approval is not a sign-off); mlgate-ci[bot]",
        ),
    ],
    ids=["stale", "self-approval", "outside-allowed-set", "later-changes-requested", "bot"],
)
def test_approvals_that_do_not_count(repo: RegistryRepo, reviews, expected: str) -> None:
    repo.branch("pr")
    move(repo, "fraud-detector", "champion", 3)
    stale = repo.rev("pr")
    repo.edit_yaml(f"{FRAUD}/aliases/champion.yaml", note="v3 after review")
    repo.commit("add a note")
    source = StaticReviews("alice", repo.rev("pr"), teams=EXAMPLE_TEAMS)
    reviews(source, stale)
    report, changes = judge(repo, source)
    status, reason = checks(changes[("fraud-detector", "champion")])["approvals"]
    assert status == "fail" and reason.startswith(expected), reason
    assert [f.rule for f in report.errors] == ["MG406"]


def test_without_a_forge_approvals_are_pending_and_the_gate_is_not_met(repo: RegistryRepo) -> None:
    repo.branch("pr")
    move(repo, "fraud-detector", "champion", 3)
    report, changes = judge(repo, None)
    change = changes[("fraud-detector", "champion")]
    assert change.status == "pending"
    assert checks(change)["approvals"] == (
        "pending",
        "needs 2 from @acme/ml-leads, carol; no forge configured: approvals are counted when validate runs on a pull request",
    )
    assert not report.ok and report.errors == [] and [f.rule for f in report.pending] == ["MG406"]


def test_rollback_to_a_previous_holder_uses_the_lighter_gate(repo: RegistryRepo) -> None:
    repo.branch("promote")
    move(repo, "fraud-detector", "champion", 3)
    repo.merge("promote")
    repo.branch("rollback")
    repo.git.git("revert", "--no-edit", "-m", "1", "HEAD")
    report, changes = judge(repo, approved(repo, "mallory", head="rollback"), head="rollback")
    change = changes[("fraud-detector", "champion")]
    assert (change.kind, change.from_version, change.to_version) == ("rollback", 3, 2)
    # the rollback gate: 1 approval from anyone, and it says that it checks no metric
    assert set(checks(change)) == {"deprecated", "metrics", "approvals"}
    assert checks(change)["metrics"][1].startswith("no metric gates configured")
    assert report.ok, report.findings


def test_rollback_to_a_deprecated_version_is_refused(repo: RegistryRepo) -> None:
    repo.branch("promote")
    move(repo, "fraud-detector", "champion", 3)
    repo.merge("promote")
    model = repo.read_yaml(f"{FRAUD}/model.yaml")
    model["deprecated"] = [{"version": 2, "reason": "merchant embeddings leaked labels"}]
    repo.write(f"{FRAUD}/model.yaml", model)
    repo.commit("deprecate v2")
    repo.branch("rollback")
    repo.git.git("revert", "--no-edit", "-m", "1", "HEAD~1")  # the promotion's merge
    report, changes = judge(repo, approved(repo, "dave", head="rollback"), head="rollback")
    change = changes[("fraud-detector", "champion")]
    assert change.kind == "rollback"
    assert checks(change)["deprecated"] == ("fail", "version 2 is deprecated: merchant embeddings leaked labels")
    assert "MG205" in {f.rule for f in report.errors} and "MG405" not in {
        f.rule for f in report.errors
    }  # one problem, one finding


def test_removing_a_protected_alias_needs_approval(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.delete(f"{FRAUD}/aliases/champion.yaml")
    repo.delete(f"{CHURN}/aliases/shadow.yaml")
    repo.commit("remove aliases")
    report, changes = judge(repo, approved(repo, "mallory"))
    champion = changes[("fraud-detector", "champion")]
    assert (champion.kind, champion.to_version) == ("removal", None)
    assert checks(champion)["approvals"][0] == "fail"
    assert checks(changes[("churn-predictor", "shadow")])["removal"][0] == "pass"  # not named in the policy
    report, changes = judge(repo, approved(repo, "dave", "carol"))
    assert report.ok, report.findings


def test_unreadable_base_policy_blocks_every_judgement(repo: RegistryRepo) -> None:
    repo.write("registry/policy.yaml", "apiVersion: mlgate/v1\nkind: Policy\nadmins: []\naliases: {}\n")
    repo.commit("broken policy")
    repo.branch("pr")
    move(repo, "fraud-detector", "champion", 3)
    report, changes = judge(repo, approved(repo, "dave", "erin"))
    assert changes == {}
    assert [f.rule for f in report.errors] == ["MG503"]
    assert "admins: must not be empty" in report.errors[0].message


def test_only_a_note_edit_is_not_a_promotion(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.edit_yaml(f"{FRAUD}/aliases/champion.yaml", note="Still the best.")
    repo.commit("note")
    report, changes = judge(repo, None)
    assert changes == {} and report.ok


def test_card_section_parser() -> None:
    md = "# Title\nintro\n## A\n\n## B\ntext\n### B.1\n\n## C\n### C.1\ndeep\n<!-- ## D -->\n"
    assert card_sections(md) == {"title": True, "a": False, "b": True, "b.1": False, "c": True, "c.1": True}


def test_a_move_back_without_a_provable_revert_is_judged_as_a_promotion(repo: RegistryRepo) -> None:
    """The alias held v2 before, but the pull request names no commit that proves it: the full gate judges it
    (rollback detection reads no history)."""
    repo.branch("promote")
    move(repo, "fraud-detector", "champion", 3)
    repo.merge("promote")
    repo.branch("back")
    move(repo, "fraud-detector", "champion", 2)
    report, changes = judge(repo, approved(repo, "mallory", head="back"), head="back")
    change = changes[("fraud-detector", "champion")]
    assert (change.kind, change.from_version, change.to_version) == ("promotion", 3, 2)
    assert not report.ok  # mallory alone is not the champion gate's approvals
    assert {"metric auc", "card sections"} <= set(checks(change))
