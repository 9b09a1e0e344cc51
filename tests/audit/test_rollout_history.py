"""History and whois over progressive rollouts, on real repositories: each rollout change is a pull request
merged as GitHub merges it (a merge commit naming the PR), approved on the local forge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from mlgate.audit.history import alias_at, history
from mlgate.forge.local import LocalForge
from mlgate.infra.resources import example_registry_dir, schemas_dir
from mlgate.testing import RegistryRepo
from mlgate.testing.forge import approve, local_forge

MODEL = "fraud-detector"
CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
EVIDENCE = "registry/models/fraud-detector/online/champion/3.yaml"
ALICE, CAROL = "alice <alice@acme.test>", "carol <carol@acme.test>"


def day(n: int) -> str:
    return f"2026-04-{n:02d}T12:00:00+00:00"


def at(n: int) -> str:
    """An hour after day ``n``'s change landed."""
    return f"2026-04-{n:02d}T13:00:00Z"


def _new_repo(path: Path) -> RegistryRepo:
    """The example registry committed on day 1: fraud-detector@champion is version 2, version 3 exists."""
    repo = RegistryRepo.create(path, example=False)
    shutil.copytree(example_registry_dir(), repo.path("registry"))
    repo.commit("Initial registry", date=day(1))
    return repo


def _land(
    repo: RegistryRepo,
    forge: LocalForge,
    branch: str,
    title: str,
    edit: Callable[[], object],
    date: str,
    *approvers: str,
) -> tuple[int, str]:
    """``edit`` on a branch, a pull request for it approved by ``approvers``, merged by carol with GitHub's
    merge commit: (PR number, merge commit)."""
    repo.branch(branch, "main")
    edit()
    tip = repo.commit(title, author=ALICE, date=date)
    pr = forge.open_pull_request(title=title, body="", head=branch, base="main", labels=[], author="alice")
    approve(forge, pr.number, *approvers)
    merge = repo.merge(
        branch, message=f"Merge pull request #{pr.number} from acme/{branch}\n\n{title}", author=CAROL, date=date
    )
    forge.mark_merged(pr.number, merge, "carol", tip)
    return pr.number, merge


def _set_rollout(repo: RegistryRepo, **rollout: object) -> None:
    repo.edit_yaml(CHAMPION, rollout=rollout)


def _set_percent(repo: RegistryRepo, percent: float) -> None:
    data = repo.read_yaml(CHAMPION)
    data["rollout"]["percent"] = percent
    repo.write(CHAMPION, data)


def _end_rollout(repo: RegistryRepo, *, complete: bool) -> None:
    data = repo.read_yaml(CHAMPION)
    candidate = data.pop("rollout")["candidate"]
    if complete:
        data["version"] = candidate
    repo.write(CHAMPION, data)


def _evidence(repo: RegistryRepo, percent: float, requests: int, source: str = "grafana: fraud live") -> None:
    repo.write(
        EVIDENCE,
        {
            "apiVersion": "mlgate/v1",
            "kind": "OnlineEvaluation",
            "model": MODEL,
            "alias": "champion",
            "candidate": 3,
            "holder": 2,
            "mode": "canary",
            "percent": percent,
            "window": {"start": "2026-04-02T12:00:00Z", "end": "2026-04-03T12:00:00Z"},
            "requests": {"candidate": requests, "holder": requests * 19},
            "metrics": {"candidate": {"error_rate": 0.004}, "holder": {"error_rate": 0.005}},
            "source": source,
        },
    )


def _revert(repo: RegistryRepo, merge: str, date: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(
        ["git", "revert", "--no-edit", "-m", "1", merge], cwd=repo.root, check=True, env=env, capture_output=True
    )
    return repo.rev()


@pytest.fixture
def canary(tmp_path: Path) -> tuple[RegistryRepo, LocalForge]:
    """champion (version 2) rolls version 3 out as a canary: start at 5% (04-02), evidence at 5% (04-03), a step
    to 25% (04-04), evidence at 25% (04-05), a step to 50% (04-06), the completion (04-07). PRs #1 to #6."""
    repo = _new_repo(tmp_path / "canary")
    forge = local_forge(repo.root)
    started = "2026-04-02T12:00:00Z"
    _land(
        repo,
        forge,
        "start",
        "Start rolling out v3",
        lambda: _set_rollout(repo, candidate=3, mode="canary", percent=5, started_at=started),
        day(2),
        "dave",
        "carol",
    )
    _land(repo, forge, "ev-5", "Online evidence at 5%", lambda: _evidence(repo, 5, 1_200), day(3), "dave")
    _land(repo, forge, "step-25", "Step v3 to 25%", lambda: _set_percent(repo, 25), day(4), "dave", "erin")
    _land(repo, forge, "ev-25", "Online evidence at 25%", lambda: _evidence(repo, 25, 6_000), day(5), "erin")
    _land(repo, forge, "step-50", "Step v3 to 50%", lambda: _set_percent(repo, 50), day(6), "carol", "dave")
    _land(
        repo,
        forge,
        "complete",
        "Complete the rollout of v3",
        lambda: _end_rollout(repo, complete=True),
        day(7),
        "dave",
        "erin",
    )
    return repo, forge


def _rollout_rows(events) -> list[tuple]:
    """Oldest first: kind, PR, from/to version, candidate, mode, from/to percent, approvers."""
    return [
        (
            e.kind,
            e.pr,
            e.from_version,
            e.to_version,
            e.rollout.candidate,
            e.rollout.mode,
            e.rollout.from_percent,
            e.rollout.to_percent,
            [a.login for a in e.approvers],
        )
        for e in reversed(events)
        if e.rollout is not None
    ]


def test_a_canary_rollout_reads_as_its_steps_with_who_approved_each(canary) -> None:
    repo, forge = canary
    events = history(repo.root, model=MODEL, alias="champion", forge=forge).events
    assert _rollout_rows(events) == [
        ("rollout-start", 1, 2, 2, 3, "canary", None, 5, ["carol", "dave"]),
        ("rollout-evidence", 2, 2, 2, 3, "canary", 5, 5, ["dave"]),
        ("rollout-step", 3, 2, 2, 3, "canary", 5, 25, ["dave", "erin"]),
        ("rollout-evidence", 4, 2, 2, 3, "canary", 25, 25, ["erin"]),
        ("rollout-step", 5, 2, 2, 3, "canary", 25, 50, ["carol", "dave"]),
        # the completion is one event, and it is the promotion: the alias moves from the holder to the candidate
        ("rollout-complete", 6, 2, 3, 3, "canary", 50, None, ["dave", "erin"]),
    ]
    # the change before the rollout was the plain creation of the alias, still a promotion
    assert [(e.kind, e.to_version) for e in events if e.rollout is None] == [("promotion", 2)]
    evidence = next(e for e in events if e.pr == 4).rollout.evidence
    assert (evidence.holder, evidence.requests_candidate, evidence.requests_holder) == (2, 6_000, 114_000)
    assert dict(evidence.metrics_candidate) == {"error_rate": 0.004} and evidence.source == "grafana: fraud live"
    assert all(e.author == "alice" and e.merger == "carol" for e in events if e.pr)


def test_whois_gives_each_versions_share_before_during_and_after(canary, run_cli) -> None:
    repo, _ = canary

    def shares(n: int) -> list[tuple]:
        state = alias_at(repo.root, MODEL, "champion", at=at(n))
        return [(s.version, s.role, s.percent, s.traffic) for s in state.shares]

    assert shares(1) == [(2, "holder", 100, "served")]
    assert shares(2) == [(2, "holder", 95, "served"), (3, "candidate", 5, "served")]
    assert shares(3) == shares(2)  # evidence moves no traffic
    assert shares(4) == [(2, "holder", 75, "served"), (3, "candidate", 25, "served")]
    assert shares(6) == [(2, "holder", 50, "served"), (3, "candidate", 50, "served")]
    assert shares(7) == [(3, "holder", 100, "served")]

    code, out, _ = run_cli("-C", repo.root, "whois", f"{MODEL}@champion", "--at", at(4))
    assert code == 0
    assert out.splitlines() == [
        f"{MODEL}@champion was version 2 at {at(4)} (commit {repo.rev('main~3')[:12]}), rolling out version 3 "
        "(canary, started 2026-04-02T12:00:00Z):",
        "  version 2 (holder): served 75% of the requests",
        "  version 3 (candidate): served 25% of the requests",
    ]
    code, out, _ = run_cli("-C", repo.root, "whois", f"{MODEL}@champion", "--at", at(4), "--json")
    doc = json.loads(out)
    assert (doc["model"], doc["alias"], doc["version"], doc["commit"]) == (MODEL, "champion", 2, repo.rev("main~3"))
    assert doc["rollout"] == {
        "candidate": 3,
        "mode": "canary",
        "percent": 25,
        "started_at": "2026-04-02T12:00:00Z",
        "shares": [
            {"version": 2, "role": "holder", "percent": 75, "traffic": "served"},
            {"version": 3, "role": "candidate", "percent": 25, "traffic": "served"},
        ],
    }
    code, out, _ = run_cli("-C", repo.root, "whois", f"{MODEL}@champion", "--at", at(7), "--json")
    assert (json.loads(out)["version"], json.loads(out)["rollout"]) == (3, None)
    code, out, _ = run_cli("-C", repo.root, "whois", f"{MODEL}@champion", "--at", at(7))
    assert out.startswith(f"{MODEL}@champion was version 3 at {at(7)} (commit ") and "rolling out" not in out


def test_kind_filter_and_the_json_schema(canary, run_cli) -> None:
    repo, forge = canary
    code, out, _ = run_cli(
        "-C", repo.root, "history", f"{MODEL}@champion", "--kind", "rollout-step", "--format", "json"
    )
    assert code == 0
    steps = json.loads(out)["events"]
    assert [(e["kind"], e["rollout"]["from_percent"], e["rollout"]["to_percent"]) for e in steps] == [
        ("rollout-step", 25, 50),
        ("rollout-step", 5, 25),
    ]
    code, out, _ = run_cli(
        "-C", repo.root, "history", "--kind", "rollout-complete", "--kind", "rollout-evidence", "--format", "json"
    )
    assert [(e["kind"], e["pr"]) for e in json.loads(out)["events"]] == [
        ("rollout-complete", 6),
        ("rollout-evidence", 4),
        ("rollout-evidence", 2),
        ("rollout-evidence", None),  # the example registry's own canary evidence, in its first commit
    ]
    code, _, err = run_cli("-C", repo.root, "history", "--kind", "rollout-stepp")
    assert code == 2 and "rollout-stepp" in err
    # mlgate show's alias timeline has the rollout too, the completion first
    code, out, _ = run_cli("-C", repo.root, "show", MODEL, "--json")
    timeline = [(e["alias"], e["kind"], e["to"]) for e in json.loads(out)["timeline"]]
    assert timeline[:3] == [
        ("champion", "rollout-complete", 3),
        ("champion", "rollout-step", 2),
        ("champion", "rollout-evidence", 2),
    ]

    registry = Registry().with_resources(
        [
            (f"https://mlgate.dev/schemas/v1/{p.name}", Resource.from_contents(json.loads(p.read_text())))
            for p in schemas_dir().glob("*.schema.json")
        ]
    )
    validator = jsonschema.Draft202012Validator(
        json.loads((schemas_dir() / "history-event.schema.json").read_text()), registry=registry
    )
    for extra in ([], ["--forge", "local"]):
        code, out, _ = run_cli("-C", repo.root, "history", "--format", "jsonl", *extra)
        lines = [json.loads(line) for line in out.splitlines()]
        assert {e["kind"] for e in lines} >= {"rollout-start", "rollout-step", "rollout-complete", "rollout-evidence"}
        for line in lines:
            validator.validate(line)


def test_text_and_markdown_show_the_rollout(canary, run_cli) -> None:
    repo, _ = canary
    code, out, _ = run_cli("-C", repo.root, "history", f"{MODEL}@champion", "--forge", "local")
    assert code == 0
    changes = {line.split("#", 1)[1].split()[0]: line for line in out.splitlines() if " #" in line}
    assert "@champion v3 canary start at 5% (2 holds)" in changes["1"] and "carol, dave" in changes["1"]
    assert "@champion v3 canary 5% evidence: 1,200 vs 22,800 requests" in changes["2"]
    assert "@champion v3 canary 5% -> 25%" in changes["3"]
    assert "@champion 2 -> 3 (v3 canary completed from 50%)" in changes["6"]
    code, out, _ = run_cli("-C", repo.root, "history", f"{MODEL}@champion", "--format", "markdown")
    assert "| rollout-step | fraud-detector | @champion v3 canary 25% -&gt; 50% | #5 |" in out


@pytest.fixture
def abandoned(tmp_path: Path) -> tuple[RegistryRepo, LocalForge, dict[str, str]]:
    """champion (version 2) shadows version 3: start at 10% (04-02, #1), a step to 30% (04-03, #2) reverted on
    04-04, an abort (04-05, #3); then a new start at 5% (04-06, #4) reverted on 04-07."""
    repo = _new_repo(tmp_path / "abandoned")
    forge = local_forge(repo.root)
    merges = {}
    _land(
        repo,
        forge,
        "start",
        "Shadow v3",
        lambda: _set_rollout(repo, candidate=3, mode="shadow", percent=10),
        day(2),
        "carol",
        "dave",
    )
    _, merges["step"] = _land(
        repo, forge, "step", "Shadow v3 at 30%", lambda: _set_percent(repo, 30), day(3), "carol", "dave"
    )
    merges["revert-step"] = _revert(repo, merges["step"], day(4))
    _land(repo, forge, "abort", "Abort the shadow of v3", lambda: _end_rollout(repo, complete=False), day(5), "carol")
    _, merges["restart"] = _land(
        repo,
        forge,
        "restart",
        "Canary v3",
        lambda: _set_rollout(repo, candidate=3, mode="canary", percent=5),
        day(6),
        "dave",
        "carol",
    )
    merges["revert-start"] = _revert(repo, merges["restart"], day(7))
    return repo, forge, merges


def test_an_abort_and_reverts_read_as_the_inverse_changes(abandoned, run_cli) -> None:
    repo, forge, merges = abandoned
    events = history(repo.root, model=MODEL, forge=forge).events
    assert _rollout_rows(events) == [
        ("rollout-start", 1, 2, 2, 3, "shadow", None, 10, ["carol", "dave"]),
        ("rollout-step", 2, 2, 2, 3, "shadow", 10, 30, ["carol", "dave"]),
        # git revert of the step's merge: the step back, 30% -> 10%, no pull request
        ("rollout-step", None, 2, 2, 3, "shadow", 30, 10, []),
        ("rollout-abort", 3, 2, 2, 3, "shadow", 10, None, ["carol"]),
        ("rollout-start", 4, 2, 2, 3, "canary", None, 5, ["carol", "dave"]),
        # git revert of a start: the rollout ends with the holder kept, an abort that names the start it reverts
        ("rollout-abort", None, 2, 2, 3, "canary", 5, None, []),
    ]
    by_commit = {e.commit: e for e in events}
    assert by_commit[merges["revert-step"]].reverts == merges["step"]
    assert by_commit[merges["revert-start"]].reverts == merges["restart"]
    assert by_commit[merges["revert-step"]].subject.startswith('Revert "Merge pull request #2')
    # the version never moved: no promotion or rollback beyond the alias's creation
    assert [e.kind for e in events if e.rollout is None and e.alias == "champion"] == ["promotion"]

    code, text, _ = run_cli("-C", repo.root, "history", f"{MODEL}@champion")
    assert f"@champion v3 shadow 30% -> 10% (step back; revert of {merges['step'][:10]})" in text
    assert f"@champion v3 canary 5% -> stopped (2 holds) (revert of {merges['restart'][:10]})" in text


def test_whois_during_a_shadow_mirrors_the_candidates_share(abandoned, run_cli) -> None:
    repo, _, _ = abandoned
    assert [(s.version, s.percent, s.traffic) for s in alias_at(repo.root, MODEL, "champion", at=at(3)).shares] == [
        (2, 100, "served"),
        (3, 30, "mirrored"),
    ]
    assert [(s.version, s.percent) for s in alias_at(repo.root, MODEL, "champion", at=at(4)).shares] == [
        (2, 100),
        (3, 10),
    ]  # after the revert of the step
    assert alias_at(repo.root, MODEL, "champion", at=at(5)).rollout is None  # aborted
    code, out, _ = run_cli("-C", repo.root, "whois", f"{MODEL}@champion", "--at", at(3))
    assert out.splitlines()[1:] == [
        "  version 2 (holder): served 100% of the requests",
        "  version 3 (candidate): received a mirrored 30% of the requests and answered none",
    ]


def test_a_hostile_author_is_escaped_in_rollout_rows(tmp_path: Path, run_cli) -> None:
    """Whoever pushes a rollout step writes the author name the table shows: it reaches neither the terminal
    nor the Markdown report as control sequences or markup."""
    repo = _new_repo(tmp_path / "hostile")
    _set_rollout(repo, candidate=3, mode="canary", percent=5)
    repo.commit("start", date=day(2))
    _set_percent(repo, 20)
    repo.commit("step", author="mal\x1b]8;;https://e.vil\x07**[ok](https://e.vil)** <mal@e.vil>", date=day(3))
    code, out, _ = run_cli("-C", repo.root, "history", "--kind", "rollout-step")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "mal\\x1b]8;;https://e.vil\\x07**[ok](https://e.vil)**" in out and "v3 canary 5% -> 20%" in out
    code, out, _ = run_cli("-C", repo.root, "history", "--kind", "rollout-step", "--format", "markdown")
    assert "\x1b" not in out and "[ok](" not in out
    assert r"\*\*\[ok\](https://e.vil)\*\*" in out


def test_history_of_rollouts_reads_git_with_the_same_processes(canary, processes: list) -> None:
    """Rollout files take the full parse, never another git process: one git log and one cat-file, however
    many rollout changes."""
    repo, _ = canary
    processes.clear()
    history(repo.root)
    first = len(processes)
    for percent in (60, 70, 80):
        _set_rollout(repo, candidate=1, mode="canary", percent=percent)
        repo.commit(f"step to {percent}")
    processes.clear()
    assert [e.kind for e in history(repo.root).events[:3]] == ["rollout-step", "rollout-step", "rollout-start"]
    assert len(processes) == first <= 5, processes


def test_a_revert_of_the_completion_is_a_rollback_that_resumes_the_rollout(canary, run_cli) -> None:
    repo, _ = canary
    completion = repo.rev("main")
    revert = _revert(repo, completion, day(8))
    event = history(repo.root, model=MODEL, alias="champion").events[0]
    assert (event.kind, event.from_version, event.to_version, event.reverts) == ("rollback", 3, 2, completion)
    assert (event.rollout.candidate, event.rollout.from_percent, event.rollout.to_percent) == (3, None, 50)
    code, out, _ = run_cli("-C", repo.root, "history", f"{MODEL}@champion", "--kind", "rollback")
    assert f"@champion 3 -> 2 (rollout of v3 canary resumed at 50%; revert of {completion[:10]})" in out
    assert [(s.version, s.percent) for s in alias_at(repo.root, MODEL, "champion", at=revert).shares] == [
        (2, 50),
        (3, 50),
    ]


def test_a_change_that_is_no_well_formed_rollout_step_says_why(tmp_path: Path, run_cli) -> None:
    """History shows what landed, even what the gate would refuse: a 'step' that swaps the candidate."""
    repo = _new_repo(tmp_path / "odd")
    _set_rollout(repo, candidate=3, mode="canary", percent=5)
    repo.commit("start", date=day(2))
    _set_rollout(repo, candidate=1, mode="canary", percent=10)
    repo.commit("swap the candidate", date=day(3))
    code, out, _ = run_cli("-C", repo.root, "history", f"{MODEL}@champion", "--format", "json")
    event = json.loads(out)["events"][0]
    assert (event["kind"], event["rollout"]["from_percent"], event["rollout"]["to_percent"]) == ("rollout-step", 5, 10)
    assert event["rollout"]["problem"].startswith("a rollout's candidate and mode stay the same from start to end")
