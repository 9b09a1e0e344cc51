"""Races between pull requests: what each user sees, and that main never ends inconsistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate import Registry, validate_repo
from mlgate.change.propose import merge_pull_request, promote, register
from mlgate.cli import main
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo, TrainingRun, branch_sha
from mlgate.testing.github import StandIn


def _training(tmp_path: Path, tag: str) -> TrainingRun:
    """A run whose artifact is its own (``tag``), the rest like every other run's."""
    return TrainingRun.write(tmp_path / tag, artifact=tag.encode() * 50)


def test_two_prs_promoting_the_same_alias(repo: RegistryRepo, forge: LocalForge, capsys) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    promote(repo.root, "fraud-detector", 1, "champion", author="bob", forge=forge, force=True)
    for n in (1, 2):
        forge.review(n, "dave", "APPROVED")
        forge.review(n, "erin", "APPROVED")
    assert main(["-C", str(repo.root), "merge", "1", "--as", "dave"]) == 0
    capsys.readouterr()
    assert main(["-C", str(repo.root), "merge", "2", "--as", "dave"]) == 1
    assert "pull request #2 conflicts with main: update its branch first" in capsys.readouterr()[1]
    assert validate_repo(repo.root).ok
    assert Registry.open(repo.root, "main").resolve("models:/fraud-detector@champion").version.version == 3


def test_two_registrations_taking_the_same_number_from_two_clones(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    alice, bob = (RegistryRepo.clone(origin, tmp_path / name) for name in ("alice", "bob"))
    training = _training(tmp_path, "a")
    a = register(alice.root, "search-ranker", author="alice", open_pr=False, **training.register_kwargs())
    assert a.version == 3
    capsys.readouterr()
    code = main(["-C", str(bob.root), *training.register_args("search-ranker"), "--as", "bob", "--no-pr"])
    err = capsys.readouterr()[1]
    # the number is taken: the create-only push of the same branch is refused, and alice's branch left alone
    assert code == 2 and "branch 'mlgate/register-search-ranker-v3' already exists on origin with another change" in err
    assert branch_sha(origin, "mlgate/register-search-ranker-v3") == a.commit
    assert bob.git.branch_sha("mlgate/register-search-ranker-v3") is None  # nothing left behind


def test_the_same_number_in_two_prs_of_one_repository(repo: RegistryRepo, forge: LocalForge, tmp_path: Path) -> None:
    a = register(repo.root, "search-ranker", author="alice", forge=forge, **_training(tmp_path, "a").register_kwargs())
    repo.branch("by-hand")
    for name in ("version.yaml", "eval.yaml", "card.md"):
        repo.write(
            f"registry/models/search-ranker/versions/3/{name}",
            repo.git.tree(a.branch).read(f"registry/models/search-ranker/versions/3/{name}").replace(b"alice", b"bob"),
        )
    repo.commit("Register search-ranker v3 by hand")
    repo.switch("main")
    b = forge.open_pull_request(title="by hand", body="", head="by-hand", base="main", labels=[], author="bob")
    merge_pull_request(repo.root, forge, a.pr.number, "pat")
    with pytest.raises(Exception, match="conflicts with main"):
        merge_pull_request(repo.root, forge, b.number, "pat")
    assert validate_repo(repo.root).ok


def test_merge_group_rejudges_against_the_new_base(repo: RegistryRepo, gh_env: StandIn, actions_event, capsys) -> None:
    """The PR was green against the old main; in the merge queue, main has since deprecated its target."""
    repo.branch("promote")
    repo.edit_yaml("registry/models/search-ranker/aliases/challenger.yaml", version=1)
    repo.commit("challenger -> v1")
    old_base = repo.rev("main")
    repo.switch("main")
    model = repo.read_yaml("registry/models/search-ranker/model.yaml")
    model["deprecated"] = [{"version": 1, "reason": "leak found"}]
    repo.edit_yaml("registry/models/search-ranker/aliases/champion.yaml", version=2)
    repo.write("registry/models/search-ranker/model.yaml", model)
    repo.commit("deprecate v1")
    repo.branch("queue")  # what GitHub's merge queue builds: the new base plus the PR
    repo.git.merge("promote", "Merge pull request #12")
    gh_env.add_pull(12, "alice", repo.rev("promote"), head="promote", base_sha=old_base)
    gh_env.review(12, "dave", "APPROVED")
    actions_event(
        {
            "merge_group": {
                "base_sha": repo.rev("main"),
                "head_sha": repo.rev("queue"),
                "head_ref": f"refs/heads/gh-readonly-queue/main/pr-12-{repo.rev('main')}",
            }
        }
    )
    # against the old base it was fine
    assert validate_repo(repo.root, base=old_base, head="promote").errors == []
    code = main(["-C", str(repo.root), "validate", "--forge", "github", "--format", "json"])
    report = json.loads(capsys.readouterr()[0])
    assert code == 1
    assert "MG205" in {f["rule"] for f in report["findings"]}  # reported once: the gate table shows MG405
