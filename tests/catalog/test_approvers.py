"""Who approved each promotion, in a catalog built the way publish.yml builds it: ``--forge github`` with the
workflow's GITHUB_TOKEN (an installation token: pull requests and reviews readable, the organisation's teams
not), or with a token that may read the teams (an optional secret). The GitHub forge is real PyGithub over
HTTP against the stand-in on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from mlgate.testing import RegistryRepo
from mlgate.testing.github import StandIn
from tests.audit.test_history import _merged_as, audited  # noqa: F401 - the fixture: main with PRs #12 and #13
from tests.catalog.test_browser import _by, _open, _wait

Ran = tuple[int, str, str]


def _pull_12(repo: RegistryRepo, gh: StandIn) -> None:
    """PR #12 promoted fraud-detector v3 to champion, whose gate allows @acme/ml-leads or carol: approved by
    dave (in the team), carol (named), and mallory (in no team)."""
    merged = _merged_as(repo)
    gh.collaborators("dave", "carol", "mallory", "alice", "bob", "erin")
    gh.state.teams["acme/ml-leads"] = {"dave"}
    gh.add_pull(12, "alice", "a" * 40)
    for who in ("dave", "carol", "mallory"):
        gh.review(12, who, "APPROVED")
    gh.merge(12, merged[12], "carol")
    gh.add_pull(13, "bob", "b" * 40)
    gh.merge(13, merged[13], "erin")


def _row_of_12(site: Path) -> str:
    audit = (site / "audit/index.html").read_text()
    rows = [r for r in re.findall(r"<tr data-model.*?</tr>", audit) if "<td>#12</td>" in r]
    assert len(rows) >= 1
    return rows[0]


def _approved_by(row: str) -> str:
    return re.sub(r"<[^>]+>", "", re.findall(r"<td>(.*?)</td>", row)[7])


def test_with_the_workflow_token_a_team_membership_is_said_to_be_unverified(
    audited: RegistryRepo,  # noqa: F811
    gh_env: StandIn,
    run_cli: Callable[..., Ran],
    tmp_path: Path,
) -> None:
    gh = gh_env
    gh.state.token_kind, gh.state.org_read = "app", "integration"  # GitHub Actions' GITHUB_TOKEN
    _pull_12(audited, gh)
    site = tmp_path / "site"
    code, out, err = run_cli("-C", audited.root, "catalog", "-o", site, *gh.cli_options())
    assert code == 0, err
    assert "2 approval(s) could not be verified" in err and "read:org" in err
    approved = _approved_by(_row_of_12(site))
    # carol is named in the gate: verified without any team; dave and mallory may or may not be in
    # @acme/ml-leads, and the page says so rather than guessing either way
    assert approved.startswith("carol, ")
    assert "dave (approved; not verified: membership of @acme/ml-leads cannot be read)" in approved
    assert "mallory (approved; not verified:" in approved
    model = (site / "models/fraud-detector/index.html").read_text()
    assert "dave (approved; not verified" in model  # the alias's last move and the timeline
    audit = (site / "audit/index.html").read_text()
    assert "could not be verified" in audit  # the page says why, once, above the trail
    events = json.loads((site / "audit/history.json").read_text())["events"]
    twelve = next(ev for ev in events if ev["pr"] == 12)
    assert [a["login"] for a in twelve["approvers"]] == ["carol"]
    # what the audit filters read: a field, not the reason's words
    assert {n["login"]: n["unverified"] for n in twelve["not_counted"]} == {"dave": True, "mallory": True}


def test_an_approval_is_unverified_by_its_field_whatever_its_reason_says() -> None:
    from mlgate.catalog.pages import unverified

    event = {
        "not_counted": [
            {"login": "dave", "reason": "the token could not say", "unverified": True},
            # a refusal whose words happen to contain the old marker is a refusal all the same
            {"login": "mallory", "reason": "not in @acme/ml-leads (what cannot be read here is nothing)"},
            {"login": "erin", "reason": "membership cannot be read", "unverified": False},
            "not a record",
        ]
    }
    assert [n["login"] for n in unverified(event)] == ["dave"]
    assert unverified({"not_counted": "unknown"}) == [] and unverified({}) == []


def test_with_a_token_that_reads_the_teams_every_approval_is_verified(
    audited: RegistryRepo,  # noqa: F811
    gh_env: StandIn,
    run_cli: Callable[..., Ran],
    tmp_path: Path,
) -> None:
    gh = gh_env  # a token with read:org (the optional secret publish.yml uses when it is set)
    _pull_12(audited, gh)
    site = tmp_path / "site"
    code, _, err = run_cli("-C", audited.root, "catalog", "-o", site, *gh.cli_options())
    assert (code, err) == (0, "")
    assert _approved_by(_row_of_12(site)) == "carol, dave"  # mallory is in no allowed team: not an approver
    assert "not verified" not in (site / "models/fraud-detector/index.html").read_text()


def test_a_forge_that_cannot_answer_leaves_approvers_unknown_and_says_so(
    audited: RegistryRepo,  # noqa: F811
    gh_env: StandIn,
    run_cli: Callable[..., Ran],
    tmp_path: Path,
) -> None:
    gh = gh_env
    _pull_12(audited, gh)
    gh.state.rate_limited = True
    site = tmp_path / "site"
    code, _, err = run_cli("-C", audited.root, "catalog", "-o", site, *gh.cli_options())
    assert code == 0 and "approvers of #12 unknown" in err
    assert _approved_by(_row_of_12(site)) == "unknown (the forge could not be read)"
    assert "unknown (no forge)" not in (site / "audit/index.html").read_text()


def test_the_audit_filters_show_unverified_approvals_the_same_way(
    audited: RegistryRepo,  # noqa: F811
    gh_env: StandIn,
    run_cli: Callable[..., Ran],
    tmp_path: Path,
    page: Any,
    serve_site: Callable[[Path], str],
) -> None:
    from selenium.webdriver.support.ui import Select

    gh = gh_env
    gh.state.token_kind, gh.state.org_read = "app", "integration"
    _pull_12(audited, gh)
    site = tmp_path / "site"
    assert run_cli("-C", audited.root, "catalog", "-o", site, *gh.cli_options())[0] == 0
    _open(page, serve_site(site) + "audit/")
    Select(page.find_element(_by("ID"), "f-model")).select_by_value("fraud-detector")
    count = page.find_element(_by("ID"), "f-count")
    _wait(page, lambda d: "events match" in count.text and "searching" not in count.text)
    rows = [r for r in page.find_elements(_by("CSS_SELECTOR"), "table.audit tbody tr") if "#12" in r.text]
    assert rows, "the rows drawn from the whole trail"
    cells = rows[0].find_elements(_by("TAG_NAME"), "td")
    assert cells[7].text.startswith("carol, dave (approved; not verified: membership of @acme/ml-leads")
    assert cells[7].find_elements(_by("CSS_SELECTOR"), "span.unverified")
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.fixture(autouse=True)
def _browser_present(request: pytest.FixtureRequest) -> None:
    if "page" in request.fixturenames:
        from tests.catalog.conftest import _need_browser

        _need_browser()
