"""mlgate.testing, the fakes users test their own pipelines with: what importing it costs, and that each builder
does what it says, checked with plain git and the product's own readers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import mlgate.testing
from mlgate import Registry, validate_repo
from mlgate.change.propose import promote, register
from mlgate.forge.local import LocalForge
from mlgate.testing import (
    CARD,
    DATASET_SHA256,
    EXAMPLE_TEAMS,
    RegistryRepo,
    StaticReviews,
    TrainingRun,
    branch_sha,
    lineage,
    local_forge,
    merge_approved,
)
from mlgate.testing.github import FakeClock, StandIn

PACKAGE = Path(mlgate.testing.__file__).parent


def _module_level_imports(path: Path) -> set[str]:
    """Top-level package names a module imports when it is imported (not in functions, not for type checking)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_each_module_imports_only_mlgate_and_the_standard_library(path: Path) -> None:
    outside = _module_level_imports(path) - {"mlgate", "__future__"} - set(sys.stdlib_module_names)
    assert outside == set(), f"{path.name} imports {sorted(outside)} when imported"


def test_importing_the_fakes_brings_no_cli_test_runner_or_github_client() -> None:
    code = (
        "import sys, mlgate.testing, mlgate.testing.github; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'click', 'github', 'requests', 'pytest', "
        "'_pytest', 'hypothesis', 'urllib3'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_public_names_are_importable_and_documented() -> None:
    assert sorted(mlgate.testing.__all__) == sorted(set(mlgate.testing.__all__))
    for name in mlgate.testing.__all__:
        value = getattr(mlgate.testing, name)
        if callable(value):
            assert value.__doc__, f"mlgate.testing.{name} has no docstring"


def test_example_teams_are_the_teams_the_example_policy_names(repo: RegistryRepo) -> None:
    policy = repo.read_yaml("registry/policy.yaml")
    named = set(policy["admins"]) | {
        entry for gate in policy["aliases"].values() for entry in gate.get("approvals", {}).get("from", [])
    }
    assert set(EXAMPLE_TEAMS) == {entry for entry in named if entry.startswith("@")}
    forge = local_forge(repo.root)
    assert all(forge.is_member(m, team) for team, members in EXAMPLE_TEAMS.items() for m in members)
    assert not forge.is_member("mallory", "@acme/ml-leads")
    reviews = StaticReviews("alice", repo.rev())
    assert not reviews.is_member("dave", "@acme/ml-leads")  # teams only when given
    assert StaticReviews("alice", repo.rev(), teams=EXAMPLE_TEAMS).is_member("DAVE", "@ACME/ml-leads")


def test_add_origin_and_clone_are_plain_git(repo: RegistryRepo, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    assert (origin / "HEAD").is_file() and not (origin / ".git").exists()  # bare
    assert repo.git.git("remote", "get-url", "origin").strip() == str(origin)
    assert branch_sha(origin, "main") == repo.rev("main")
    assert branch_sha(origin, "nope") is None and branch_sha(repo.root, "main") == repo.rev("main")
    other = RegistryRepo.clone(origin, tmp_path / "other")
    assert other.rev("main") == repo.rev("main") and other.read_yaml("registry/policy.yaml")["admins"]
    other.close()


def test_a_training_run_registers_the_same_through_the_library_and_the_cli(
    repo: RegistryRepo, forge: LocalForge, tmp_path: Path, run_cli
) -> None:
    run = TrainingRun.write(
        tmp_path / "run",
        metrics={"auc": 0.93, "latency_p99_ms": 30},
        evidence={"bias_audit": "# audit\nfine\n"},
    )
    assert run.card_file.read_text() == CARD and run.evidence["bias_audit"].name == "bias-audit.md"
    fields = {"params": {"lr": 0.1, "depth": 6}, "environment": {"python": "3.11"}}
    library = register(repo.root, "fraud-detector", author="alice", forge=forge, **run.register_kwargs(**fields))
    repo.git.git("branch", "-m", library.branch, "by-library")
    forge.close(library.pr.number)
    code, out, _ = run_cli("-C", repo.root, *run.register_args("fraud-detector", **fields), "--as", "alice", "--json")
    assert code == 0, out
    by_cli = json.loads(out)["branch"]
    versions = [Registry.open(repo.root, ref).version("fraud-detector", 4) for ref in ("by-library", by_cli)]
    assert versions[0].lineage == versions[1].lineage == lineage(**fields)
    assert versions[0].lineage["dataset"]["sha256"] == DATASET_SHA256
    assert dict(versions[0].evidence) == dict(versions[1].evidence) == {"bias_audit": "bias-audit.md"}
    assert versions[0].artifact == versions[1].artifact
    assert validate_repo(repo.root, base="main", head=by_cli).ok


def test_merge_approved_merges_like_the_cli(repo: RegistryRepo, forge: LocalForge) -> None:
    p = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    sha = merge_approved(repo.root, forge, p.pr.number, "dave", "erin")
    assert repo.rev("main") == sha and forge.pull_request(p.pr.number).state == "merged"
    assert repo.git.git("log", "-1", "--format=%an", "main").strip() == "dave"  # the first approver merged
    assert sorted(r.user for r in forge.pull_request(p.pr.number).reviews) == ["dave", "erin"]


def test_the_stand_in_serves_mlgates_forge_without_sleeping(gh: StandIn) -> None:
    gh.add_pull(7, "alice", "a" * 40)
    gh.review(7, "dave", "APPROVED")
    gh.server_error(502, times=2)
    clock = FakeClock()
    pr = gh.forge(clock=clock).pull_request(7)  # two 502s, retried
    assert (pr.author, [r.user for r in pr.reviews]) == ("alice", ["dave"])
    assert clock.slept == [1, 2] and clock.now == 1_800_000_003.0
    assert gh.environment() == {
        "GITHUB_TOKEN": gh.state.token,
        "GITHUB_API_URL": gh.url,
        "GITHUB_REPOSITORY": "acme/registry",
    }


def test_the_stand_in_knows_the_branches_of_a_real_origin(repo: RegistryRepo, gh: StandIn, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    gh.use_branches_of(origin)
    assert gh.state.branch_lookup("main") == repo.rev("main")
    assert gh.state.branch_lookup("never-pushed") is None
    gh.collaborators("dave", "erin", role="maintain")
    assert gh.forge().permission("erin") == "maintain"
