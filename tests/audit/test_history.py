"""History on real repositories: merges, squashes, rebases, reverts, reverts of reverts, approvers from GitHub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import jsonschema
import pytest

from mlgate.audit.history import history, holder_at, parse_when
from mlgate.cli import main
from mlgate.forge.local import LocalForge
from mlgate.infra.resources import example_registry_dir, schemas_dir
from mlgate.testing import RegistryRepo
from mlgate.testing.github import StandIn

CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
ALICE, BOB, CAROL = "alice <alice@acme.test>", "bob <bob@acme.test>", "carol <carol@acme.test>"


def day(n: int) -> str:
    return f"2026-03-{n:02d}T12:00:00+00:00"


def revert(repo: RegistryRepo, commit: str, date: str, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(
        ["git", "revert", "--no-edit", *args, commit], cwd=repo.root, check=True, env=env, capture_output=True
    )


@pytest.fixture
def audited(tmp_path) -> RegistryRepo:
    """main: initial registry (03-01), PR #12 merged (03-02), squash #13 (03-03), a rebase merge (03-04),
    a revert of #12 (03-05), a revert of that revert (03-06), champion removed (03-07) and re-created (03-08),
    a deprecation (03-09)."""
    repo = RegistryRepo.create(tmp_path / "audited", example=False)
    shutil.copytree(example_registry_dir(), repo.path("registry"))
    repo.commit("Initial registry", date=day(1))
    # 1. a merge commit, as GitHub merges PR #12
    repo.branch("promote-v3")
    repo.edit_yaml(CHAMPION, version=3)
    repo.commit("Promote fraud-detector v3 to champion", author=ALICE, date=day(2))
    merge12 = repo.merge(
        "promote-v3",
        message="Merge pull request #12 from acme/promote-v3\n\nPromote fraud-detector v3",
        author=CAROL,
        date=day(2),
    )
    # 2. a squash merge of PR #13: authored by bob, committed by GitHub
    repo.edit_yaml("registry/models/search-ranker/aliases/challenger.yaml", version=1)
    repo.commit(
        "Point search-ranker challenger at v1 (#13)", author=BOB, committer="GitHub <noreply@github.com>", date=day(3)
    )
    # 3. a rebase merge: two commits replayed onto main, no PR number in their messages
    repo.edit_yaml("registry/models/churn-predictor/aliases/shadow.yaml", version=3)
    repo.commit("Shadow churn v3", author=BOB, committer="GitHub <noreply@github.com>", date=day(4))
    # 4. a revert of the merge of #12, then a revert of the revert (git's own revert)
    revert(repo, merge12, day(5), "-m", "1")
    revert(repo, repo.rev(), day(6))
    # 5. the alias file deleted, then re-created pointing at v2 (which held it before)
    repo.delete(CHAMPION)
    repo.commit("Remove fraud champion", date=day(7))
    repo.write(
        CHAMPION,
        {"apiVersion": "mlgate/v1", "kind": "Alias", "model": "fraud-detector", "alias": "champion", "version": 2},
    )
    repo.commit("Restore fraud champion", date=day(8))
    # 6. a deprecation
    data = repo.read_yaml("registry/models/fraud-detector/model.yaml")
    data["deprecated"] = [{"version": 1, "reason": "old"}]
    repo.write("registry/models/fraud-detector/model.yaml", data)
    repo.commit("Deprecate fraud v1", date=day(9))
    return repo


def _summary(events) -> list[tuple]:
    return [(e.kind, e.model, e.alias, e.from_version, e.to_version, e.pr) for e in events]


def test_every_kind_of_change_in_order(audited: RegistryRepo) -> None:
    result = history(audited.root)
    events = list(reversed(result.events))  # oldest first, for reading
    initial = [e for e in events if e.subject == "Initial registry"]
    assert sorted(e.kind for e in initial) == ["deprecation"] + ["policy-change"] + ["promotion"] * 7 + [
        "registration"
    ] * 9 + ["rollout-evidence"]  # the example registry's search-ranker canary brings its evidence
    assert ("promotion", "fraud-detector", "champion", None, 2, None) in _summary(initial)
    assert _summary(events[len(initial) :]) == [
        ("promotion", "fraud-detector", "champion", 2, 3, 12),  # merge commit
        ("promotion", "search-ranker", "challenger", 2, 1, 13),  # squash
        ("promotion", "churn-predictor", "shadow", 4, 3, None),  # rebase merge
        ("rollback", "fraud-detector", "champion", 3, 2, None),  # revert
        ("rollback", "fraud-detector", "champion", 2, 3, None),  # revert of the revert: back to a previous holder
        ("removal", "fraud-detector", "champion", 3, None, None),
        ("rollback", "fraud-detector", "champion", None, 2, None),  # re-created at a version it held before
        ("deprecation", "fraud-detector", None, None, 1, None),
    ]


def test_authors_mergers_and_revert_trailers(audited: RegistryRepo) -> None:
    events = {(e.pr, e.kind, e.to_version): e for e in history(audited.root).events}
    merged = events[(12, "promotion", 3)]
    assert (merged.author, merged.merger, merged.time) == ("alice", "carol", "2026-03-02T12:00:00Z")
    squashed = events[(13, "promotion", 1)]
    assert (squashed.author, squashed.merger) == ("bob", "GitHub")
    revert = events[(None, "rollback", 2)]
    assert revert.reverts is not None and revert.subject.startswith('Revert "Merge pull request #12')
    assert all(e.approvers is None for e in events.values())  # no forge: unknown, never guessed


def test_filters(audited: RegistryRepo) -> None:
    champion = history(audited.root, model="fraud-detector", alias="champion").events
    assert [(e.kind, e.to_version) for e in champion] == [
        ("rollback", 2),
        ("removal", None),
        ("rollback", 3),
        ("rollback", 2),
        ("promotion", 3),
        ("promotion", 2),
    ]
    fraud = history(audited.root, model="fraud-detector").events
    assert {e.model for e in fraud} == {"fraud-detector"} and fraud[0].kind == "deprecation"
    recent = history(audited.root, since=parse_when("2026-03-06")).events
    assert [e.time[:10] for e in recent] == ["2026-03-09", "2026-03-08", "2026-03-07", "2026-03-06"]


def test_jsonl_follows_the_documented_schema(audited: RegistryRepo, capsys) -> None:
    assert main(["-C", str(audited.root), "history", "--format", "jsonl"]) == 0
    lines = capsys.readouterr()[0].splitlines()
    schema = json.loads((schemas_dir() / "history-event.schema.json").read_text())
    from referencing import Registry, Resource

    registry = Registry().with_resources(
        [
            (f"https://mlgate.dev/schemas/v1/{p.name}", Resource.from_contents(json.loads(p.read_text())))
            for p in schemas_dir().glob("*.schema.json")
        ]
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    assert len(lines) == len(history(audited.root).events) > 0  # one line per event
    for line in lines:
        validator.validate(json.loads(line))
    assert json.loads(lines[0])["approvers"] == "unknown"


def test_text_and_whois(audited: RegistryRepo, capsys) -> None:
    assert main(["-C", str(audited.root), "history", "fraud-detector", "--alias", "champion"]) == 0
    out = capsys.readouterr()[0]
    row = next(line.split() for line in out.splitlines() if "#12" in line)
    assert row == [
        "2026-03-02",
        "12:00:00",
        "promotion",
        "fraud-detector",
        "@champion",
        "2",
        "->",
        "3",
        "#12",
        "alice",
        "carol",
        "unknown",
        row[-1],
    ]
    assert holder_at(audited.root, "fraud-detector", "champion", at="2026-03-02T13:00:00Z")[0] == 3
    assert holder_at(audited.root, "fraud-detector", "champion", at="2026-03-05T13:00:00Z")[0] == 2
    assert holder_at(audited.root, "fraud-detector", "champion", at="2026-03-07T13:00:00Z")[0] is None
    assert main(["-C", str(audited.root), "whois", "fraud-detector@champion", "--at", "2026-03-02T13:00:00Z"]) == 0
    assert capsys.readouterr()[0].startswith("fraud-detector@champion was version 3 at 2026-03-02T13:00:00Z (commit ")
    assert main(["-C", str(audited.root), "whois", "fraud-detector@champion", "--at", "main~1", "--json"]) == 0
    assert json.loads(capsys.readouterr()[0])["version"] == 2
    assert main(["-C", str(audited.root), "whois", "fraud-detector", "--at", "main"]) == 2
    assert main(["-C", str(audited.root), "whois", "fraud-detector@champion", "--at", "1999-01-01"]) == 2
    assert "has no commit before 1999-01-01" in capsys.readouterr()[1]


def test_show_has_the_alias_timeline(audited: RegistryRepo, capsys) -> None:
    assert main(["-C", str(audited.root), "show", "fraud-detector", "--json"]) == 0
    timeline = json.loads(capsys.readouterr()[0])["timeline"]
    assert [(e["alias"], e["kind"], e["to"]) for e in timeline[:3]] == [
        ("champion", "rollback", 2),
        ("champion", "removal", None),
        ("champion", "rollback", 3),
    ]


def _merged_as(repo: RegistryRepo) -> dict[int, str]:
    """The commit on main that each pull request's merge or squash became."""
    return {e.pr: e.commit for e in history(repo.root).events if e.pr}


def test_approvers_from_github_are_fetched_once_and_cached(audited: RegistryRepo, gh: StandIn) -> None:
    merged = _merged_as(audited)
    gh.collaborators("dave", "erin", "frank", "carol", "mallory", "gina", "alice", "bob")
    gh.state.teams["acme/ml-leads"] = {"dave"}
    gh.add_pull(12, "alice", "a" * 40)
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "erin", "COMMENTED")
    gh.review(12, "frank", "APPROVED")
    gh.review(12, "frank", "CHANGES_REQUESTED")
    gh.merge(12, merged[12], "carol")
    gh.add_pull(13, "bob", "b" * 40)
    gh.review(13, "bob", "APPROVED")  # self-approval is not an approval
    gh.merge(13, merged[13], "erin")
    forge = gh.forge()
    events = {e.pr: e for e in history(audited.root, forge=forge).events if e.pr}
    assert [a.login for a in events[12].approvers] == ["dave"] and events[12].approvers[0].at.endswith("Z")
    assert [(n.login, n.reason) for n in events[12].not_counted] == [("frank", "changes requested")]
    assert events[12].merger == "carol"
    assert (events[13].approvers, events[13].merger) == ((), "erin")
    assert [(n.login, n.reason) for n in events[13].not_counted] == [
        ("bob", "the author cannot approve their own change")
    ]
    pulls = [r for r in gh.state.requests if "/pulls/" in r[1]]
    assert len(pulls) == 6  # each PR, its reviews and its commits (who pushed), once
    again = {e.pr: e for e in history(audited.root, forge=gh.forge()).events if e.pr}
    assert [r for r in gh.state.requests if "/pulls/" in r[1]] == pulls  # served from .git/mlgate/cache
    assert again[12].approvers == events[12].approvers
    # events without a pull request have no approvers, rather than unknown ones
    assert all(e.approvers == () for e in history(audited.root, forge=forge).events if e.pr is None)


def test_history_counts_exactly_what_the_gate_counted(audited: RegistryRepo, gh: StandIn) -> None:
    """The champion gate of the base policy asks for @acme/ml-leads or carol: an approval from anyone else, on an
    older commit, or by the author is listed as not counted, with the gate's own reason."""
    merged = _merged_as(audited)
    gh.collaborators("dave", "erin", "frank", "carol", "mallory", "gina", "alice", "bob")
    gh.state.teams["acme/ml-leads"] = {"dave"}
    gh.add_pull(12, "alice", "a" * 40)
    gh.review(12, "dave", "APPROVED")
    gh.review(12, "mallory", "APPROVED")  # not in the champion gate's allowed set
    gh.review(12, "gina", "APPROVED", commit="f" * 40)  # approved a commit the author later replaced
    gh.review(12, "alice", "APPROVED")
    gh.review(12, "carol", "APPROVED")
    gh.merge(12, merged[12], "carol")
    event = next(e for e in history(audited.root, forge=gh.forge()).events if e.pr == 12)
    assert [a.login for a in event.approvers] == ["carol", "dave"]
    reasons = {n.login: n.reason for n in event.not_counted}
    assert reasons["mallory"] == "not in @acme/ml-leads, carol"
    assert reasons["gina"].startswith("approved an older commit ffffff")
    assert reasons["alice"] == "the author cannot approve their own change"


def test_an_unreachable_forge_leaves_approvers_unknown(audited: RegistryRepo, gh: StandIn, capsys, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", gh.state.token)
    gh.state.rate_limited = True
    code = main(
        [
            "-C",
            str(audited.root),
            "history",
            *gh.cli_options(),
            "--format",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert {e["approvers"] for e in doc["events"] if e["pr"]} == {"unknown"}
    assert "approvers of #12 unknown: GitHub rate limit exceeded" in err


def _proving(p: list[str]) -> bool:
    """A process of the validator's rollback proof: the object reader, a first-parent walk back to a claimed commit."""
    return p[:3] == ["git", "cat-file", "--batch-command"] or (
        p[:2] == ["git", "rev-list"] and any(a.startswith("--since=") for a in p)
    )


def test_history_reads_git_with_a_constant_number_of_processes(audited: RegistryRepo, processes: list) -> None:
    processes.clear()  # only what history starts
    events = len(history(audited.root).events)
    walk = [p for p in processes if not _proving(p)]
    # the two reverts' claims ("This reverts commit ...") are verified as the gate verified them: one walk each
    assert len([p for p in processes if p[:2] == ["git", "rev-list"] and _proving(p)]) == 2
    for i in range(20):
        audited.edit_yaml(CHAMPION, version=3 - i % 2)
        audited.commit(f"flip {i}")
    processes.clear()
    assert len(history(audited.root).events) == events + 20  # one promotion or rollback per flip
    assert len(processes) == len(walk) <= 5, processes  # moves back with no claim: nothing to prove


def test_a_subject_naming_a_pull_request_is_checked_against_the_forge(audited: RegistryRepo, gh: StandIn) -> None:
    """Anyone can end a commit subject with "(#12)": history credits the commit to #12 only if the forge
    merged #12 as that commit, so #12's author and approvers are never lent to another change."""
    merged = _merged_as(audited)
    audited.edit_yaml("registry/models/fraud-detector/aliases/challenger.yaml", version=1)
    forged = audited.commit("Move challenger to v1 (#12)", author="mallory <mallory@example.com>")
    gh.collaborators("dave", "erin", "frank", "carol", "mallory", "gina", "alice", "bob")
    gh.state.teams["acme/ml-leads"] = {"dave"}
    gh.add_pull(12, "alice", "a" * 40)
    gh.review(12, "dave", "APPROVED")
    gh.merge(12, merged[12], "carol")
    result = history(audited.root, forge=gh.forge())
    event = next(e for e in result.events if e.commit == forged)
    assert (event.pr, event.author, event.approvers) == (None, "mallory", ())
    assert any("names #12" in w for w in result.warnings)
    assert [a.login for a in next(e for e in result.events if e.pr == 12).approvers] == ["dave"]


def test_a_revert_trailer_does_not_buy_the_rollback_rule(audited: RegistryRepo, gh: StandIn) -> None:
    """A commit body saying 'This reverts commit ...' makes the event a rollback, but the approvals are counted
    with the rule the gate applied: the full champion rule for a version the alias never held."""
    audited.branch("sneaky", "main")
    audited.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=1)  # never champion before
    audited.commit("Promote v1\n\nThis reverts commit 1234567.")
    audited.merge("sneaky", message="Merge pull request #21 from acme/sneaky")
    merged = _merged_as(audited)
    gh.collaborators("dave", "erin", "frank")
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    gh.add_pull(21, "alice", "d" * 40)
    for user in ("dave", "erin", "frank"):
        gh.review(21, user, "APPROVED")
    gh.merge(21, merged[21], "carol")
    event = next(e for e in history(audited.root, forge=gh.forge()).events if e.pr == 21)
    assert event.kind == "rollback"  # what the trailer says
    assert [a.login for a in event.approvers] == ["dave", "erin"]  # what the champion gate counts
    assert [n.login for n in event.not_counted] == ["frank"]


@pytest.mark.parametrize("holds", [True, False])
def test_a_rollback_claim_buys_the_rollback_rule_only_when_it_holds(
    audited: RegistryRepo, gh: StandIn, holds: bool
) -> None:
    """A move back to a former holder whose pull request names a commit where the alias held that version
    (Mlgate-Rollback-Held-At) is counted with the rollback rule, as the gate judged it; naming a commit where it
    held another version proves nothing, as the gate found: the full champion rule counted the approvals."""
    merged = _merged_as(audited)
    restored = next(e.commit for e in history(audited.root).events if e.subject == "Restore fraud champion")
    audited.branch("back-to-3", "main")
    audited.edit_yaml(CHAMPION, version=3)  # champion held 3 at #12's merge, 2 when it was restored
    audited.commit(
        f"Roll back fraud-detector@champion to v3\n\nMlgate-Rollback-Held-At: {merged[12] if holds else restored}"
    )
    audited.merge("back-to-3", message="Merge pull request #22 from acme/back-to-3")
    gh.collaborators("dave", "erin", "frank")
    gh.state.teams["acme/ml-leads"] = {"dave", "erin"}
    gh.add_pull(22, "alice", "e" * 40)
    for user in ("dave", "erin", "frank"):
        gh.review(22, user, "APPROVED")
    gh.merge(22, _merged_as(audited)[22], "carol")
    event = next(e for e in history(audited.root, forge=gh.forge()).events if e.pr == 22)
    assert (event.kind, event.from_version, event.to_version) == ("rollback", 2, 3)  # what happened: a move back
    if holds:
        assert [a.login for a in event.approvers] == ["dave", "erin", "frank"]  # the rollback rule: anyone
    else:
        assert [a.login for a in event.approvers] == ["dave", "erin"]  # the champion rule
        assert [(n.login, n.reason) for n in event.not_counted] == [("frank", "not in @acme/ml-leads, carol")]


def test_history_asks_the_forge_which_pull_request_merged_a_commit_without_a_number(repo) -> None:
    """A rebase merge (or a direct push) leaves a subject that names no pull request: the forge is asked."""
    forge = LocalForge(repo.root)
    repo.branch("feature", "main")
    repo.edit_yaml("registry/models/fraud-detector/aliases/challenger.yaml", version=1)
    tip = repo.commit("Point challenger at v1", author="bob <bob@example.com>")
    forge.open_pull_request(
        title="Promote fraud-detector v1 to challenger", body="", head="feature", base="main", labels=[], author="bob"
    )
    forge.review(1, "dave", "APPROVED")
    repo.switch("main")
    repo.git.git("merge", "--ff-only", "feature")  # what a rebase merge leaves on main: the PR's own commit
    forge.mark_merged(1, tip, "erin", tip)
    event = next(e for e in history(repo.root, forge=forge).events if e.commit == tip)
    assert (event.pr, event.author, event.merger) == (1, "bob", "erin")
    assert [a.login for a in event.approvers] == ["dave"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["fraud-detecter"], "no model 'fraud-detecter' was ever on main; did you mean 'fraud-detector'?"),
        (["nothing-like-it"], "no model 'nothing-like-it' was ever on main (models: "),
        (
            ["fraud-detector", "--alias", "champoin"],
            "no alias 'champoin' of model 'fraud-detector' was ever on main; did you mean 'champion'?",
        ),
    ],
)
def test_a_misspelled_model_or_alias_is_an_error_not_an_empty_history(
    audited: RegistryRepo, capsys, args: list[str], expected: str
) -> None:
    assert main(["-C", str(audited.root), "history", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and expected in err
    # the real names still read as before
    assert main(["-C", str(audited.root), "history", "fraud-detector", "--alias", "champion"]) == 0
