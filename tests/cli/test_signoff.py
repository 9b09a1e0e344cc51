"""Sign-off end to end through the CLI: who asked for a change, who reviewed it, and what the gate, the report
comment and history then say (the counting rules themselves are in tests/core/test_signoff.py)."""

from __future__ import annotations

import json

from mlgate.cli import main
from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo


def test_a_promotion_opened_for_someone_else_records_and_excludes_the_requester(repo, capsys) -> None:
    """The local forge stores what mlgate opened: the body and the commit carry the requester's trailer."""
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
    (change,) = json.loads(capsys.readouterr()[0])["gates"]
    approvals = next(c for c in change["checks"] if c["gate"] == "approvals")
    assert code == 0 and approvals["details"]["counted"] == ["dave"]
    reasons = {i["user"]: i["reason"] for i in approvals["details"]["ignored"]}
    assert reasons["stranger"].startswith("has read permission")
    assert reasons["alice"] == "the author cannot approve their own change"


def test_history_lists_rejected_promotions_with_who_requested_changes(repo, capsys) -> None:
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


def test_emu_logins_work_everywhere_a_login_does(tmp_path, capsys) -> None:
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


def test_history_excludes_every_requester_the_gate_excluded(repo, capsys) -> None:
    """A trailer added to the body keeps its reviewer from counting, in the gate and in history alike."""
    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    forge.set_body(1, "Mlgate-Requested-By: carol\n\n" + forge.pull_request(1).body)
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
    assert main(["-C", str(repo.root), "promote", "fraud-detector", "3", "--alias", "shadow", "--as", "alice"]) == 0
    forge = LocalForge(repo.root)
    forge.review(1, "dave", "APPROVED")
    assert main(["-C", str(repo.root), "validate", "--forge", "local", "--pr", "1", "--comment"]) == 0
    assert forge.comment(1).startswith("### mlgate validate: passed")
    capsys.readouterr()
    # a base that cannot be read (a force-pushed or unfetched ref): the run stops with exit 2
    code = main(["-C", str(repo.root), "validate", "--forge", "local", "--pr", "1", "--comment", "--base", "gone"])
    assert code == 2 and "could not judge" in forge.comment(1)
