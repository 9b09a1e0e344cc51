"""The policy's pure functions, table by table: which way a metric is better, reading a gate, which gate an alias
gets, what a protect list covers, how a model's gate tightens the registry's and how a loosening is worded.

No git and no files: every case builds the frozen objects itself.
"""

from __future__ import annotations

import pytest

from mlgate.core.policy import Approvals, Bound, Gate, Policy, loosenings, tighten

WHERE = "policy.aliases.champion"
LEADS = ("@acme/ml-leads", "carol")


# --- which way is better ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "lower"),
    [
        (Bound(), False),
        (Bound(min=0.85), False),
        (Bound(no_regression=0.005), False),
        (Bound(max=50), True),
        (Bound(max=50, no_regression=1), True),
        (Bound(min=0, max=50), False),  # both bounds: min decides, as for a score kept within a range
        (Bound(max=50, better="higher"), False),  # fixed by the registry: a max alone no longer decides
        (Bound(min=0.85, better="lower"), True),
        (Bound(better="lower"), True),
        (Bound(better="higher"), False),
    ],
    ids=repr,
)
def test_which_way_a_metric_is_better(bound: Bound, lower: bool) -> None:
    assert bound.lower_is_better is lower


# --- reading a gate ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "gate"),
    [
        ({}, Gate()),
        ({"evidence": ["eval", "card"]}, Gate(evidence=("eval", "card"))),
        ({"card_sections": ["Intended use"]}, Gate(card_sections=("Intended use",))),
        (
            {"metrics": {"auc": {"min": 0.85, "no_regression": 0.005}, "latency": {"max": 50}}},
            Gate(metrics={"auc": Bound(min=0.85, no_regression=0.005), "latency": Bound(max=50)}),
        ),
        ({"approvals": {"min": 2}}, Gate(approvals=Approvals(2, (), True))),
        (
            {"approvals": {"min": 1, "from": ["carol"], "exclude_author": False}},
            Gate(approvals=Approvals(1, ("carol",), False)),
        ),
        (
            {"evidence": ["eval"], "rollback": {"approvals": {"min": 1}}},
            Gate(evidence=("eval",), rollback=Gate(approvals=Approvals(1))),
        ),
        (  # a rollback gate has no rollback gate of its own
            {"rollback": {"approvals": {"min": 1}, "rollback": {"approvals": {"min": 0}}}},
            Gate(rollback=Gate(approvals=Approvals(1))),
        ),
    ],
    ids=["empty", "evidence", "card-sections", "metrics", "approvals-defaults", "approvals-full", "rollback", "nested"],
)
def test_a_gate_read_from_its_manifest(manifest: dict, gate: Gate) -> None:
    assert Gate.from_manifest(manifest) == gate


def test_the_rollback_gate_is_its_own_or_else_the_full_one() -> None:
    light = Gate(approvals=Approvals(1))
    full = Gate(evidence=("eval",), approvals=Approvals(2), rollback=light)
    assert full.for_rollback() is light
    assert Gate(evidence=("eval",)).for_rollback() == Gate(evidence=("eval",))


# --- which gate an alias gets, what the policy protects ----------------------------------------------------

POLICY = Policy.from_manifest(
    {
        "admins": ["@acme/ml-platform"],
        "protect": ["pyproject.toml", "scripts/"],
        "aliases": {"champion": {"approvals": {"min": 2}}, "*": {"approvals": {"min": 1}}},
    }
)
WITHOUT_DEFAULT = Policy.from_manifest({"admins": ["pat"], "aliases": {"champion": {"approvals": {"min": 2}}}})


@pytest.mark.parametrize(
    ("policy", "alias", "key", "protected"),
    [
        (POLICY, "champion", "champion", True),
        (POLICY, "shadow", "*", False),  # the default gates it, but removing it is not gated
        (POLICY, "*", "*", True),
        (WITHOUT_DEFAULT, "champion", "champion", True),
        (WITHOUT_DEFAULT, "shadow", None, False),
    ],
)
def test_the_gate_of_an_alias(policy: Policy, alias: str, key: str | None, protected: bool) -> None:
    gate, found = policy.gate_for(alias)
    assert found == key
    assert gate == (policy.gates[key] if key is not None else None)
    assert policy.is_protected(alias) is protected


def test_a_policy_read_from_its_manifest() -> None:
    assert POLICY.admins == ("@acme/ml-platform",)
    assert POLICY.protect == ("pyproject.toml", "scripts/")
    assert POLICY.gates == {"champion": Gate(approvals=Approvals(2)), "*": Gate(approvals=Approvals(1))}
    assert WITHOUT_DEFAULT.protect == ()


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        ("pyproject.toml", True),
        ("pyproject.toml.orig", False),  # a file entry covers that file only
        ("sub/pyproject.toml", False),
        ("scripts/mlgate/cli/app.py", True),  # a folder entry covers everything under it
        ("scripts/", True),
        ("scripts", False),
        ("scripts-extra/run.sh", False),
        ("registry/policy.yaml", False),  # the policy file itself is the admins' by another rule
    ],
)
def test_what_a_protect_list_covers(path: str, protected: bool) -> None:
    assert POLICY.protects(path) is protected
    assert WITHOUT_DEFAULT.protects(path) is False


# --- tightening: bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "model", "combined"),
    [
        (Bound(min=0.85), Bound(min=0.9), Bound(min=0.9, better="higher")),
        (Bound(min=0.85), Bound(min=0.7), Bound(min=0.85, better="higher")),
        (Bound(max=50), Bound(max=40), Bound(max=40, better="lower")),
        (Bound(max=50), Bound(max=60), Bound(max=50, better="lower")),
        (Bound(no_regression=0.005), Bound(no_regression=0.001), Bound(no_regression=0.001, better="higher")),
        (Bound(no_regression=0.005), Bound(no_regression=0.01), Bound(no_regression=0.005, better="higher")),
        (Bound(min=0.85), Bound(no_regression=0.01), Bound(min=0.85, no_regression=0.01, better="higher")),
        # a model adding `min: 0` to a lower-is-better metric tightens it and must not turn it around
        (Bound(max=50, no_regression=2), Bound(min=0), Bound(min=0, max=50, no_regression=2, better="lower")),
        # and a max added to a higher-is-better metric keeps it higher-is-better
        (Bound(min=0.85), Bound(max=1.0), Bound(min=0.85, max=1.0, better="higher")),
        # a metric only the model names: its own bounds decide which way it goes
        (None, Bound(max=40), Bound(max=40)),
    ],
    ids=[
        "higher-min",
        "lower-min-ignored",
        "lower-max",
        "higher-max-ignored",
        "smaller-tolerance",
        "bigger-tolerance-ignored",
        "tolerance-added",
        "min-on-lower-is-better",
        "max-on-higher-is-better",
        "model-only-metric",
    ],
)
def test_tightening_takes_the_stricter_bound(registry: Bound | None, model: Bound, combined: Bound) -> None:
    base = Gate(metrics={} if registry is None else {"m": registry})
    result = tighten(base, Gate(metrics={"m": model}))
    assert result is not None
    assert result.metrics["m"] == combined
    assert result.metrics["m"].lower_is_better is combined.lower_is_better


def test_a_model_gate_cannot_flip_which_way_a_metric_is_better() -> None:
    """Registry: latency has a max (lower is better). A model adding `min: 0` tightens nothing, and must not turn
    the no-regression check into 'higher is better'."""
    registry = Gate.from_manifest({"metrics": {"latency_p99_ms": {"max": 50, "no_regression": 2}}})
    model = Gate.from_manifest({"metrics": {"latency_p99_ms": {"min": 0}}})
    combined = tighten(registry, model)
    assert combined.metrics["latency_p99_ms"].lower_is_better
    assert (combined.metrics["latency_p99_ms"].min, combined.metrics["latency_p99_ms"].max) == (0, 50)


def test_tightening_keeps_the_registrys_other_metrics_and_adds_the_models() -> None:
    base = Gate(metrics={"auc": Bound(min=0.85), "latency": Bound(max=50)})
    result = tighten(base, Gate(metrics={"recall": Bound(min=0.6)}))
    assert result is not None
    assert result.metrics == {"auc": Bound(min=0.85), "latency": Bound(max=50), "recall": Bound(min=0.6)}
    assert base.metrics == {"auc": Bound(min=0.85), "latency": Bound(max=50)}  # frozen input left alone


GATE = Gate(evidence=("eval",), approvals=Approvals(1))


@pytest.mark.parametrize(
    ("registry", "model", "combined"),
    [
        (None, None, None),
        (GATE, None, GATE),
        (None, GATE, GATE),
    ],
    ids=["neither", "registry-only", "model-only"],
)
def test_tightening_with_a_missing_side(registry: Gate | None, model: Gate | None, combined: Gate | None) -> None:
    assert tighten(registry, model) == combined


@pytest.mark.parametrize(
    ("registry", "model", "combined"),
    [
        (("eval", "card"), ("card", "bias_audit"), ("eval", "card", "bias_audit")),
        (("eval",), (), ("eval",)),
        ((), ("eval",), ("eval",)),
        (("card", "eval"), ("eval", "card"), ("card", "eval")),  # the registry's order first, no duplicates
    ],
)
def test_lists_add_up_in_order_without_duplicates(registry: tuple, model: tuple, combined: tuple) -> None:
    result = tighten(Gate(evidence=registry, card_sections=registry), Gate(evidence=model, card_sections=model))
    assert result is not None
    assert (result.evidence, result.card_sections) == (combined, combined)


# --- tightening: who may approve ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "model", "combined"),
    [
        (None, Approvals(1), Approvals(1)),
        (Approvals(2, LEADS), None, Approvals(2, LEADS)),
        (Approvals(2), Approvals(1), Approvals(2)),
        (Approvals(1), Approvals(3), Approvals(3)),
        # the model narrows the registry's approvers ...
        (Approvals(1), Approvals(1, ("dave",)), Approvals(1, ("dave",))),  # anyone -> dave
        (Approvals(2, LEADS), Approvals(1, ("carol",)), Approvals(2, ("carol",))),
        (Approvals(2, LEADS), Approvals(1, ("mallory", "carol")), Approvals(2, ("carol",))),
        # ... but cannot widen them: entries outside are dropped, and if none is left the registry's set stays
        (Approvals(2, LEADS), Approvals(1, ("mallory",)), Approvals(2, LEADS)),
        (Approvals(2, LEADS), Approvals(1), Approvals(2, LEADS)),
        # excluding the author wins from either side
        (Approvals(1, exclude_author=True), Approvals(1, exclude_author=False), Approvals(1, exclude_author=True)),
        (Approvals(1, exclude_author=False), Approvals(1, exclude_author=True), Approvals(1, exclude_author=True)),
        (Approvals(1, exclude_author=False), Approvals(1, exclude_author=False), Approvals(1, exclude_author=False)),
    ],
    ids=[
        "registry-silent",
        "model-silent",
        "registry-min-higher",
        "model-min-higher",
        "anyone-narrowed",
        "subset",
        "outsider-dropped",
        "only-outsiders",
        "model-allows-anyone",
        "registry-excludes-author",
        "model-excludes-author",
        "neither-excludes-author",
    ],
)
def test_approvers_can_only_be_narrowed(
    registry: Approvals | None, model: Approvals | None, combined: Approvals
) -> None:
    result = tighten(Gate(approvals=registry), Gate(approvals=model))
    assert result is not None
    assert result.approvals == combined


# --- tightening: the rollback gate -------------------------------------------------------------------------

LIGHT = Gate(approvals=Approvals(1))
FULL = Gate(evidence=("eval", "card"), approvals=Approvals(2, LEADS), rollback=LIGHT)


@pytest.mark.parametrize(
    ("registry", "model", "rollback"),
    [
        (Gate(approvals=Approvals(2)), Gate(approvals=Approvals(3)), None),  # nobody names one: none
        (FULL, Gate(approvals=Approvals(3)), LIGHT),  # the model's full gate does not reach the rollback gate
        (FULL, Gate(rollback=Gate(approvals=Approvals(2))), Gate(approvals=Approvals(2))),
        # a model's rollback gate tightens the registry's full gate when the registry has no rollback gate
        (
            Gate(evidence=("eval",), approvals=Approvals(2, LEADS)),
            Gate(rollback=Gate(approvals=Approvals(1, ("carol",)))),
            Gate(evidence=("eval",), approvals=Approvals(2, ("carol",))),
        ),
    ],
    ids=["none", "registry-rollback-kept", "model-tightens-rollback", "model-rollback-over-full-gate"],
)
def test_the_rollback_gate_tightens_too(registry: Gate, model: Gate, rollback: Gate | None) -> None:
    result = tighten(registry, model)
    assert result is not None
    assert result.rollback == rollback
    assert result.for_rollback() == (rollback if rollback is not None else result)


# --- loosenings --------------------------------------------------------------------------------------------

REGISTRY = Gate(
    evidence=("eval", "card"),
    metrics={"auc": Bound(min=0.85, no_regression=0.005), "latency": Bound(max=50)},
    approvals=Approvals(2, LEADS, True),
    rollback=Gate(approvals=Approvals(1)),
)


@pytest.mark.parametrize(
    ("model", "found"),
    [
        (Gate(), []),
        (REGISTRY, []),
        (Gate(metrics={"auc": Bound(min=0.9, no_regression=0.001), "latency": Bound(max=40)}), []),
        (Gate(metrics={"recall": Bound(min=0.1)}), []),  # a metric of its own adds a requirement
        (Gate(metrics={"latency": Bound(min=0)}), []),  # a min on a max-bounded metric loosens nothing
        (
            Gate(metrics={"auc": Bound(min=0.7)}),
            [f"{WHERE}.metrics.auc.min 0.7 is below the registry's 0.85"],
        ),
        (
            Gate(metrics={"latency": Bound(max=80)}),
            [f"{WHERE}.metrics.latency.max 80 is above the registry's 50"],
        ),
        (
            Gate(metrics={"auc": Bound(no_regression=0.05)}),
            [f"{WHERE}.metrics.auc.no_regression 0.05 allows more than the registry's 0.005"],
        ),
        (Gate(approvals=Approvals(3, ("carol",))), []),
        (Gate(approvals=Approvals(1)), [f"{WHERE}.approvals.min 1 is below the registry's 2"]),
        (
            Gate(approvals=Approvals(2, exclude_author=False)),
            [f"{WHERE}.approvals.exclude_author false would let authors approve their own change"],
        ),
        (
            Gate(approvals=Approvals(2, ("carol", "mallory", "@evil/team"))),
            [f"{WHERE}.approvals.from adds mallory, @evil/team, whom the registry does not allow"],
        ),
        (
            Gate(rollback=Gate(approvals=Approvals(0))),
            [f"{WHERE}.rollback.approvals.min 0 is below the registry's 1"],
        ),
        (  # every problem, in a stable order: metrics, approvals, then the rollback gate
            Gate(
                metrics={"auc": Bound(min=0.5), "latency": Bound(max=99)},
                approvals=Approvals(0, exclude_author=False),
                rollback=Gate(approvals=Approvals(0)),
            ),
            [
                f"{WHERE}.metrics.auc.min 0.5 is below the registry's 0.85",
                f"{WHERE}.metrics.latency.max 99 is above the registry's 50",
                f"{WHERE}.approvals.min 0 is below the registry's 2",
                f"{WHERE}.approvals.exclude_author false would let authors approve their own change",
                f"{WHERE}.rollback.approvals.min 0 is below the registry's 1",
            ],
        ),
    ],
    ids=[
        "nothing",
        "same",
        "stricter",
        "own-metric",
        "min-on-max-metric",
        "lower-min",
        "higher-max",
        "bigger-tolerance",
        "stricter-approvals",
        "fewer-approvals",
        "self-approval",
        "outside-approvers",
        "looser-rollback",
        "everything",
    ],
)
def test_loosenings_are_named_one_by_one(model: Gate, found: list[str]) -> None:
    assert loosenings(REGISTRY, model, WHERE) == found


@pytest.mark.parametrize(
    ("registry", "model", "found"),
    [
        # no rollback gate in the registry: a model's rollback gate is held to the full gate
        (
            Gate(approvals=Approvals(2)),
            Gate(rollback=Gate(approvals=Approvals(1))),
            [f"{WHERE}.rollback.approvals.min 1 is below the registry's 2"],
        ),
        # a registry that lets anyone approve: a model naming approvers narrows it
        (Gate(approvals=Approvals(1)), Gate(approvals=Approvals(1, ("mallory",))), []),
        # a registry silent on approvals, or a bound: nothing to loosen
        (Gate(), Gate(approvals=Approvals(0, exclude_author=False)), []),
        (Gate(metrics={"auc": Bound(no_regression=0.01)}), Gate(metrics={"auc": Bound(min=0.1)}), []),
        (Gate(approvals=Approvals(2, exclude_author=False)), Gate(approvals=Approvals(2, exclude_author=False)), []),
    ],
    ids=["rollback-vs-full-gate", "anyone-narrowed", "silent-approvals", "no-min-to-lower", "author-allowed-both"],
)
def test_loosenings_against_other_registry_gates(registry: Gate, model: Gate, found: list[str]) -> None:
    assert loosenings(registry, model, WHERE) == found


@pytest.mark.parametrize(
    "model",
    [
        Gate(metrics={"auc": Bound(min=0.9)}, approvals=Approvals(3, ("carol",))),
        Gate(evidence=("bias_audit",), card_sections=("Ethics",), rollback=Gate(approvals=Approvals(2))),
    ],
    ids=["bounds-and-approvers", "lists-and-rollback"],
)
def test_a_gate_without_loosenings_tightens_every_requirement(model: Gate) -> None:
    """What loosenings accepts, tighten keeps at least as strict as the registry, requirement by requirement."""
    assert loosenings(REGISTRY, model, WHERE) == []
    combined = tighten(REGISTRY, model)
    assert combined is not None and combined.approvals is not None and REGISTRY.approvals is not None
    assert set(REGISTRY.evidence) <= set(combined.evidence)
    assert combined.approvals.min >= REGISTRY.approvals.min
    assert set(combined.approvals.allowed) <= set(REGISTRY.approvals.allowed)
    for name, bound in REGISTRY.metrics.items():
        got = combined.metrics[name]
        assert got.lower_is_better is bound.lower_is_better
        if bound.min is not None:
            assert got.min is not None and got.min >= bound.min
        if bound.max is not None:
            assert got.max is not None and got.max <= bound.max
    assert loosenings(REGISTRY, combined, WHERE) == []
