"""Races between pull requests: what each user sees, and that main never ends inconsistent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlgate import Registry, validate_repo
from mlgate.change.propose import merge_pull_request, promote, register
from mlgate.cli import main
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo
from mlgate.testing.github import StandIn
from tests.adversarial.conftest import DIGEST, register_args

LINEAGE = {
    "run_id": "r",
    "git_sha": "a" * 40,
    "code_repo": "https://x.test/y",
    "dataset": {"uri": "s3://d/x", "sha256": DIGEST},
}


@pytest.fixture
def forge(repo: RegistryRepo) -> LocalForge:
    f = LocalForge(repo.root)
    f.set_team("@acme/ml-leads", ["dave", "erin"])
    return f


def _inputs(tmp_path: Path, tag: str) -> dict:
    (tmp_path / f"{tag}.bin").write_bytes(tag.encode() * 50)
    (tmp_path / "eval.yaml").write_text(f"dataset: {{name: h, sha256: {DIGEST}}}\nmetrics: {{auc: 0.95}}\n")
    (tmp_path / "card.md").write_text("# card\ntext\n")
    return dict(
        artifact=str(tmp_path / f"{tag}.bin"),
        eval_file=str(tmp_path / "eval.yaml"),
        card_file=str(tmp_path / "card.md"),
        lineage=LINEAGE,
    )


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
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.root), str(origin)], check=True)
    clones = []
    for name in ("alice", "bob"):
        path = tmp_path / name
        subprocess.run(["git", "clone", "--quiet", str(origin), str(path)], check=True)
        clones.append(path)
    a = register(clones[0], "search-ranker", author="alice", open_pr=False, **_inputs(tmp_path, "a"))
    assert a.version == 3
    capsys.readouterr()
    code = main(
        [
            "-C",
            str(clones[1]),
            *register_args(tmp_path / "a.bin", tmp_path),
            "--as",
            "bob",
            "--no-pr",
        ]
    )
    err = capsys.readouterr()[1]
    # the number is taken: the create-only push of the same branch is refused, and alice's branch left alone
    assert code == 2 and "branch 'mlgate/register-search-ranker-v3' already exists on origin with another change" in err
    assert (
        subprocess.run(
            ["git", "rev-parse", "refs/heads/mlgate/register-search-ranker-v3"],
            cwd=origin,
            capture_output=True,
            text=True,
        ).stdout.strip()
        == a.commit
    )
    bob = RegistryRepo(clones[1])
    assert bob.git.branch_sha("mlgate/register-search-ranker-v3") is None  # nothing left behind


def test_the_same_number_in_two_prs_of_one_repository(repo: RegistryRepo, forge: LocalForge, tmp_path: Path) -> None:
    a = register(repo.root, "search-ranker", author="alice", forge=forge, **_inputs(tmp_path, "a"))
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


def test_merge_group_rejudges_against_the_new_base(repo: RegistryRepo, tmp_path: Path, monkeypatch, capsys) -> None:
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
    with StandIn() as gh:
        gh.add_pull(12, "alice", repo.rev("promote"), head="promote", base_sha=old_base)
        gh.review(12, "dave", "APPROVED")
        event = tmp_path / "event.json"
        event.write_text(
            json.dumps(
                {
                    "merge_group": {
                        "base_sha": repo.rev("main"),
                        "head_sha": repo.rev("queue"),
                        "head_ref": f"refs/heads/gh-readonly-queue/main/pr-12-{repo.rev('main')}",
                    }
                }
            )
        )
        for k, v in {
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_TOKEN": gh.state.token,
            "GITHUB_REPOSITORY": "acme/registry",
            "GITHUB_API_URL": gh.url,
        }.items():
            monkeypatch.setenv(k, v)
        # against the old base it was fine
        assert validate_repo(repo.root, base=old_base, head="promote").errors == []
        code = main(["-C", str(repo.root), "validate", "--forge", "github", "--format", "json"])
    report = json.loads(capsys.readouterr()[0])
    assert code == 1
    assert "MG205" in {f["rule"] for f in report["findings"]}  # reported once: the gate table shows MG405
