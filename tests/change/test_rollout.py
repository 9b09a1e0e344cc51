"""mlgate rollout start / step / complete / abort / evidence / status end to end through the local forge: each
opens a pull request whose description is the gate report, is approved and merged, and the revert of each
merge is judged as a way back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlgate import Registry
from mlgate.change import rollout
from mlgate.change.propose import GateFailed, MergeRefused, merge_pull_request, promote, rollback
from mlgate.errors import InputError, NotFoundError, UsageError
from mlgate.testing import RegistryRepo, merge_approved

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
ONLINE = "registry/models/fraud-detector/online/champion/3.yaml"
GATE = {
    "steps": [5, 25],
    "online": {"min_requests": 1000, "min_hours": 24, "metrics": {"error_rate": {"max": 0.02, "no_regression": 0.001}}},
    "approvals": {"min": 1, "from": ["@acme/ml-leads"]},
}
MEASURED = {
    "window": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T12:00:00Z"},
    "requests": {"candidate": 4000, "holder": 76000},
    "metrics": {"candidate": {"error_rate": 0.011}, "holder": {"error_rate": 0.0105}},
    "source": "https://grafana.example/d/canary",
}


@pytest.fixture
def gated(repo: RegistryRepo) -> RegistryRepo:
    policy = repo.read_yaml("registry/policy.yaml")
    policy["aliases"]["champion"]["rollout"] = GATE
    repo.write("registry/policy.yaml", policy)
    repo.commit("champion rolls out in two steps")
    return repo


def _champion(repo: RegistryRepo, ref: str = "main") -> Any:
    return Registry.open(repo.root, ref).aliases("fraud-detector")["champion"]


def _measured(tmp_path: Path, **changes: Any) -> str:
    path = tmp_path / "canary.json"
    path.write_text(json.dumps({**MEASURED, **changes}))
    return str(path)


def _evidence(repo: RegistryRepo, forge, tmp_path: Path, **changes: Any) -> None:
    p = rollout.evidence(
        repo.root, "fraud-detector", "champion", source=_measured(tmp_path, **changes), author="mon", forge=forge
    )
    merge_approved(repo.root, forge, p.pr.number, "dave")


def test_a_whole_canary_through_the_local_forge(gated: RegistryRepo, forge, tmp_path: Path) -> None:
    repo = gated
    p = rollout.start(
        repo.root, "fraud-detector", 3, "champion", mode="canary", percent=None, author="alice", forge=forge
    )
    assert p.title == "Start canary of fraud-detector v3 on champion at 5%"
    assert p.gate.kind == "rollout-start" and "starts a canary of v3 at 5% (holder v2)" in p.pr.body
    assert "no regression auc" in p.pr.body and "next: 25%" in p.pr.body
    with pytest.raises(MergeRefused):  # champion's two approvals, and the rollout gate's ML lead
        merge_pull_request(repo.root, forge, p.pr.number, "dave")
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    r = _champion(repo).rollout
    assert (_champion(repo).version, r.candidate, r.mode, r.percent) == (2, 3, "canary", 5)
    assert r.started_at is not None

    # no evidence yet: the step is refused before anything is created
    with pytest.raises(GateFailed, match=r"fails its gate \(online evidence\)"):
        rollout.step(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    view = rollout.status(repo.root, "fraud-detector", "champion")
    assert view["next"]["percent"] == 25 and view["evidence"]["present"] is False and not view["evidence"]["passes"]

    _evidence(repo, forge, tmp_path)
    ev = Registry.open(repo.root, "main").online("fraud-detector", "champion", 3)
    assert (ev.holder, ev.mode, ev.percent, ev.requests_candidate, ev.source) == (
        2,
        "canary",
        5,
        4000,
        MEASURED["source"],
    )
    assert rollout.status(repo.root, "fraud-detector", "champion")["evidence"]["passes"] is True

    p = rollout.step(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    assert p.title == "Step up canary of fraud-detector v3 on champion to 25%" and p.gate.status == "pending"
    merge_approved(repo.root, forge, p.pr.number, "erin")
    assert _champion(repo).rollout.percent == 25

    with pytest.raises(UsageError, match=r"at the last step \(25%\).*mlgate rollout complete fraud-detector"):
        rollout.step(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    with pytest.raises(GateFailed, match="online evidence"):  # the evidence is the 5% step's
        rollout.complete(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    _evidence(repo, forge, tmp_path)
    p = rollout.complete(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    assert p.gate.kind == "rollout-complete"
    merge_approved(repo.root, forge, p.pr.number, "dave")
    assert (_champion(repo).version, _champion(repo).rollout) == (3, None)
    assert rollout.status(repo.root, "fraud-detector", "champion")["rollout"] is None


def test_an_abort_and_its_revert(gated: RegistryRepo, forge) -> None:
    repo = gated
    p = rollout.start(repo.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    p = rollout.abort(repo.root, "fraud-detector", "champion", author="oncall", note="errors up", forge=forge)
    assert p.gate.kind == "rollout-abort" and p.title == "Abort canary of fraud-detector v3 on champion"
    merge_approved(repo.root, forge, p.pr.number, "mallory")  # the rollback gate: one approval, anyone
    assert (_champion(repo).version, _champion(repo).rollout, _champion(repo).note) == (2, None, "errors up")
    # the revert of the abort restarts the canary where it was: a start, judged as one
    p = rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
    assert p.gate.kind == "rollout-start"


def test_the_revert_of_each_merged_step_is_a_way_back(gated: RegistryRepo, forge, tmp_path: Path) -> None:
    repo = gated
    kinds = []

    def revert_and_merge_back() -> None:
        p = rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
        kinds.append(p.gate.kind)
        # judged by the rollback gate: one approval from anyone
        merge_approved(repo.root, forge, p.pr.number, "mallory")

    p = rollout.start(repo.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    revert_and_merge_back()
    assert _champion(repo).rollout is None

    p = rollout.start(repo.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    _evidence(repo, forge, tmp_path)
    p = rollout.step(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave")
    revert_and_merge_back()
    assert _champion(repo).rollout.percent == 5

    p = rollout.step(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave")
    _evidence(repo, forge, tmp_path)
    p = rollout.complete(repo.root, "fraud-detector", "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave")
    revert_and_merge_back()
    back = _champion(repo)
    assert (back.version, back.rollout.candidate, back.rollout.percent) == (2, 3, 25)
    assert kinds == ["rollout-abort", "rollout-step-down", "rollback"]


def test_a_step_down_and_an_explicit_step(gated: RegistryRepo, forge, tmp_path: Path) -> None:
    repo = gated
    p = rollout.start(repo.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    _evidence(repo, forge, tmp_path)
    with pytest.raises(GateFailed, match=r"rollout step"):
        rollout.step(repo.root, "fraud-detector", "champion", to=50, author="alice", forge=forge)
    p = rollout.step(repo.root, "fraud-detector", "champion", to=25, author="alice", forge=forge)
    merge_approved(repo.root, forge, p.pr.number, "dave")
    p = rollout.step(repo.root, "fraud-detector", "champion", to=2.5, author="oncall", forge=forge)
    assert p.gate.kind == "rollout-step-down" and p.title == "Step down canary of fraud-detector v3 on champion to 2.5%"
    merge_approved(repo.root, forge, p.pr.number, "mallory")
    assert _champion(repo).rollout.percent == 2.5


def test_promote_is_refused_where_a_rollout_is_required(gated: RegistryRepo, forge) -> None:
    before = gated.status()
    with pytest.raises(GateFailed, match=r"rollout required"):
        promote(gated.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    assert gated.status() == before and forge.list_pull_requests() == []


def test_promote_during_a_rollout_completes_or_is_refused(repo: RegistryRepo, forge) -> None:
    """Without a rollout gate, promoting the candidate completes the rollout; promoting a third version is not a
    rollout change and the gate says so."""
    p = rollout.start(
        repo.root, "fraud-detector", 3, "champion", mode="shadow", percent=10, author="alice", forge=forge
    )
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    with pytest.raises(GateFailed, match=r"rollout"):
        promote(repo.root, "fraud-detector", 1, "champion", author="alice", forge=forge)
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    assert p.gate.kind == "rollout-complete"
    merge_approved(repo.root, forge, p.pr.number, "dave", "carol")
    assert (_champion(repo).version, _champion(repo).rollout) == (3, None)


# --- refusals and hostile inputs --------------------------------------------------------------------------


def test_start_refusals_create_nothing(gated: RegistryRepo, forge) -> None:
    repo = gated
    before = repo.status()
    with pytest.raises(GateFailed, match=r"rollout step"):
        rollout.start(
            repo.root, "fraud-detector", 3, "champion", mode="canary", percent=25, author="alice", forge=forge
        )
    with pytest.raises(NotFoundError, match=r"a version must be merged before it is rolled out"):
        rollout.start(repo.root, "fraud-detector", 9, "champion", mode="canary", percent=5, author="alice", forge=forge)
    with pytest.raises(UsageError, match=r"already holds version 2"):
        rollout.start(repo.root, "fraud-detector", 2, "champion", mode="canary", percent=5, author="alice", forge=forge)
    for bad in (0, 100.5, float("nan"), float("inf"), -5):
        with pytest.raises(UsageError, match=r"--canary"):
            rollout.start(repo.root, "fraud-detector", 3, "champion", mode="canary", percent=bad, author="alice")
    with pytest.raises(UsageError, match=r"mode 'blue'"):
        rollout.start(repo.root, "fraud-detector", 3, "champion", mode="blue", percent=5, author="alice")
    assert repo.status() == before and forge.list_pull_requests() == []
    assert [b for b in repo.git.git("branch", "--format=%(refname:short)").split() if b != "main"] == []


def test_a_deprecated_candidate_is_refused(gated: RegistryRepo, forge) -> None:
    model = gated.read_yaml("registry/models/fraud-detector/model.yaml")
    model["deprecated"] = [{"version": 3, "reason": "leaks labels", "date": "2026-03-01T00:00:00Z"}]
    gated.write("registry/models/fraud-detector/model.yaml", model)
    gated.commit("deprecate v3")
    with pytest.raises(GateFailed, match=r"deprecated"):
        rollout.start(
            gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
        )


def test_commands_need_a_rollout_under_way(gated: RegistryRepo, forge, tmp_path: Path) -> None:
    for call in (
        lambda: rollout.step(gated.root, "fraud-detector", "champion", author="alice"),
        lambda: rollout.complete(gated.root, "fraud-detector", "champion", author="alice"),
        lambda: rollout.abort(gated.root, "fraud-detector", "champion", author="alice"),
        lambda: rollout.evidence(gated.root, "fraud-detector", "champion", source=_measured(tmp_path), author="mon"),
    ):
        with pytest.raises(UsageError, match=r"no rollout is under way on fraud-detector@champion on main"):
            call()
    p = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
    )
    merge_approved(gated.root, forge, p.pr.number, "dave", "carol")
    with pytest.raises(UsageError, match=r"already rolls out v3 \(canary at 5%\)"):
        rollout.start(gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice")


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        ('{"window": 1, "extra": 2, "requests": {}, "metrics": {}}', UsageError, "unexpected key 'extra'"),
        ('{"holder": 1}', UsageError, "holder is 1 but the rollout on fraud-detector@champion has 2"),
        ('{"requests": {"candidate": NaN}}', InputError, "NaN"),
        ('{"requests": {"candidate": 1e400}}', InputError, "too large a number"),
        ('{"a": 1, "a": 2}', InputError, "duplicate key 'a'"),
        ("[1, 2]", InputError, "must be a JSON object"),
        ("{", InputError, "not valid JSON"),
        (
            '{"window": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}}',
            UsageError,
            "'requests' is a required property",
        ),
    ],
)
def test_hostile_evidence_documents(
    gated: RegistryRepo, forge, tmp_path: Path, text: str, error: type, words: str
) -> None:
    p = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
    )
    merge_approved(gated.root, forge, p.pr.number, "dave", "carol")
    source = tmp_path / "bad.json"
    source.write_text(text)
    before = gated.status()
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        rollout.evidence(gated.root, "fraud-detector", "champion", source=str(source), author="mon", forge=forge)
    assert gated.status() == before and len(forge.list_pull_requests()) == 1


def test_evidence_with_huge_numbers_is_refused_or_judged_without_a_crash(
    gated: RegistryRepo, forge, tmp_path: Path
) -> None:
    p = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
    )
    merge_approved(gated.root, forge, p.pr.number, "dave", "carol")
    with pytest.raises(UsageError, match=r"more than 18 digits"):
        rollout.evidence(
            gated.root,
            "fraud-detector",
            "champion",
            source=_measured(tmp_path, requests={"candidate": 10**30, "holder": 1}),
            author="mon",
        )
    big = {"candidate": {"error_rate": 1e300}, "holder": {"error_rate": 1e-300}}
    p = rollout.evidence(
        gated.root, "fraud-detector", "champion", source=_measured(tmp_path, metrics=big), author="mon", forge=forge
    )
    merge_approved(gated.root, forge, p.pr.number, "dave")
    with pytest.raises(GateFailed, match=r"live error_rate"):
        rollout.step(gated.root, "fraud-detector", "champion", author="alice", forge=forge)


def test_status_of_an_alias_with_no_rollout(gated: RegistryRepo) -> None:
    view = rollout.status(gated.root, "fraud-detector", "champion")
    assert view["rollout"] is None and view["version"] == 2
    assert view["next"]["command"] == "mlgate rollout start fraud-detector VERSION --alias champion --canary 5"
    assert view["policy"]["steps"] == [5, 25]


def test_a_rerun_replaces_the_own_branch_and_updates_its_pull_request(gated: RegistryRepo, forge) -> None:
    first = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, note="A", author="alice", forge=forge
    )
    second = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, note="B", author="alice", forge=forge
    )
    assert second.replaced == first.commit and second.updated_pr and second.pr.number == first.pr.number
    assert Registry.open(gated.root, second.branch).aliases("fraud-detector")["champion"].note == "B"
    assert len(forge.list_pull_requests()) == 1


def test_evidence_documents_with_any_unknown_key_are_refused(gated: RegistryRepo, forge, tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    p = rollout.start(
        gated.root, "fraud-detector", 3, "champion", mode="canary", percent=5, author="alice", forge=forge
    )
    merge_approved(gated.root, forge, p.pr.number, "dave", "carol")
    before = gated.status()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(key=st.text(min_size=1, max_size=20).filter(lambda k: k not in rollout.MEASURED + rollout.FILLED))
    def refused(key: str) -> None:
        source = tmp_path / "extra.json"
        source.write_text(json.dumps({**MEASURED, key: 1}))
        with pytest.raises(UsageError, match="unexpected key"):
            rollout.evidence(gated.root, "fraud-detector", "champion", source=str(source), author="mon", forge=forge)

    refused()
    assert gated.status() == before and len(forge.list_pull_requests()) == 1
