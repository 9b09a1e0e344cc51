"""The validator core on real repositories: golden cases, incremental scope, immutability."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate import validate_repo
from mlgate.check.rules import RULES, Family
from mlgate.errors import GitError, InputError, NotFoundError
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo, StaticReviews
from tests import ROOT

CASES = sorted((ROOT / "tests" / "cases" / "invalid").iterdir())


def _apply(repo: RegistryRepo, case: dict) -> None:
    for rel, content in case.get("write", {}).items():
        repo.write(rel, content)
    for rel in case.get("delete", []):
        repo.delete(rel)
    for rel, target in case.get("symlink", {}).items():
        if repo.path(rel).exists():
            repo.delete(rel)
        repo.symlink(rel, target)


def _matches(finding, want: dict) -> bool:
    return (
        finding.rule == want["rule"]
        and finding.path == want["path"]
        and ("line" not in want or finding.line == want["line"])
        and ("field" not in want or finding.field == want["field"])
        and want.get("words", "") in finding.message
    )


def _assert_findings(report, expected: list[dict], integrity_only: bool = False) -> None:
    found = [f for f in report.sorted_findings() if not integrity_only or f.rule < "MG400"]
    missing = [w for w in expected if not any(_matches(f, w) for f in found)]
    extra = [f for f in found if not any(_matches(f, w) for w in expected)]
    assert not missing and not extra, f"missing: {missing}\nunexpected: {extra}"
    assert not report.ok


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_invalid_case_full(repo: RegistryRepo, case_dir: Path) -> None:
    case = load((case_dir / "case.yaml").read_bytes(), str(case_dir)).data
    _apply(repo, case)
    _assert_findings(validate_repo(repo.root), case["expect"])


@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_invalid_case_as_pull_request(repo: RegistryRepo, case_dir: Path) -> None:
    """The same change committed on a branch, judged against main from git objects."""
    case = load((case_dir / "case.yaml").read_bytes(), str(case_dir)).data
    repo.branch("pr")
    _apply(repo, case)
    repo.commit(case["description"])
    report = validate_repo(repo.root, base="main", head="pr")
    assert report.mode == "incremental"
    expected = [e for e in case["expect"] if e.get("only") != "full"]
    # gates (MG4xx, MG5xx) are judged too, and tested in test_gates.py; here, the integrity findings
    _assert_findings(report, expected + case.get("also_incremental", []), integrity_only=True)


def test_every_rule_has_a_failing_case_somewhere() -> None:
    covered = set()
    for case_dir in CASES:
        case = load((case_dir / "case.yaml").read_bytes(), "case").data
        covered |= {e["rule"] for e in case["expect"] + case.get("also_incremental", [])}
    tested_in_python = {"MG002", "MG302", "MG303"} | {
        r for r, rule in RULES.items() if rule.family in (Family.GATE, Family.POLICY)
    }  # test_gates.py
    assert set(RULES) == covered | tested_in_python


def test_example_registry_is_valid(repo: RegistryRepo) -> None:
    report = validate_repo(repo.root)
    assert report.ok, report.findings
    assert report.files_checked == 49


def test_oversized_manifest(repo: RegistryRepo) -> None:
    rel = "registry/models/fraud-detector/versions/3/eval.yaml"
    repo.write(rel, "# padding\n" * 120_000)
    report = validate_repo(repo.root)
    assert [(f.rule, f.path) for f in report.errors] == [("MG002", rel)]
    assert "1 MiB" in report.errors[0].message


def test_all_problems_reported_in_one_run(repo: RegistryRepo) -> None:
    repo.write("registry/models/fraud-detector/aliases/champion.yaml", "version: [\n")
    repo.edit_yaml("registry/models/search-ranker/aliases/champion.yaml", version=7)
    repo.write("registry/junk.txt", "x")
    rules = sorted(f.rule for f in validate_repo(repo.root).errors)
    assert rules == ["MG001", "MG201", "MG204"]


# --- incremental -------------------------------------------------------------


def test_incremental_reads_only_the_change(repo: RegistryRepo) -> None:
    repo.branch("promote")
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    repo.commit("Promote v3")
    reviews = (
        StaticReviews("alice", repo.rev("promote"), teams={"@acme/ml-leads": {"dave"}}).review("dave").review("carol")
    )
    report = validate_repo(repo.root, base="main", head="promote", reviews=reviews)
    assert report.ok, report.findings
    assert report.files_checked == 1


def test_incremental_working_tree_sees_untracked_and_unstaged(repo: RegistryRepo) -> None:
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)  # unstaged
    repo.write(
        "registry/models/fraud-detector/aliases/shadow.yaml",
        {  # untracked
            "apiVersion": "mlgate/v1",
            "kind": "Alias",
            "model": "fraud-detector",
            "alias": "shadow",
            "version": 8,
        },
    )
    report = validate_repo(repo.root, base="main")
    assert report.files_checked == 2
    assert [(f.rule, f.path) for f in report.errors if f.rule < "MG400"] == [
        ("MG204", "registry/models/fraud-detector/aliases/shadow.yaml")
    ]


def test_deprecating_a_version_rechecks_the_aliases_pointing_at_it(repo: RegistryRepo) -> None:
    repo.branch("deprecate")
    rel = "registry/models/fraud-detector/model.yaml"
    data = repo.read_yaml(rel)
    data["deprecated"] = [{"version": 2, "reason": "feature leak"}]
    repo.write(rel, data)
    repo.commit("Deprecate v2")
    report = validate_repo(repo.root, base="main", head="deprecate")
    assert [(f.rule, f.path) for f in report.errors] == [
        ("MG205", "registry/models/fraud-detector/aliases/champion.yaml")
    ]


def test_new_version_in_a_pull_request_passes(repo: RegistryRepo) -> None:
    repo.branch("register")
    src = "registry/models/search-ranker/versions/2"
    for name in ("version.yaml", "eval.yaml", "card.md", "bias-audit.md"):
        text = repo.path(f"{src}/{name}").read_text()
        repo.write(f"registry/models/search-ranker/versions/3/{name}", text.replace("version: 2", "version: 3"))
    repo.commit("Register search-ranker v3")
    report = validate_repo(repo.root, base="main", head="register")
    assert report.ok, report.findings
    assert report.files_checked == 4


# --- immutability --------------------------------------------------------------

V2 = "registry/models/fraud-detector/versions/2"


@pytest.mark.parametrize(
    ("change", "rule", "path"),
    [
        (lambda r: r.write(f"{V2}/card.md", "# rewritten\n"), "MG301", f"{V2}/card.md"),
        (lambda r: r.write(f"{V2}/extra-plot.md", "new evidence\n"), "MG301", f"{V2}/extra-plot.md"),
        (lambda r: r.delete(f"{V2}/bias-audit.md"), "MG302", f"{V2}/bias-audit.md"),
    ],
    ids=["modified", "added", "deleted"],
)
def test_merged_version_is_immutable(repo: RegistryRepo, change, rule: str, path: str) -> None:
    repo.branch("pr")
    change(repo)
    repo.commit("touch a merged version")
    for head in ("pr", None):  # from git objects, and from the working tree
        report = validate_repo(repo.root, base="main", head=head)
        assert rule in {f.rule for f in report.errors if f.path == path}, report.findings
        assert "merged on main" in next(f.message for f in report.errors if f.rule == rule)


def test_deleting_a_whole_merged_version_names_every_file(repo: RegistryRepo) -> None:
    repo.branch("pr")
    repo.delete(V2)
    repo.commit("drop v2")
    report = validate_repo(repo.root, base="main", head="pr")
    deleted = sorted(f.path for f in report.errors if f.rule == "MG302")
    assert deleted == [f"{V2}/{n}" for n in ("bias-audit.md", "card.md", "eval.yaml", "version.yaml")]
    # and the champion, which pointed at v2, now points nowhere
    assert ("MG204", "registry/models/fraud-detector/aliases/champion.yaml") in {
        (f.rule, f.path) for f in report.errors
    }


def test_deleting_the_whole_registry_is_reported_file_by_file(repo: RegistryRepo, example_files: list[str]) -> None:
    repo.branch("pr")
    repo.delete("registry")
    repo.commit("remove everything")
    report = validate_repo(repo.root, base="main", head="pr")
    assert {f.rule for f in report.errors if f.rule < "MG400"} == {"MG302"}
    merged_files = [p for p in example_files if "/versions/" in p]  # every file of every merged version
    assert merged_files and sorted(f.path for f in report.errors if f.rule < "MG400") == merged_files


def test_renaming_a_model_is_reported_as_moves(repo: RegistryRepo, example_files: list[str]) -> None:
    repo.branch("pr")
    repo.path("registry/models/search-ranker").rename(repo.path("registry/models/ranker"))
    repo.commit("rename model")
    report = validate_repo(repo.root, base="main", head="pr")
    moved = sorted((f for f in report.errors if f.rule == "MG303"), key=lambda f: f.path)
    versions = "registry/models/search-ranker/versions/"
    assert [f.path for f in moved] == [p for p in example_files if p.startswith(versions)]  # each merged file
    assert all(f.message.startswith(f"moved to {f.path.replace('/search-ranker/', '/ranker/')}: ") for f in moved)
    assert ("MG202", "registry/models/ranker/model.yaml") in {(f.rule, f.path) for f in report.errors}


def test_a_version_added_in_the_same_branch_may_still_change(repo: RegistryRepo) -> None:
    """Immutability is about the base: a version new in this PR is not merged yet."""
    repo.branch("pr")
    src = repo.path("registry/models/search-ranker/versions/2/version.yaml").read_text()
    repo.write("registry/models/search-ranker/versions/3/version.yaml", src.replace("version: 2", "version: 3"))
    repo.write("registry/models/search-ranker/versions/3/bias-audit.md", "# audit\n")
    repo.commit("v3")
    fixed = src.replace("version: 2", "version: 3").replace("description: Adds", "description: Fixed; adds")
    repo.write("registry/models/search-ranker/versions/3/version.yaml", fixed)
    repo.commit("v3 fixed")
    assert validate_repo(repo.root, base="main", head="pr").ok


# --- unreadable input ------------------------------------------------------------


def test_unknown_ref_is_a_git_error(repo: RegistryRepo) -> None:
    with pytest.raises(GitError, match="unknown git ref 'nope'"):
        validate_repo(repo.root, base="nope")


def test_not_a_repository_with_base(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not inside a git repository"):
        validate_repo(tmp_path, base="main")


def test_no_registry_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no registry/ folder"):
        validate_repo(tmp_path)


def test_validates_a_plain_folder_without_git(tmp_path: Path, repo: RegistryRepo) -> None:
    import shutil

    shutil.copytree(repo.path("registry"), tmp_path / "copy" / "registry")
    assert validate_repo(tmp_path / "copy").ok


def test_the_short_report_keeps_the_verdict_and_what_fails(repo) -> None:
    """What a PR comment shows when the full report is over GitHub's limit: the verdict and the failing gates."""
    from mlgate.check.run import validate_repo
    from mlgate.render.report import report_markdown, report_markdown_short

    repo.branch("pr")
    for n in range(1, 200):
        repo.write(f"registry/models/fraud-detector/stray-{n}.txt", "x")  # 199 layout problems
    repo.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=1)
    repo.commit("noise and a promotion")
    report = validate_repo(repo.root, base="main", head="pr")
    full, short = report_markdown(report), report_markdown_short(report)
    assert short.splitlines()[0] == full.splitlines()[0] and "problems :x:" in short.splitlines()[0]
    assert "fraud-detector@champion" in short and "job summary" in short
    assert "and 149 more" in short and len(short) < len(full) / 2


def test_a_deprecated_target_is_one_finding(repo) -> None:
    """MG205 (the alias points at a deprecated version) and the gate's deprecated check are one problem."""
    from mlgate.check.rules import family
    from mlgate.check.run import validate_repo

    repo.branch("pr")
    repo.edit_yaml("registry/models/churn-predictor/aliases/champion.yaml", version=1)  # v1 is deprecated
    repo.commit("to a deprecated version")
    report = validate_repo(repo.root, base="main", head="pr")
    rules = [f.rule for f in report.errors]
    assert rules.count("MG205") == 1 and "MG405" not in rules
    (change,) = report.gates
    assert any(c.rule == "MG405" and c.status == "fail" for c in change.checks)  # still in the gate table
    assert [family(r) for r in ("MG001", "MG101", "MG205", "MG301", "MG403", "MG501")] == [
        "parse",
        "schema",
        "integrity",
        "immutability",
        "gate",
        "policy",
    ]


# --- MLflow's stages and reserved alias names in policy.yaml ----------------------------------------------------


@pytest.mark.parametrize(
    ("stages", "words"),
    [
        ({"Production": "latest"}, "'latest' is not allowed"),
        ({"Staging": "v1"}, "'v1' is not allowed"),
        ({"Archived": "old"}, "unknown field 'Archived'; allowed here: Production, Staging"),
        ({"Production": "Champion"}, "'Champion' is not valid"),
    ],
)
def test_policy_stages_map_only_production_and_staging_to_alias_names(
    repo: RegistryRepo, stages: dict, words: str
) -> None:
    repo.edit_yaml("registry/policy.yaml", stages=stages)
    found = [(f.rule, f.path, f.message) for f in validate_repo(repo.root).errors]
    assert [(r, p) for r, p, _ in found] == [("MG101", "registry/policy.yaml")], found
    assert words in found[0][2]


def test_policy_stages_are_read_where_stages_are_resolved(repo: RegistryRepo) -> None:
    from mlgate.registry.snapshot import Registry

    assert Registry.open(repo.root).resolve("models:/fraud-detector/Production").version.version == 2  # champion
    repo.edit_yaml("registry/policy.yaml", stages={"Production": "challenger"})
    assert validate_repo(repo.root).ok
    reg = Registry.open(repo.root)
    assert reg.stages() == {"Production": "challenger"}
    assert reg.resolve("models:/fraud-detector/production").version.version == 3
    with pytest.raises(NotFoundError, match="policy.yaml's stages: maps no alias to Staging"):
        reg.resolve("models:/fraud-detector/Staging")


def test_a_policy_gate_for_a_reserved_alias_is_refused(repo: RegistryRepo) -> None:
    data = repo.read_yaml("registry/policy.yaml")
    data["aliases"]["latest"] = {"approvals": {"min": 1}}
    repo.write("registry/policy.yaml", data)
    found = [(f.rule, f.message) for f in validate_repo(repo.root).errors]
    assert found and found[0][0] == "MG101" and "'latest' is not allowed" in found[0][1]
