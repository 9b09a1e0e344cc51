"""Running register / promote again over a branch an earlier run left (issue 14, B2 and B3).

A re-run by the same requester replaces its own unmerged branch with this run's change (and its open pull
request shows the new change); anyone else's branch is never replaced; a merged branch is deleted by
``merge``, and one left behind anyway is stale and replaced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate import Registry
from mlgate.change.propose import merge, merge_pull_request, promote, register, rollback
from mlgate.errors import MergeRefused, UsageError
from mlgate.forge import ForgeError
from mlgate.testing import RegistryRepo, TrainingRun, approve
from mlgate.testing.repo import branch_sha

ALIAS = "registry/models/fraud-detector/aliases/champion.yaml"
BRANCH = "mlgate/promote-fraud-detector-champion-v3"


def _note(repo: RegistryRepo, ref: str) -> str | None:
    return Registry.open(repo.root, ref).aliases("fraud-detector")["champion"].note


def test_a_rerun_with_another_note_replaces_the_own_branch(repo, forge) -> None:
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", open_pr=False)
    second = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=forge)
    assert second.replaced == first.commit and second.commit != first.commit and not second.reused
    assert repo.rev(BRANCH) == second.commit and _note(repo, BRANCH) == "B"
    assert forge.pull_request(second.pr.number).head_sha == second.commit
    assert repo.git.git("rev-list", "--count", f"main..{BRANCH}").strip() == "1"  # one commit, on main


def test_a_rerun_updates_the_open_pull_request_and_its_approvals_go_stale(repo, forge) -> None:
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=forge)
    approve(forge, 1, "dave", "erin")
    second = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=forge)
    assert second.updated_pr and second.pr.number == 1 and forge.list_pull_requests() == [forge.pull_request(1)]
    pr = forge.pull_request(1)
    assert pr.head_sha == second.commit != first.commit and pr.body == second.body
    assert _note(repo, BRANCH) == "B"
    with pytest.raises(MergeRefused) as refused:  # dave and erin approved note A, not what merges now
        merge_pull_request(repo.root, forge, 1, "dave")
    assert "approved an older commit" in refused.value.report.errors[0].message
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    assert _note(repo, "main") == "B"


def test_a_rerun_of_register_with_another_card_publishes_the_new_card(repo, forge, tmp_path: Path) -> None:
    run = TrainingRun.write(tmp_path / "run", metrics={"auc": 0.93, "latency_p99_ms": 30})
    kwargs = {**run.register_kwargs(), "author": "alice", "forge": forge}
    first = register(repo.root, "fraud-detector", **kwargs)
    run.card_file.write_text(run.card_file.read_text() + "\n## Caveats\nsecond thoughts\n")
    second = register(repo.root, "fraud-detector", **kwargs)
    assert (second.branch, second.version, second.pr.number) == (first.branch, 4, 1) and second.updated_pr
    card = repo.git.tree(second.branch).read("registry/models/fraud-detector/versions/4/card.md")
    assert b"second thoughts" in card
    assert forge.pull_request(1).head_sha == second.commit


def test_someone_elses_branch_is_never_replaced(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=forge)
    before = (repo.status(), forge.pull_request(1))
    with pytest.raises(UsageError, match=r"it was made for alice <alice@users.noreply.localhost>, not for bob"):
        promote(repo.root, "fraud-detector", 3, "champion", author="bob", note="B", forge=forge)
    assert (repo.status(), forge.pull_request(1)) == before and _note(repo, BRANCH) == "A"


def test_a_branch_with_more_than_the_runs_commit_is_never_replaced(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", open_pr=False)
    repo.switch(BRANCH)
    repo.write("registry/models/fraud-detector/notes.md", "hand-written\n")
    repo.commit("a hand-made addition", author="alice <alice@users.noreply.localhost>")
    repo.switch("main")
    before = repo.status()
    with pytest.raises(UsageError, match=r"it is not one commit on main"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=forge)
    assert repo.status() == before


def test_a_failed_replacement_puts_the_earlier_branch_back(repo, forge) -> None:
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", open_pr=False)

    class Down(type(forge)):  # type: ignore[misc]
        def open_pull_request(self, **kw):  # noqa: ANN003, ANN201
            raise ForgeError("forge is down")

    with pytest.raises(ForgeError, match="forge is down"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=Down(repo.root))
    assert repo.rev(BRANCH) == first.commit


def test_a_rerun_replaces_the_pushed_branch_with_a_lease(repo, forge, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=forge)
    assert branch_sha(origin, BRANCH) == first.commit
    second = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=forge)
    assert branch_sha(origin, BRANCH) == second.commit == repo.rev(BRANCH)


def test_a_pushed_branch_that_moved_on_origin_is_left_alone(repo, forge, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=forge)
    other = repo.git.write_commit([repo.rev("main")], {"x.txt": b"someone else\n"}, "theirs\n", "bob <bob@x>")
    repo.git.git("push", "--quiet", "--force", "origin", f"{other}:refs/heads/{BRANCH}")
    with pytest.raises(UsageError, match="on origin holds another change"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=forge)
    assert (repo.rev(BRANCH), branch_sha(origin, BRANCH)) == (first.commit, other)
    assert forge.pull_request(1).head_sha == first.commit


def test_merge_deletes_the_merged_branch_here_and_on_origin(repo, forge, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merged = merge(repo.root, forge, 1, "dave")
    assert merged.deleted == ("local", "origin") and merged.branch == BRANCH
    assert repo.git.branch_sha(BRANCH) is None and branch_sha(origin, BRANCH) is None
    pr = forge.pull_request(1)  # the merged pull request still knows its commits
    assert pr.state == "merged" and pr.pushers == ("alice",)


def test_promote_again_after_a_rollback(repo, forge) -> None:
    """B3: promote v3, merge, roll back, merge, promote v3 again: the branch name is free again."""
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
    approve(forge, 2, "mallory")
    merge_pull_request(repo.root, forge, 2, "mallory")
    again = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    assert again.pr.number == 3 and again.branch == BRANCH
    assert Registry.open(repo.root, again.branch).aliases("fraud-detector")["champion"].version == 3


def test_a_merged_branch_left_behind_is_stale_and_replaced(repo, forge, tmp_path: Path) -> None:
    """A branch merged elsewhere (on GitHub, without deleting it) holds nothing that is not on the base."""
    origin = repo.add_origin(tmp_path / "origin.git")
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    approve(forge, 1, "dave", "erin")
    merge_pull_request(repo.root, forge, 1, "dave")
    repo.git.set_branch(BRANCH, first.commit, None)  # as if nobody deleted it, here and on origin
    repo.git.git("push", "--quiet", "origin", f"{first.commit}:refs/heads/{BRANCH}")
    rollback(repo.root, "fraud-detector", "champion", author="oncall", forge=forge)
    approve(forge, 2, "mallory")
    merge_pull_request(repo.root, forge, 2, "mallory")
    again = promote(repo.root, "fraud-detector", 3, "champion", author="bob", forge=forge)
    assert again.stale and again.replaced == first.commit and again.pr.number == 3
    assert repo.rev(BRANCH) == again.commit == branch_sha(origin, BRANCH)


def test_a_no_pr_rerun_never_leaves_an_open_pull_request_describing_the_earlier_change(repo, forge) -> None:
    promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=forge)
    before = (repo.status(), forge.pull_request(1))
    with pytest.raises(UsageError, match=r"head of open pull request #1: run again without --no-pr to update"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", open_pr=False)
    assert (repo.status(), forge.pull_request(1)) == before


def test_a_forge_that_cannot_edit_a_pull_request_refuses_before_moving_anything(repo, gh, tmp_path: Path) -> None:
    origin = repo.add_origin(tmp_path / "origin.git")
    gh.use_branches_of(origin)
    github = gh.forge()
    first = promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="A", forge=github)
    with pytest.raises(UsageError, match=r"the github forge cannot update its pull request yet: close that pull"):
        promote(repo.root, "fraud-detector", 3, "champion", author="alice", note="B", forge=github)
    assert repo.rev(BRANCH) == first.commit == branch_sha(origin, BRANCH) == gh.state.pulls[1]["head"]["sha"]
