"""Attacks on rollback detection: a pull request's commit message names the commit that proves a move back is a
rollback (the lighter gate). Every claim that is not a commit on the base's first-parent history whose alias
change the pull request exactly inverts (or, for ``Mlgate-Rollback-Held-At``, where the alias held the target)
proves nothing: the move is judged by the full promotion gate.

The example policy's champion gate needs two approvals from the ML leads and no auc regression; its rollback
gate one approval from anyone. Every pull request here has one approval, from dave: it passes only as a rollback.
"""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.check.rollback import HELD, REVERT, Claim, RollbackProver, claims_in
from mlgate.check.run import validate_repo
from mlgate.infra.git import GitRepo
from mlgate.testing import RegistryRepo, StaticReviews

FD = "registry/models/fraud-detector"
CHAMP = f"{FD}/aliases/champion.yaml"
CHALLENGER = f"{FD}/aliases/challenger.yaml"


def set_champion(repo: RegistryRepo, version: int, **extra: object) -> None:
    repo.edit_yaml(CHAMP, version=version, **extra)


def judged(repo: RegistryRepo, head: str = "pr"):
    reviews = StaticReviews("mallory", repo.rev(head))
    reviews.review("dave")
    report = validate_repo(repo.root, base="main", head=head, reviews=reviews)
    (change,) = [g for g in report.gates if (g.model, g.alias) == ("fraud-detector", "champion")]
    return report, change


def pr_back_to(repo: RegistryRepo, version: int, message: str, name: str = "pr") -> None:
    """A pull request moving the champion back to ``version``, its commit message ``message``."""
    repo.branch(name, "main")
    set_champion(repo, version)
    repo.commit(message, author="mallory <mallory@example.com>")
    repo.switch("main")


@pytest.fixture
def held_v1(repo: RegistryRepo) -> tuple[RegistryRepo, str, str]:
    """main: the champion held v1 (a direct commit), then v2 came back through a merged pull request.

    Returns the repository, the commit where it held v1, and the merge that moved it 1 -> 2."""
    set_champion(repo, 1)
    held = repo.commit("champion v1 (before the policy)")
    repo.branch("to-v2")
    set_champion(repo, 2)
    repo.commit("champion v2")
    merge = repo.merge("to-v2", message="Merge pull request #1 from acme/to-v2")
    return repo, held, merge


def test_a_genuine_revert_and_a_genuine_held_at_are_rollbacks(held_v1) -> None:
    repo, held, merge = held_v1
    repo.branch("revert", "main")
    subprocess.run(["git", "revert", "--no-edit", "-m", "1", merge], cwd=repo.root, check=True, capture_output=True)
    repo.switch("main")
    report, change = judged(repo, "revert")
    assert (change.kind, change.from_version, change.to_version) == ("rollback", 2, 1) and report.ok, report.findings
    pr_back_to(repo, 1, f"back to v1\n\nMlgate-Rollback-Held-At: {held}\n", "held")
    report, change = judged(repo, "held")
    assert change.kind == "rollback" and report.ok, report.findings


@pytest.mark.parametrize(
    "message",
    [
        "This reverts commit " + "0123456789abcdef" * 2 + "01234567.",  # no such commit
        "Mlgate-Rollback-Held-At: " + "f" * 40,
        "This reverts commit HEAD~1.",  # a ref, not a commit id
        "This reverts commit main.",
        "Mlgate-Rollback-Held-At: main~1",
        "This reverts commit {short}.",  # an abbreviation
        "Mlgate-Rollback-Held-At: {short}",
        "This reverts commit {tree}.",  # an object, but a tree
        "Mlgate-Rollback-Held-At: {blob}",  # the very alias blob that says version: 1
        "Mlgate-Rollback-Held-At: {upper}",
        "Mlgate-Rollback-Held-At: {held} and more",  # not a trailer line
        "some text This reverts commit {merge}.",  # not at the start of a line
    ],
)
def test_a_forged_or_unknown_claim_proves_nothing(held_v1, message: str) -> None:
    repo, held, merge = held_v1
    git = GitRepo(repo.root)
    fields = {
        "short": merge[:12],
        "tree": git.git("rev-parse", f"{held}^{{tree}}").strip(),
        "blob": git.git("rev-parse", f"{held}:{CHAMP}").strip(),
        "upper": held.upper(),
        "held": held,
        "merge": merge,
    }
    pr_back_to(repo, 1, "back to v1\n\n" + message.format(**fields) + "\n")
    report, change = judged(repo)
    assert change.kind == "promotion" and not report.ok
    assert "MG403" in {f.rule for f in report.errors}  # v1 regresses on v2: the full gate says so


def test_a_claim_naming_a_commit_outside_the_base_proves_nothing(repo: RegistryRepo) -> None:
    """The attacker's own commits, on a branch never merged: the alias "held" v1 there, and a commit there moved
    it 1 -> 2, so both claims would be true of that branch, but it is not the base's history."""
    repo.branch("side", "main")
    set_champion(repo, 1)
    side_held = repo.commit("v1 on a side branch")
    set_champion(repo, 2)
    side_move = repo.commit("v2 again on the side branch")
    repo.switch("main")
    for claim in (f"Mlgate-Rollback-Held-At: {side_held}", f"This reverts commit {side_move}."):
        pr_back_to(repo, 1, f"back\n\n{claim}\n", name=f"pr-{claim[:4]}")
        report, change = judged(repo, f"pr-{claim[:4]}")
        assert change.kind == "promotion" and not report.ok, claim


def test_a_claim_naming_a_commit_merged_only_through_a_pull_request_branch_proves_nothing(
    repo: RegistryRepo,
) -> None:
    """A pull request whose branch set v1 and then v2 again (a no-op merged with a harmless note): its commits
    are ancestors of main, but the alias never held v1 on main's first-parent history."""
    repo.branch("sneaky", "main")
    set_champion(repo, 1)
    inner_held = repo.commit("v1 for a moment")
    set_champion(repo, 2, note="harmless")
    inner_move = repo.commit("v2 again, with a note")
    repo.merge("sneaky", message="Merge pull request #2 from acme/sneaky")
    assert GitRepo(repo.root).git("merge-base", "--is-ancestor", inner_move, "main") == ""  # reachable from main
    for n, claim in enumerate((f"Mlgate-Rollback-Held-At: {inner_held}", f"This reverts commit {inner_move}.")):
        pr_back_to(repo, 1, f"back\n\n{claim}\n", name=f"pr{n}")
        report, change = judged(repo, f"pr{n}")
        assert change.kind == "promotion" and not report.ok, claim


def test_a_revert_of_a_commit_that_moved_another_alias_proves_nothing(held_v1) -> None:
    repo, held, merge = held_v1
    repo.edit_yaml(CHALLENGER, version=1)  # the challenger moves 3 -> 1 on main; the champion stays at 2
    other = repo.commit("challenger v1")
    repo.edit_yaml(CHALLENGER, version=3)
    repo.commit("challenger v3 again")
    for n, claim in enumerate((f"This reverts commit {other}.", f"Mlgate-Rollback-Held-At: {other}")):
        pr_back_to(repo, 1, f"back\n\n{claim}\n", name=f"pr{n}")
        report, change = judged(repo, f"pr{n}")
        assert change.kind == "promotion" and not report.ok, claim


def test_a_revert_whose_change_is_not_the_inverse_proves_nothing(held_v1) -> None:
    """The merge moved the champion 1 -> 2: a "revert" of it that moves 2 -> 3 is no way back."""
    repo, held, merge = held_v1
    repo.add_version("fraud-detector", 4, like=1)  # worse than v2, never held
    repo.commit("v4")
    pr_back_to(repo, 4, f'Revert "champion v2"\n\nThis reverts commit {merge}.\n')
    report, change = judged(repo)
    assert (change.kind, change.to_version) == ("promotion", 4) and not report.ok


def test_a_revert_of_a_rollout_move_does_not_make_another_move_a_rollback(held_v1) -> None:
    """A rollout start leaves the holder's version as it is: a "revert" of it that moves the version back to v1
    is not its inverse (which is the rollout's abort)."""
    repo, held, merge = held_v1
    set_champion(repo, 2, rollout={"candidate": 3, "mode": "canary", "percent": 5})
    start = repo.commit("start a canary of v3")
    repo.branch("pr", "main")
    data = repo.read_yaml(CHAMP)
    data.pop("rollout")
    data["version"] = 1
    repo.write(CHAMP, data)
    repo.commit(f'Revert "start a canary of v3"\n\nThis reverts commit {start}.\n')
    repo.switch("main")
    report, change = judged(repo)
    assert (change.kind, change.to_version) != ("rollback", 1)
    assert not report.ok


def test_a_claim_proves_only_the_alias_it_is_about(held_v1) -> None:
    """One genuine revert in a pull request that also moves the challenger back: the challenger's move is a
    promotion (the revert says nothing about it)."""
    repo, held, merge = held_v1
    repo.edit_yaml(CHALLENGER, version=1)
    repo.commit("challenger v1")
    repo.edit_yaml(CHALLENGER, version=3)
    repo.commit("challenger v3")
    repo.branch("pr", "main")
    subprocess.run(["git", "revert", "--no-edit", "-m", "1", merge], cwd=repo.root, check=True, capture_output=True)
    repo.edit_yaml(CHALLENGER, version=1)
    repo.commit("and the challenger")
    repo.switch("main")
    reviews = StaticReviews("mallory", repo.rev("pr"))
    reviews.review("dave")
    report = validate_repo(repo.root, base="main", head="pr", reviews=reviews)
    kinds = {g.alias: g.kind for g in report.gates}
    assert kinds == {"champion": "rollback", "challenger": "promotion"}


_HEX = st.text("0123456789abcdef", min_size=40, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=st.text(max_size=200), sha=_HEX, kind=st.sampled_from([REVERT, HELD]))
def test_no_text_around_an_unknown_sha_proves_a_rollback(held_v1, noise: str, sha: str, kind: str) -> None:
    repo, held, merge = held_v1
    if sha in (held, merge):
        return
    message = f"{noise}\n{Claim(kind, sha).trailer()}\n{noise}"
    claims = claims_in([message])
    assert Claim(kind, sha) in claims
    base = GitRepo(repo.root).resolve("main")
    prover = RollbackProver(GitRepo(repo.root), base, claims)
    assert prover("fraud-detector", "champion", 2, 1) is None


@pytest.mark.parametrize("date", ["1970-01-02T00:00:00+00:00", "1999-06-01T00:00:00+00:00"])
def test_a_genuine_revert_of_an_old_commit_is_found_however_old(repo: RegistryRepo, date: str) -> None:
    """The first-parent walk looks back to a day before the named commit: an old date only widens it."""
    repo.branch("to-v1")
    set_champion(repo, 1)
    repo.commit("champion v1", date=date)
    old = repo.merge("to-v1", message="Merge pull request #3 from acme/to-v1", date=date)
    repo.edit_yaml(CHALLENGER, version=1)
    repo.commit("later, another alias")
    repo.branch("pr", "main")
    subprocess.run(["git", "revert", "--no-edit", "-m", "1", old], cwd=repo.root, check=True, capture_output=True)
    repo.switch("main")
    report, change = judged(repo)
    assert (change.kind, change.from_version, change.to_version) == ("rollback", 1, 2), report.findings
