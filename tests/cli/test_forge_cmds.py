"""``mlgate pr list|show|close|open``, ``deprecate``/``undeprecate``, and what re-runs and merges say, as a user
sees them on the command line."""

from __future__ import annotations

import json

import click
import pytest

from mlgate.cli import cli
from mlgate.testing import RegistryRepo, approve

BRANCH = "mlgate/promote-fraud-detector-champion-v3"


@pytest.fixture
def mlgate(repo: RegistryRepo, run_cli):  # noqa: ANN201
    """``mlgate -C REPO ARGS``: exit code, stdout, stderr."""
    return lambda *args: run_cli("-C", repo.root, *args)


def test_a_rerun_says_it_updated_the_branch_and_the_pull_request(mlgate, repo, forge) -> None:
    promote = ("promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice")
    assert mlgate(*promote, "--note", "A", "--no-pr")[0] == 0
    code, out, err = mlgate(*promote, "--note", "B")
    assert code == 0, err
    assert f"updated branch {BRANCH}: " in out and "replaces the earlier run's" in out
    assert "pull request #1: local:" in out  # opened now: the --no-pr run had none
    approve(forge, 1, "dave")
    code, out, _ = mlgate(*promote, "--note", "C", "--json")
    data = json.loads(out)
    assert code == 0 and data["pull_request_updated"] and data["replaced"] and data["pull_request"]["number"] == 1
    code, out, _ = mlgate(*promote, "--note", "D")
    assert code == 0 and "updated pull request #1" in out and "earlier approvals no longer count" in out
    assert b"note: D" in repo.git.tree(BRANCH).read("registry/models/fraud-detector/aliases/champion.yaml")


def test_merge_says_it_deleted_the_branch(mlgate, repo, forge) -> None:
    assert mlgate("promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice")[0] == 0
    approve(forge, 1, "dave", "erin")
    code, out, _ = mlgate("merge", "1", "--as", "dave")
    assert code == 0 and f"deleted branch {BRANCH} (local)" in out
    assert repo.git.branch_sha(BRANCH) is None


def _pulls(mlgate, forge) -> None:
    """#1 merged, #2 closed by dave, #3 open."""
    assert mlgate("promote", "fraud-detector", "3", "--alias", "champion", "--as", "alice")[0] == 0
    approve(forge, 1, "dave", "erin")
    assert mlgate("merge", "1", "--as", "dave")[0] == 0
    assert mlgate("promote", "search-ranker", "2", "--alias", "champion", "--as", "bob", "--force")[0] == 0
    code, out, _ = mlgate("pr", "close", "2", "--as", "dave", "--reason", "regresses on mobile")
    assert code == 0 and out == (
        "closed #2 (Promote search-ranker v2 to champion) without merging: recorded as rejected by dave\n"
    )
    assert mlgate("promote", "fraud-detector", "1", "--alias", "challenger", "--as", "alice", "--force")[0] == 0


def test_pr_list(mlgate, forge) -> None:
    _pulls(mlgate, forge)
    code, out, _ = mlgate("pr", "list")
    assert code == 0 and out.splitlines() == [
        "#3  open    Promote fraud-detector v1 to challenger  [mlgate/promote-fraud-detector-challenger-v1 -> main]"
        "  by alice"
    ]
    code, out, _ = mlgate("pr", "list", "--state", "all")
    assert [line.split()[:2] for line in out.splitlines()] == [["#1", "merged"], ["#2", "closed"], ["#3", "open"]]
    assert "merged by dave" in out.splitlines()[0] and "by bob, closed by dave" in out.splitlines()[1]
    code, out, _ = mlgate("pr", "list", "--state", "closed", "--json")
    [closed] = json.loads(out)
    assert (closed["number"], closed["closed_by"], closed["requester"]) == (2, "dave", "bob")
    assert mlgate("pr", "list", "--state", "done")[0] == 2


def test_pr_show(mlgate, forge) -> None:
    _pulls(mlgate, forge)
    code, out, _ = mlgate("pr", "show", "1")
    assert code == 0 and out.startswith("#1 Promote fraud-detector v3 to champion\n")
    assert "  merged by     dave" in out and "  requester     alice" in out and "  merged        20" in out
    assert "dave             approved" in out and "last gate report:" in out
    data = json.loads(mlgate("pr", "show", "2", "--json")[1])
    assert (data["state"], data["closed_by"], data["close_reason"]) == ("closed", "dave", "regresses on mobile")
    code, out, _ = mlgate("pr", "show", "3")
    assert "approvals on the current head: none" in out and "reviews: none" in out


def test_unknown_or_settled_pull_requests_are_clear_errors(mlgate, forge) -> None:
    _pulls(mlgate, forge)
    code, _, err = mlgate("pr", "show", "7")
    assert code == 2 and err == "mlgate: error: no pull request #7 in the local forge; pull requests: 1, 2, 3\n"
    code, _, err = mlgate("pr", "close", "1", "--as", "dave")
    assert code == 2 and "pull request #1 is merged: it cannot be closed" in err
    assert mlgate("pr", "show", "x")[0] == 2


def test_pr_open_for_a_hand_made_branch(mlgate, repo, forge) -> None:
    repo.branch("tighten", "main")
    repo.edit_yaml("registry/policy.yaml", description="Tighter gates")
    repo.commit("Tighten the policy")
    repo.switch("main")
    code, out, err = mlgate("pr", "open", "tighten", "--as", "bob", "--title", "Tighten \x1b[31mgates")
    assert code == 0, err
    assert "admin approval" in out and "pull request #1: Tighten \\x1b[31mgates [tighten -> main]" in out
    assert "\x1b" not in out
    code, out, _ = mlgate("pr", "list")
    assert "\x1b" not in out and "Tighten \\x1b[31mgates" in out
    code, _, err = mlgate("pr", "open", "nope", "--as", "bob")
    assert code == 2 and "no branch 'nope'" in err


def test_deprecate_and_undeprecate(mlgate, repo, forge) -> None:
    code, out, _ = mlgate("deprecate", "fraud-detector", "1", "--reason", "leaked labels", "--as", "alice")
    assert code == 0 and "Deprecate fraud-detector v1: branch mlgate/deprecate-fraud-detector-v1" in out
    assert "pull request #1" in out
    code, _, err = mlgate("deprecate", "fraud-detector", "2", "--reason", "old", "--as", "alice")
    assert code == 2 and "fraud-detector@champion points at it on main" in err
    code, out, _ = mlgate("undeprecate", "churn-predictor", "1", "--as", "alice", "--no-pr", "--json")
    assert code == 0 and json.loads(out)["branch"] == "mlgate/undeprecate-churn-predictor-v1"
    assert mlgate("undeprecate", "fraud-detector", "3", "--as", "alice")[0] == 2


@pytest.mark.parametrize("name", sorted(cli.commands["pr"].commands))  # type: ignore[attr-defined]
def test_every_pr_command_has_help_with_an_example(name: str) -> None:
    group = cli.commands["pr"]
    assert isinstance(group, click.Group)
    command = group.commands[name]
    text = command.get_help(click.Context(command, info_name=name))
    assert "Example" in text and "\\b" not in text and "\b" not in text
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"pr {name} {param.opts} has no help"
