"""Every answer of the GitHub stand-in, for every endpoint mlgate uses, against GitHub's published OpenAPI description.

The description comes from the npm package ``@octokit/openapi`` (``generated/api.github.com.json``); ``.ci/run``
installs it into a temporary folder and sets ``MLGATE_GITHUB_OPENAPI``. Without it the check is skipped
locally and fails in CI (``CI=true``) or when the variable names a missing file.

The exercises below drive mlgate's own GitHub forge (PyGithub over HTTP) so that the stand-in answers every
route it serves with every status mlgate relies on; then every JSON answer is validated against the schema
GitHub documents for that operation and status. A new route in the stand-in needs an exercise here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mlgate.forge import ForgeError
from mlgate.forge.github import GitHubForge
from mlgate.testing.github import StandIn
from tests.forge.openapi import Description, translate

ENV = "MLGATE_GITHUB_OPENAPI"
H = "a" * 40
Exercise = Callable[[StandIn, GitHubForge], None]


@pytest.fixture(scope="module")
def description() -> Description:
    path = os.environ.get(ENV)
    if not path or not Path(path).is_file():
        why = (
            f"GitHub's OpenAPI description is not here: set {ENV} to generated/api.github.com.json of the npm "
            f"package @octokit/openapi (.ci/run installs it){f'; {path} does not exist' if path else ''}"
        )
        if path or os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(why)
        pytest.skip(why)
    return Description(json.loads(Path(path).read_text(encoding="utf-8")))


def _refused(fn: Callable[[], object]) -> None:
    with pytest.raises(ForgeError):
        fn()


def reading(gh: StandIn, f: GitHubForge) -> None:
    commits = [gh.commit("1" * 40, "alice", "web-flow"), gh.commit("2" * 40, None, None), gh.commit(H, "bob", "bob")]
    gh.add_pull(7, "alice", H, labels=("mlgate",), commits=commits, body="Mlgate-Requested-By: bob")
    gh.review(7, "dave", "APPROVED")
    gh.review(7, None, "CHANGES_REQUESTED")
    gh.dismiss(7, gh.review(7, "erin", "APPROVED"))
    gh.review(7, "alice", "PENDING")
    f.pull_request(7)
    _refused(lambda: f.pull_request(404))
    gh.merge(7, "d" * 40, "carol")
    gh.add_pull(8, "bob", "e" * 40, labels=("mlgate",))
    gh.review(8, "dave", "CHANGES_REQUESTED")
    gh.close(8)
    gh.add_pull(9, "bob", "f" * 40, commits=[gh.commit(c * 40, "bob", "bob") for c in "345"])
    gh.merge(9, "9" * 40, "carol", method="rebase", rebased=["7" * 40, "8" * 40, "9" * 40])
    f.pull_request(7)
    f.rejected_pull_requests("main")
    for sha in ("d" * 40, "7" * 40, "9" * 40, H):
        f.pull_requests_for_commit(sha)


def who_may_approve(gh: StandIn, f: GitHubForge) -> None:
    gh.collaborator("dave", "write")
    gh.collaborator("max", "maintain")
    gh.state.missing_users.add("nobody")
    gh.state.teams["acme/ml-leads"] = {"dave"}
    for user in ("dave", "max", "stranger", "nobody"):
        f.permission(user)
    f.is_member("dave", "@acme/ml-leads")
    f.is_member("mallory", "@acme/ml-leads")
    f.is_member("dave", "@acme/hidden-team")
    gh.state.org_read = "integration"
    f.is_member("erin", "@acme/ml-leads")
    gh.state.org_read = "granted"


def writing(gh: StandIn, f: GitHubForge) -> None:
    gh.state.branches.update({"mlgate/x": H, "main": "b" * 40})
    pr = f.open_pull_request(
        title="Register x", body="", head="mlgate/x", base="main", labels=["mlgate"], author="alice"
    )
    _refused(lambda: f.open_pull_request(title="again", body="", head="mlgate/x", base="main", labels=[], author="a"))
    gh.comment(pr.number, "mallory", "looks good")
    f.upsert_comment(pr.number, "first report")
    f.upsert_comment(pr.number, "second report")
    f.upsert_comment(pr.number, "x" * 70000, short="y" * 70000)  # shortened to fit
    with pytest.raises(Exception, match="422"):  # what GitHub answers a comment over its limit
        f.gh.get_repo("acme/registry").get_issue(pr.number).create_comment("z" * 65537)
    gh.server_error(502, times=5, match="^PATCH ")
    _refused(lambda: f.upsert_comment(pr.number, "third report"))  # marked outdated
    gh.fault(
        403,
        {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"},
        match="^PATCH ",
        times=2,
    )
    _refused(lambda: f.upsert_comment(pr.number, "fourth report"))  # deleted


def as_an_installation(gh: StandIn, f: GitHubForge) -> None:
    gh.state.token_kind = "app"
    app = gh.forge()
    gh.add_pull(20, "alice", H)
    gh.comment(20, "alice", "a comment to tell apart from the bot's")
    app.upsert_comment(20, "report from GITHUB_TOKEN")
    app.upsert_comment(20, "report from GITHUB_TOKEN, again")
    gh.state.token_kind = "user"


def failures(gh: StandIn, f: GitHubForge) -> None:
    # a fresh forge for each rate limit: a forge sends nothing more while a limit it met is closed
    gh.state.rate_limited = True
    _refused(lambda: gh.forge().pull_request(7))
    gh.state.rate_limited = False
    gh.secondary_rate_limit(retry_after=120)
    _refused(lambda: gh.forge().pull_request(7))
    gh.secondary_rate_limit(retry_after=120, status=429)
    _refused(lambda: gh.forge().pull_request(7))
    gh.rate_limit(2, status=429)  # the token's own quota runs out (GitHub answers 403 or 429)
    _refused(lambda: gh.forge().pull_request(7))
    gh.rate_limit(5000)
    gh.state.secondary.points_per_minute = 1  # too many requests in a minute
    _refused(lambda: gh.forge().pull_request(7))
    gh.state.secondary.points_per_minute = 900
    gh.server_error(502, times=5)
    _refused(lambda: f.pull_request(7))
    gh.html_success()
    _refused(lambda: f.pull_request(7))
    _refused(lambda: gh.forge(token="wrong").pull_request(7))


def branch_settings(gh: StandIn, f: GitHubForge) -> None:
    """`mlgate doctor`: classic protection and rulesets (repository and organization), then a branch with none."""
    from mlgate.check.doctor import diagnose
    from mlgate.testing.github import (
        NON_FAST_FORWARD,
        BranchSettings,
        merge_queue_rule,
        protection_payload,
        pull_request_rule,
        ruleset_payload,
        status_checks_rule,
        workflows_rule,
    )

    gh.state.settings = BranchSettings(
        protection={"main": protection_payload(gh.repo_url(), bypass_users=("mallory",))},
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
            ruleset_payload(gh, 90, "mlgate validate", [workflows_rule()], organization=True),
        ],
    )
    diagnose(f)
    f.api_json("/repos/acme/registry/rulesets")  # the listing the stand-in also serves
    gh.state.settings = BranchSettings()
    diagnose(f)


#: what mlgate asks GitHub, in the order a test can set it up; add one for each new route of the stand-in
EXERCISES: list[Exercise] = [reading, who_may_approve, writing, as_an_installation, branch_settings, failures]

R = "^/repos/acme/registry"
T = r"^/orgs/([^/]+)/teams/([^/]+)"
#: (method, route pattern of the stand-in, status) that mlgate relies on and must see documented answers for
EXPECTED = {
    ("GET", r"^/user$", 200),
    ("GET", r"^/user$", 403),
    ("POST", f"{R}/pulls$", 201),
    ("POST", f"{R}/pulls$", 422),
    ("GET", f"{R}/pulls$", 200),
    *(("GET", rf"{R}/pulls/(\d+)$", status) for status in (200, 401, 403, 404, 429)),
    ("GET", rf"{R}/pulls/(\d+)/reviews$", 200),
    ("GET", rf"{R}/pulls/(\d+)/commits$", 200),
    ("POST", rf"{R}/issues/(\d+)/labels$", 200),
    ("GET", rf"{R}/issues/(\d+)/comments$", 200),
    ("POST", rf"{R}/issues/(\d+)/comments$", 201),
    ("POST", rf"{R}/issues/(\d+)/comments$", 422),
    ("PATCH", rf"{R}/issues/comments/(\d+)$", 200),
    ("PATCH", rf"{R}/issues/comments/(\d+)$", 403),
    ("DELETE", rf"{R}/issues/comments/(\d+)$", 204),
    ("GET", f"{R}/collaborators/([^/]+)/permission$", 200),
    ("GET", f"{R}/collaborators/([^/]+)/permission$", 404),
    ("GET", f"{T}$", 200),
    ("GET", f"{T}$", 404),
    ("GET", f"{R}/commits/([0-9a-f]{{7,40}})/pulls$", 200),
    *(("GET", f"{T}/memberships/([^/]+)$", status) for status in (200, 403, 404)),
    ("GET", f"{R}/branches/([^/]+)/protection$", 200),
    ("GET", f"{R}/branches/([^/]+)/protection$", 404),
    ("GET", f"{R}/rules/branches/([^/]+)$", 200),
    ("GET", f"{R}/rulesets$", 200),
}


def _route(gh: StandIn, method: str, path: str) -> str | None:
    return next((p for m, p in gh.state.routes if m == method and re.match(p, path)), None)


def test_every_answer_of_the_stand_in_is_what_github_documents(description: Description) -> None:
    with StandIn() as gh:
        f = gh.forge()
        for exercise in EXERCISES:
            exercise(gh, f)
        answers, routes = gh.state.answers, gh.state.routes
    problems: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    checked = 0
    for a in answers:
        route = _route(gh, a.method, a.path)
        if route is None:
            problems.append(f"{a.method} {a.path} {a.status}: answered by no route of the stand-in")
            continue
        seen.add((a.method, route, a.status))
        found = description.operation(a.method, a.path)
        if found is None:
            problems.append(f"{a.method} {a.path}: GitHub's description has no such operation")
            continue
        template, op = found
        if "html" in a.content_type:  # the failures that are not the API's JSON, sent on purpose
            if (a.status, a.body[:15]) not in {(502, b"<!DOCTYPE html>"), (200, b"<!DOCTYPE html>")}:
                problems.append(f"{a.method} {a.path} {a.status}: unexpected HTML answer")
            continue
        schema, source = description.response_schema(op, a.status)
        if schema is None:
            if a.body:
                problems.append(f"{a.method} {template} {a.status}: GitHub sends no body here, the stand-in sent one")
            continue
        if not a.content_type.startswith("application/json"):
            problems.append(f"{a.method} {template} {a.status}: content type {a.content_type!r}, not JSON")
            continue
        checked += 1
        for error in description.errors(schema, json.loads(a.body)):
            problems.append(f"{a.method} {template} {a.status} ({source}): {error}")
    served = {(m, p) for m, p in routes}
    unexercised = sorted(f"{m} {p}" for m, p in served if not any((m, p, s) in seen for s in range(200, 300)))
    missing = sorted(f"{m} {pattern} -> {status}" for m, pattern, status in EXPECTED - seen)
    assert not unexercised, (
        "routes of the stand-in that no exercise asks (add one to EXERCISES so that their answers "
        f"are checked against GitHub's description): {unexercised}"
    )
    assert not missing, f"answers mlgate relies on that no exercise produced: {missing}"
    assert not problems, (
        f"{len(problems)} answers differ from GitHub's OpenAPI description {description.version}:\n"
        + "\n".join(problems[:60])
    )
    assert checked >= len(EXPECTED)  # every expected answer was JSON and checked (the HTML ones come on top)


# --- the translation of OpenAPI 3.0's schema objects -----------------------------------------------------


def _valid(schema: dict, instance: object) -> bool:
    return not Description({"paths": {}, "components": {"schemas": {}}}).errors(schema, instance)


def test_nullable_allows_null_besides_the_rest() -> None:
    enum = {"type": "string", "nullable": True, "enum": ["completed", "reopened"]}
    assert _valid(enum, None) and _valid(enum, "completed") and not _valid(enum, "other") and not _valid(enum, 3)
    assert not _valid({"type": "string"}, None)
    one_of = {
        "nullable": True,
        "oneOf": [
            {"type": "object", "properties": {"login": {"type": "string"}}, "required": ["login"]},
            {"type": "object", "properties": {}, "additionalProperties": False},
        ],
    }
    assert _valid(one_of, None) and _valid(one_of, {}) and _valid(one_of, {"login": "x"}) and not _valid(one_of, 3)


def test_a_one_of_of_nullable_branches_matches_null_once() -> None:
    value = {"oneOf": [{"type": "string", "nullable": True}, {"type": "integer", "nullable": True}]}
    assert _valid(value, None) and _valid(value, "a") and _valid(value, 1) and not _valid(value, 1.5)
    assert translate(value) == {"anyOf": [{"type": "null"}, {"oneOf": [{"type": "string"}, {"type": "integer"}]}]}


def test_objects_are_closed_unless_composed_and_ref_siblings_are_ignored() -> None:
    user = {"type": "object", "properties": {"login": {"type": "string"}}, "required": ["login"]}
    assert _valid(user, {"login": "a"}) and not _valid(user, {"login": "a", "invented": 1})
    composed = {"allOf": [user, {"type": "object", "properties": {"id": {"type": "integer"}}}]}
    assert _valid(composed, {"login": "a", "id": 1})
    assert translate({"$ref": "#/components/schemas/x", "nullable": True, "description": "d"}) == {
        "$ref": "#/components/schemas/x"
    }


def test_formats_that_clients_parse_are_checked() -> None:
    when = {"type": "string", "format": "date-time"}
    assert _valid(when, "2026-01-02T03:04:05Z") and not _valid(when, "2026-01-02 03:04") and not _valid(when, "")
    uri = {"type": "string", "format": "uri"}
    assert _valid(uri, "https://api.github.com/users/github-actions%5Bbot%5D") and not _valid(uri, "")
    assert not _valid(uri, "https://api.github.com/users/a b")
