"""`mlgate doctor --forge github`: real PyGithub over HTTP to the stand-in, whose protection and rulesets payloads
are shaped as GitHub documents them."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from mlgate.check.doctor import diagnose
from mlgate.cli import cli, main
from mlgate.cli.helptext import commands_of
from mlgate.forge.github import GitHubForge
from mlgate.testing.github import (
    NON_FAST_FORWARD,
    BranchSettings,
    StandIn,
    merge_queue_rule,
    protection_payload,
    pull_request_rule,
    ruleset_payload,
    status_checks_rule,
    workflows_rule,
)

KEYS = [
    "pull-request",
    "approvals",
    "code-owners",
    "stale-approvals",
    "last-push",
    "status-check",
    "up-to-date",
    "force-push",
    "no-bypass",
    "required-workflow",
]
ADMINS_MAY_BYPASS = {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}


@pytest.fixture
def gh(gh: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in, found by every doctor run here through GitHub Actions' variables."""
    for name, value in gh.environment().items():
        monkeypatch.setenv(name, value)
    return gh


def required_workflow(gh: StandIn, **kw) -> dict:
    return ruleset_payload(gh, 90, "mlgate validate", [workflows_rule(**kw)], organization=True)


def doctor(run_cli, *args: str) -> tuple[int, str, str]:
    return run_cli("doctor", "--forge", "github", *args)


def statuses(run_cli, *args: str) -> tuple[int, dict[str, dict]]:
    code, out, _ = doctor(run_cli, "--json", *args)
    doc = json.loads(out)
    assert [i["key"] for i in doc["items"]] == KEYS
    return code, {i["key"]: i for i in doc["items"]}


def test_classic_protection_and_an_organization_required_workflow_are_all_set(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url())}, rulesets=[required_workflow(gh)]
    )
    code, out, err = doctor(run_cli)
    assert code == 0, out + err
    assert out.startswith(
        "mlgate doctor: acme/registry, branch main (protected by branch protection, "
        "ruleset 'mlgate validate' (organization acme, id 90))\n"
    )
    assert out.count("[x] ") == len(KEYS) and "fix:" not in out and out.endswith(f"{len(KEYS)} of {len(KEYS)} set\n")
    assert (
        ".github/workflows/validate.yml required from a ruleset  from refs/heads/main by ruleset 'mlgate validate'"
        in out
    )
    assert ("GET", "/repos/acme/registry/branches/main/protection") in gh.state.requests
    assert ("GET", "/repos/acme/registry/rules/branches/main") in gh.state.requests


def test_rulesets_alone_with_a_merge_queue_are_all_set(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        rulesets=[
            ruleset_payload(
                gh,
                7,
                "main",
                [
                    pull_request_rule(2),
                    status_checks_rule("validate", strict=False),
                    merge_queue_rule(),
                    NON_FAST_FORWARD,
                ],
            ),
            required_workflow(gh, ref=None, sha="d" * 40),
        ]
    )
    code, items = statuses(run_cli)
    assert code == 0, items
    assert items["approvals"]["detail"] == "2 required by ruleset 'main' (repository acme/registry, id 7)"
    assert items["up-to-date"]["detail"].startswith("merge queue by ruleset 'main'")
    assert items["required-workflow"]["detail"].startswith("at dddddddddddd by ruleset 'mlgate validate'")
    assert items["no-bypass"]["detail"] == (
        "no bypass in ruleset 'main' (repository acme/registry, id 7), "
        "ruleset 'mlgate validate' (organization acme, id 90)"
    )


def test_partial_classic_protection_lists_what_is_missing_with_a_fix_each(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        protection={
            "main": protection_payload(
                gh.repo_url(),
                approvals=0,
                code_owners=False,
                dismiss_stale=False,
                last_push=False,
                checks=("lint",),
                enforce_admins=False,
                force_pushes=True,
            )
        }
    )
    code, out, _ = doctor(run_cli)
    assert code == 1
    lines = out.splitlines()
    assert "[x] pull request required" in out
    for title in (
        "at least 1 approval",
        "review from code owners",
        "stale approvals dismissed on push",
        "approval of the most recent push",
        "required status check 'validate'",
        "up-to-date branches or a merge queue",
        "force pushes blocked",
        "nobody may bypass",
        ".github/workflows/validate.yml required from a ruleset",
    ):
        [i] = [n for n, line in enumerate(lines) if line.startswith(f"[ ] {title} ")]
        assert lines[i + 1].startswith("    fix: "), title
    assert "bypass allowed by branch protection: repository admins ('Do not allow bypassing' is off)" in out
    assert "Require status checks to pass' and add 'validate'" in out
    assert out.endswith("1 of 10 set, 9 missing\n")


def test_unprotected_branch_says_so(gh: StandIn, run_cli) -> None:
    code, items = statuses(run_cli)
    assert code == 1 and all(i["status"] == "missing" for i in items.values())
    _, out, _ = doctor(run_cli)
    assert "note: nothing protects main: no branch protection and no active ruleset applies to it" in out


@pytest.mark.parametrize("status", [403, 404])
def test_protection_hidden_from_a_non_admin_is_said_in_words(gh: StandIn, run_cli, status: int) -> None:
    gh.state.settings = BranchSettings(
        admin=False, hidden_status=status, rulesets=[ruleset_payload(gh, 7, "main", [pull_request_rule()])]
    )
    code, out, err = doctor(run_cli)
    assert code == 1 and err == ""
    assert (
        f"note: GitHub shows branch protection only to repository admins, and this token is not one (answered "
        f"{status}): its settings are unknown; run doctor with an admin's token"
    ) in out
    assert "[x] pull request required" in out  # rulesets are readable with read access
    assert "[?] required status check 'validate'" in out and "branch protection is hidden from this token" in out
    assert "[ ] .github/workflows/validate.yml required from a ruleset" in out  # classic protection cannot set it


def test_a_bypass_actor_on_the_only_ruleset_is_missing_no_bypass(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        rulesets=[
            ruleset_payload(
                gh,
                7,
                "main",
                [pull_request_rule(), status_checks_rule("validate"), NON_FAST_FORWARD],
                bypass=(ADMINS_MAY_BYPASS,),
            ),
            required_workflow(gh),
        ]
    )
    code, items = statuses(run_cli)
    assert code == 1
    assert items["no-bypass"] == {
        **items["no-bypass"],
        "status": "missing",
        "detail": "bypass allowed by ruleset 'main' (repository acme/registry, id 7): RepositoryRole 5 (always)",
    }
    # the same rules also enforced, without bypass, by branch protection: nobody gets through both
    gh.state.settings.protection["main"] = protection_payload(gh.repo_url())
    code, items = statuses(run_cli)
    assert code == 0 and items["no-bypass"]["status"] == "ok"


def test_classic_bypass_allowances_are_a_bypass(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url(), bypass_users=("mallory",))},
        rulesets=[required_workflow(gh)],
    )
    _, items = statuses(run_cli)
    assert items["no-bypass"]["status"] == "missing"
    assert "user mallory (pull request requirements)" in items["no-bypass"]["detail"]


def test_a_hidden_bypass_list_is_unknown(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        can_see_bypass=False,
        rulesets=[
            ruleset_payload(gh, 7, "main", [pull_request_rule(), status_checks_rule("validate"), NON_FAST_FORWARD]),
            required_workflow(gh),
        ],
    )
    code, items = statuses(run_cli)
    assert code == 1 and items["no-bypass"]["status"] == "unknown"
    assert items["no-bypass"]["detail"].startswith("the bypass list is hidden from this token: ruleset 'main'")


def test_rulesets_in_evaluate_mode_or_for_other_branches_or_workflows_do_not_count(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url())},
        rulesets=[
            ruleset_payload(gh, 1, "trial", [workflows_rule()], organization=True, enforcement="evaluate"),
            ruleset_payload(
                gh, 2, "releases", [workflows_rule()], organization=True, include=("refs/heads/release/*",)
            ),
            ruleset_payload(gh, 3, "other", [workflows_rule(".github/workflows/lint.yml")], organization=True),
        ],
    )
    code, items = statuses(run_cli)
    assert code == 1 and items["required-workflow"]["status"] == "missing"
    code, items = statuses(run_cli, "--branch", "release/2.x")  # a branch name with a slash reaches GitHub quoted
    assert items["required-workflow"]["status"] == "ok" and items["pull-request"]["status"] == "missing"
    assert ("GET", "/repos/acme/registry/rules/branches/release%2F2.x") in gh.state.requests


def test_a_branch_that_does_not_exist_is_a_usage_error(gh: StandIn, run_cli) -> None:
    gh.state.settings = BranchSettings(branches=("main",))
    code, out, err = doctor(run_cli, "--branch", "mian")
    assert code == 2 and out == ""
    assert (
        err == "mlgate: error: GitHub has no branch 'mian' in acme/registry: pass the registry's branch with --branch\n"
    )


def test_odd_payloads_never_crash(gh: StandIn, run_cli) -> None:
    odd = protection_payload(gh.repo_url())
    odd.update(
        enforce_admins=True, allow_force_pushes=None, required_status_checks={"contexts": "validate", "checks": [1]}
    )
    odd["required_pull_request_reviews"]["required_approving_review_count"] = "2"
    ruleset = ruleset_payload(
        gh,
        7,
        "main",
        [
            {"type": "pull_request", "parameters": []},
            {"type": "workflows", "parameters": {"workflows": "x"}},
            {"type": 5},
        ],
        bypass=({"actor_type": "User"},),
    )
    gh.state.settings = BranchSettings(protection={"main": odd}, rulesets=[ruleset])
    code, items = statuses(run_cli)
    assert code == 1
    assert items["pull-request"]["status"] == "ok" and items["approvals"]["status"] == "missing"
    assert items["force-push"]["status"] == "missing" and items["status-check"]["status"] == "missing"


def test_an_odd_required_check_name_never_crashes(gh: StandIn, run_cli) -> None:
    """A check's context that is not a string (here a list, unhashable) names no check: it is left out."""
    protection = protection_payload(gh.repo_url())
    protection["required_status_checks"]["checks"] = [{"context": ["validate"], "app_id": 15368}]
    gh.state.settings = BranchSettings(protection={"main": protection}, rulesets=[required_workflow(gh)])
    code, items = statuses(run_cli)
    assert code == 1 and items["status-check"]["status"] == "missing"


def test_library_use_without_the_cli(gh: StandIn) -> None:
    gh.state.settings = BranchSettings(protection={"main": protection_payload(gh.repo_url())})
    result = diagnose(GitHubForge("acme/registry", gh.state.token, gh.url))
    assert not result.ok and [i.key for i in result.items if i.status != "ok"] == ["required-workflow"]
    assert result.to_dict()["sources"] == ["branch protection"]


@pytest.mark.parametrize(
    ("setup", "args", "words"),
    [
        (lambda gh: setattr(gh.state, "token", "rotated"), (), "GitHub rejected the token"),
        (lambda gh: None, ("--github-repo", "acme/elsewhere"), "(404"),
        (lambda gh: gh.html_success(), (), "HTML"),
        (lambda gh: None, ("--forge", "local"), "doctor reads GitHub's branch settings: pass --forge github"),
    ],
    ids=["401", "no-such-repository", "html-instead-of-json", "local-forge"],
)
def test_unreachable_or_wrong_usage_exits_2_in_one_line(gh: StandIn, run_cli, setup, args, words: str) -> None:
    setup(gh)
    code, out, err = doctor(run_cli, *args)
    assert code == 2 and out == ""
    assert err.startswith("mlgate: error: ") and err.count("\n") == 1 and words in err


def test_no_token_and_no_server(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/registry")
    code, _, err = doctor(run_cli)
    assert code == 2 and "set GITHUB_TOKEN" in err
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    code, _, err = doctor(run_cli, "--github-url", f"http://127.0.0.1:{port}")
    assert code == 2 and err.startswith("mlgate: error: ") and err.count("\n") == 1


def test_the_help_examples_work(gh: StandIn, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url())}, rulesets=[required_workflow(gh)]
    )
    examples = commands_of(cli.commands["doctor"].examples)
    assert len(examples) == 2
    first = examples[0].split("mlgate ", 1)[1].split()  # GITHUB_TOKEN=$(gh auth token) is the shell's part
    assert main(first) == 0
    assert main(examples[1].split()[1:]) == 0
    assert json.loads(capsys.readouterr()[0].split(f"\n{len(KEYS)} of {len(KEYS)} set\n", 1)[1])["ok"] is True


@pytest.mark.parametrize(
    "rule",
    [
        lambda gh: workflows_rule(ref="refs/heads/anything-goes"),
        lambda gh: workflows_rule(ref="refs/pull/7/head"),
    ],
)
def test_a_required_workflow_from_a_ref_anyone_can_push_pins_nothing(gh: StandIn, run_cli, rule) -> None:
    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url())},
        rulesets=[ruleset_payload(gh, 90, "mlgate validate", [rule(gh)], organization=True)],
    )
    code, items = statuses(run_cli)
    assert code == 1 and items["required-workflow"]["status"] != "ok"


def test_a_required_check_from_any_source_is_not_enough(gh: StandIn, run_cli) -> None:
    """A check required by name only can be satisfied by a commit status anyone with write access posts."""
    protection = protection_payload(gh.repo_url())
    protection["required_status_checks"]["checks"] = [{"context": "validate", "app_id": None}]
    gh.state.settings = BranchSettings(protection={"main": protection}, rulesets=[required_workflow(gh)])
    code, items = statuses(run_cli)
    assert code == 1 and items["status-check"]["status"] != "ok"
