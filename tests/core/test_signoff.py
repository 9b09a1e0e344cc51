"""Who may approve: what GitHub's branch protection would count, narrowed by the policy (count_approvals)."""

from __future__ import annotations

import pytest

from mlgate.core.policy import Approvals
from mlgate.core.signoff import Review, count_approvals, is_login, is_team, requester_of
from mlgate.infra.schemas import errors
from mlgate.testing import StaticReviews

HEAD = "a" * 40


class CountingReviews(StaticReviews):
    """StaticReviews that records which memberships and permissions were asked for."""

    def __init__(self, *args, members: dict[tuple[str, str], bool | None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.members = {(u.lower(), t.lower()): v for (u, t), v in (members or {}).items()}
        self.asked: list[tuple[str, str]] = []

    def is_member(self, user: str, team: str) -> bool | None:
        self.asked.append((user, team))
        return self.members.get((user.lower(), team.lower()), False)


ONE = Approvals(min=1)


def count(source: StaticReviews, rule: Approvals = ONE) -> tuple[tuple[str, ...], dict[str, str]]:
    result = count_approvals(rule, source.pull_request(), source)
    return result.counted, dict(result.ignored)


def test_only_reviewers_with_write_access_count() -> None:
    source = StaticReviews(
        "alice",
        HEAD,
        permissions={
            "stranger": "read",
            "nobody": "none",
            "triager": "triage",
            "lead": "maintain",
            "owner": "admin",
            "hidden": None,
        },
    )
    for user in ("stranger", "nobody", "triager", "lead", "owner", "dave", "hidden"):
        source.review(user)
    counted, ignored = count(source)
    assert counted == ("dave", "lead", "owner")
    assert ignored["stranger"].startswith("has read permission")
    assert ignored["nobody"].startswith("has none permission")
    assert ignored["triager"].startswith("has triage permission")
    assert "cannot be read" in ignored["hidden"]


def test_the_requester_and_whoever_pushed_cannot_approve() -> None:
    source = StaticReviews("mlgate-ci[bot]", HEAD, requester="alice", pushers=("dave",))
    source.review("alice").review("dave").review("erin")
    counted, ignored = count(source)
    assert counted == ("erin",)
    assert ignored == {
        "alice": "the requester cannot approve their own change",
        "dave": "pushed a commit to this pull request",
    }
    counted, _ = count(source, Approvals(min=1, exclude_author=False))
    assert counted == ("alice", "dave", "erin")  # a policy that allows self-approval says so explicitly


def test_pending_is_no_review_dismissed_withdraws_and_deleted_users_never_count() -> None:
    source = StaticReviews("alice", HEAD)
    source.review("dave").review("dave", "PENDING")  # the token user's own draft does not cancel the approval
    source.review("erin").review("erin", "DISMISSED")
    source.reviews.append(Review(None, "APPROVED", HEAD, "2026-01-01T00:00:09Z"))
    counted, ignored = count(source)
    assert counted == ("dave",)
    assert ignored["erin"] == "dismissed"
    assert ignored["(deleted user)"] == "a deleted account's review never counts"


def test_named_users_are_matched_before_teams_are_asked() -> None:
    source = CountingReviews("alice", HEAD, members={("erin", "@acme/ml-leads"): True})
    source.review("carol").review("erin")
    counted, _ = count(source, Approvals(min=2, allowed=("@acme/ml-leads", "carol")))
    assert counted == ("carol", "erin")
    assert source.asked == [("erin", "@acme/ml-leads")]  # carol matched by name: no membership call


def test_unreadable_membership_is_said_in_words_and_other_approvals_still_count() -> None:
    source = CountingReviews("alice", HEAD, members={("erin", "@acme/ml-leads"): None})
    source.review("carol").review("erin")
    result = count_approvals(Approvals(min=2, allowed=("@acme/ml-leads", "carol")), source.pull_request(), source)
    assert result.counted == ("carol",) and not result.ok
    ((who, why),) = result.ignored
    assert who == "erin" and "read:org" in why and "cannot be read" in why


@pytest.mark.parametrize("login", ["mona-cat_octo", "octocat", "a1", "ci-app[bot]", "x" * 39, "old--name"])
def test_github_logins_are_logins(login: str) -> None:
    assert is_login(login)


@pytest.mark.parametrize("login", ["-mona", "mona_", "mona cat", "mona\n", "x" * 40, "@acme/team", ""])
def test_what_is_not_a_login(login: str) -> None:
    assert not is_login(login)


def test_emu_logins_and_teams_are_accepted_by_the_policy_schema() -> None:
    policy = {
        "apiVersion": "mlgate/v1",
        "kind": "Policy",
        "admins": ["@acme/ml-platform", "mona-cat_octo"],
        "aliases": {"*": {"approvals": {"min": 1, "from": ["mona-cat_octo", "@acme-corp/ml-leads"]}}},
    }
    assert list(errors("Policy", policy)) == []
    assert is_team("@acme-corp/ml-leads") and not is_team("@acme/ml leads")


def test_the_requester_trailer_is_read_from_the_body() -> None:
    body = "Moves champion.\n\nMlgate-Requested-By: alice\n"
    assert requester_of(body) == "alice"
    assert requester_of("Mlgate-Requested-By: not a login\n") is None
    assert requester_of(None) is None


def test_a_promotion_opened_for_someone_else_records_and_excludes_the_requester(repo, capsys) -> None:
    """The local forge stores what mlgate opened: the body and the commit carry the requester's trailer."""
    from mlgate.cli import main
    from mlgate.forge.local import LocalForge

    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    pr = forge.pull_request(1)
    assert pr.requester == "alice" and "Mlgate-Requested-By: alice" in repo.git.git(
        "log", "-1", "--format=%B", pr.head_sha
    )
    forge.set_permission("stranger", "read")
    forge.set_permission("dave", "write")
    for user in ("stranger", "alice", "dave"):
        forge.review(1, user, "APPROVED")
    capsys.readouterr()
    code = main(["-C", str(repo.root), "validate", "--forge", "local", "--pr", "1", "--format", "json"])
    import json

    (change,) = json.loads(capsys.readouterr()[0])["gates"]
    approvals = next(c for c in change["checks"] if c["gate"] == "approvals")
    assert code == 0 and approvals["details"]["counted"] == ["dave"]
    reasons = {i["user"]: i["reason"] for i in approvals["details"]["ignored"]}
    assert reasons["stranger"].startswith("has read permission")
    assert reasons["alice"] == "the author cannot approve their own change"


def test_history_lists_rejected_promotions_with_who_requested_changes(repo, capsys) -> None:
    import json

    from mlgate.cli import main
    from mlgate.forge.local import LocalForge

    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    forge.review(1, "dave", "CHANGES_REQUESTED")
    forge.close(1)
    capsys.readouterr()
    assert (
        main(
            [
                "-C",
                str(repo.root),
                "history",
                "fraud-detector",
                "--forge",
                "local",
                "--include-rejected",
                "--format",
                "json",
            ]
        )
        == 0
    )
    events = json.loads(capsys.readouterr()[0])["events"]
    (rejected,) = [e for e in events if e["kind"] == "rejected"]
    assert (rejected["model"], rejected["alias"], rejected["to"], rejected["pr"], rejected["author"]) == (
        "fraud-detector",
        "shadow",
        3,
        1,
        "alice",
    )
    assert {"login": "dave", "reason": "changes requested"} in rejected["not_counted"]
    assert main(["-C", str(repo.root), "history", "--include-rejected"]) == 2  # needs a forge
    assert "needs a forge" in capsys.readouterr()[1]


def test_history_asks_the_forge_which_pull_request_merged_a_commit_without_a_number(repo) -> None:
    """A rebase merge (or a direct push) leaves a subject that names no pull request: the forge is asked."""
    from mlgate.audit.history import history
    from mlgate.forge.local import LocalForge

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


def test_emu_logins_work_everywhere_a_login_does(tmp_path, capsys) -> None:
    from mlgate.cli import main
    from mlgate.testing import RegistryRepo

    target = RegistryRepo.create(tmp_path / "fresh", example=False)
    assert (
        main(
            [
                "init",
                str(target.root),
                "--admin",
                "mona-cat_octo",
                "--reviewer",
                "@octo-corp/ml-leads",
                "--mlgate-requirement",
                "mlgate @ git+https://github.com/acme/mlgate@" + "c" * 40,
            ]
        )
        == 0
    )
    assert "mona-cat_octo" in target.path("registry/policy.yaml").read_text()
    repo = RegistryRepo.create(tmp_path / "example")
    capsys.readouterr()
    assert (
        main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "mona-cat_octo"])
        == 0
    )


def test_every_requester_trailer_in_the_body_is_excluded() -> None:
    """Anyone with write access can edit a PR body: adding a later trailer naming someone else must not free the
    real requester to approve."""
    body = "Promote v3.\n\nMlgate-Requested-By: alice\n\nmlgate-requested-by: bob\r\n"
    source = StaticReviews("mlgate-ci[bot]", HEAD, requester="bob")
    source.review("alice").review("bob").review("erin")
    pr = source.pull_request()
    from dataclasses import replace

    result = count_approvals(Approvals(min=1), replace(pr, body=body), source)
    assert result.counted == ("erin",)
    assert dict(result.ignored) == {
        "alice": "the requester cannot approve their own change",
        "bob": "the requester cannot approve their own change",
    }


def test_history_excludes_every_requester_the_gate_excluded(repo, capsys) -> None:
    """A trailer added to the body keeps its reviewer from counting, in the gate and in history alike."""
    import json

    from mlgate.cli import main
    from mlgate.forge.local import LocalForge

    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    forge._update(1, lambda r: r.update(body="Mlgate-Requested-By: carol\n\n" + r["body"]))
    forge.review(1, "carol", "APPROVED")
    forge.review(1, "dave", "APPROVED")
    capsys.readouterr()
    assert main(["-C", str(repo.root), "merge", "1", "--as", "pat"]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "-C",
                str(repo.root),
                "history",
                "fraud-detector",
                "--alias",
                "shadow",
                "--forge",
                "local",
                "--format",
                "json",
            ]
        )
        == 0
    )
    event = json.loads(capsys.readouterr()[0])["events"][0]
    assert [a["login"] for a in event["approvers"]] == ["dave"]
    assert {"login": "carol", "reason": "the requester cannot approve their own change"} in event["not_counted"]


def test_a_run_that_cannot_judge_replaces_an_earlier_verdict(repo, capsys) -> None:
    """The report comment never keeps saying "passed" when the latest run could not judge at all."""
    from mlgate.cli import main
    from mlgate.forge.local import LocalForge

    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    forge.review(1, "dave", "APPROVED")
    assert main(["-C", str(repo.root), "validate", "--forge", "local", "--pr", "1", "--comment"]) == 0
    assert forge.comment(1).startswith("### mlgate validate: passed")
    capsys.readouterr()
    # a base that cannot be read (a force-pushed or unfetched ref): the run stops with exit 2
    code = main(["-C", str(repo.root), "validate", "--forge", "local", "--pr", "1", "--comment", "--base", "gone"])
    assert code == 2 and "could not judge" in forge.comment(1)
