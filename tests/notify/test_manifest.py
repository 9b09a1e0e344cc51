"""registry/notifications.yaml: its schema and rules (MG211, MG212; MG213 a warning) in validation, one clear error per bad field,
and its protection in the gate: a pull request changing it needs the base policy's admins, like policy.yaml."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate import validate_repo
from mlgate.core.notifications import problems, url_problem, url_secret_problem
from mlgate.testing import EXAMPLE_TEAMS, RegistryRepo, StaticReviews
from tests.notify.conftest import subscribe

PATH = "registry/notifications.yaml"


def manifest(*subscribers: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": "mlgate/v1", "kind": "Notifications", "subscribers": list(subscribers)}


def findings(repo: RegistryRepo, *subscribers: dict[str, object]) -> list[tuple[str, str | None, str]]:
    repo.write(PATH, manifest(*subscribers))
    report = validate_repo(repo.root)
    return [(f.rule, f.field, f.message) for f in report.errors if f.path == PATH]


def test_a_good_manifest_validates(repo: RegistryRepo) -> None:
    assert (
        findings(
            repo,
            {"url": "https://hooks.example.com/mlgate", "secret_env": "HOOK_SECRET", "kinds": ["promotion"]},
            {"url_env": "SLACK_WEBHOOK_URL", "format": "slack", "models": ["fraud-detector"], "aliases": ["champion"]},
            {"url": "http://127.0.0.1:8080/events", "secret_env": "LOCAL_SECRET"},
            {"url": "http://[::1]/events", "secret_env": "LOCAL_SECRET"},
        )
        == []
    )


@pytest.mark.parametrize(
    ("subscriber", "rule", "field", "words"),
    [
        ({"url": "http://hooks.example.com/x", "secret_env": "S"}, "MG211", "subscribers[0].url", "must use https://"),
        ({"url": "http://127.0.0.1.nip.io/x", "secret_env": "S"}, "MG211", "subscribers[0].url", "must use https://"),
        (
            {"url": "http://localhost.evil.example/x", "secret_env": "S"},
            "MG211",
            "subscribers[0].url",
            "must use https://",
        ),
        ({"url": "http://[::ffff:8.8.8.8]/x", "secret_env": "S"}, "MG211", "subscribers[0].url", "must use https://"),
        (
            {"url": "https://hooks.example.com:99999/x", "secret_env": "S"},
            "MG211",
            "subscribers[0].url",
            "not a valid URL",
        ),
        ({"url": "ftp://hooks.example.com/x", "secret_env": "S"}, "MG101", "subscribers[0].url", "is not valid"),
        ({"url": "https://hooks.example.com/x#frag", "secret_env": "S"}, "MG211", "subscribers[0].url", "#fragment"),
        (
            {"url": "https://user:pw@hooks.example.com/x", "secret_env": "S"},
            "MG212",
            "subscribers[0].url",
            "holds credentials",
        ),
        (
            {"url": "https://hooks.example.com/x?token=abc", "secret_env": "S"},
            "MG212",
            "subscribers[0].url",
            "parameter 'token'",
        ),
        (
            {"url": "https://hooks.slack.com/services/T0/B0/abc", "format": "slack"},
            "MG212",
            "subscribers[0].url",
            "Slack webhook URL",
        ),
        (
            {
                "url": "https://h.example.com/k/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "secret_env": "S",
            },
            "MG212",
            "subscribers[0].url",
            "looks like a key in its path",
        ),
        ({"url": "https://hooks.example.com/x"}, "MG211", "subscribers[0]", "needs secret_env"),
        (
            {"url": "https://hooks.example.com/x", "url_env": "U", "secret_env": "S"},
            "MG211",
            "subscribers[0]",
            "both url and url_env",
        ),
        ({"secret_env": "S"}, "MG211", "subscribers[0]", "neither url nor url_env"),
        (
            {"url": "https://hooks.example.com/x", "secret_env": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"},
            "MG101",
            "subscribers[0].secret_env",
            "is not valid",
        ),
        (
            {"url": "https://hooks.example.com/x", "secret_env": "AKIAIOSFODNN7EXAMPLE"},
            "MG212",
            "subscribers[0].secret_env",
            "AWS access key",
        ),
        (
            {"url": "https://hooks.example.com/x", "secret_env": "Q2XK9P7LM4ZT8WR3VN6BY5HJ"},
            "MG212",
            "subscribers[0].secret_env",
            "looks like a secret value",
        ),
        (
            {"url": "https://hooks.example.com/x", "secret_env": "S", "kinds": ["promoted"]},
            "MG101",
            "subscribers[0].kinds[0]",
            "promoted",
        ),
        (
            {"url": "https://hooks.example.com/x", "secret_env": "S", "token": "x"},
            "MG101",
            "subscribers[0].token",
            "unknown field",
        ),
    ],
)
def test_each_bad_field_gets_one_clear_finding(
    repo: RegistryRepo, subscriber: dict[str, object], rule: str, field: str, words: str
) -> None:
    found = findings(repo, subscriber)
    assert len(found) == 1, found
    assert found[0][:2] == (rule, field) and words in found[0][2], found


def test_a_secret_pasted_into_the_description_is_refused(repo: RegistryRepo) -> None:
    repo.write(
        PATH,
        {
            **manifest({"url": "https://hooks.example.com/x", "secret_env": "S"}),
            "description": "ping xoxb-123456789012-abcdefghijkl if it breaks",
        },
    )
    errors = [f for f in validate_repo(repo.root).errors if f.path == PATH]
    assert [(f.rule, f.field, f.line) for f in errors] == [("MG212", "description", 6)]
    assert "looks like a Slack token" in errors[0].message and "xoxb" not in errors[0].message


def test_a_filter_naming_an_unknown_model_or_alias_is_a_warning_that_passes(repo: RegistryRepo, run_cli) -> None:
    repo.write(
        PATH,
        manifest(
            {"url": "https://hooks.example.com/a", "secret_env": "S", "models": ["fraud-detector", "churn-predicter"]},
            {"url": "https://hooks.example.com/b", "secret_env": "S", "aliases": ["champion", "shadow", "canary"]},
            # a new model's first registration is on its way: named before it exists, said, not refused
            {"url": "https://hooks.example.com/c", "secret_env": "S", "models": ["fraud-detector-v2"]},
        ),
    )
    code, out, err = run_cli("-C", repo.root, "validate")
    assert code == 0, out + err  # warnings only: the check passes
    warned = [line for line in out.splitlines() if "MG213" in line]
    assert warned == [
        f"{PATH}:8: MG213 notify-unknown-name (warning): subscribers[0].models[1] names 'churn-predicter', which is not a model "
        "of the registry (it matches no event until that model exists); did you mean 'churn-predictor'?",
        f"{PATH}:14: MG213 notify-unknown-name (warning): subscribers[1].aliases[2] names 'canary', which is not an alias any "
        "of the subscriber's models holds (it matches no event until that alias exists)",
        f"{PATH}:18: MG213 notify-unknown-name (warning): subscribers[2].models[0] names 'fraud-detector-v2', which is not a "
        "model of the registry (it matches no event until that model exists); did you mean 'fraud-detector'?",
    ], out
    assert out.splitlines()[-1].startswith("OK: no problems; 3 warnings (")
    report = validate_repo(repo.root)
    assert report.ok and {f.severity for f in report.findings if f.rule == "MG213"} == {"warning"}
    # every name known: nothing said ('shadow' is churn-predictor's, 'challenger' a policy gate's)
    assert findings(repo, {"url": "https://x.example.com/", "secret_env": "S", "aliases": ["shadow"]}) == []
    repo.write(
        PATH, manifest({"url": "https://x.example.com/", "secret_env": "S", "aliases": ["shadow", "challenger"]})
    )
    assert [f for f in validate_repo(repo.root).findings if f.path == PATH] == []


def test_notify_sends_to_a_subscriber_whose_filter_names_an_unknown_model(repo: RegistryRepo, run_cli) -> None:
    since = subscribe(repo, {"url_env": "NO_SUCH_VARIABLE_MLGATE", "format": "slack", "models": ["not-yet"]})
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since, "--dry-run")
    assert code == 0, out + err  # a warning in validation, never a reason not to use the file
    assert "MG213" not in err


def test_notify_refuses_an_unusable_manifest_with_one_line_per_field(repo: RegistryRepo, run_cli) -> None:
    since = subscribe(
        repo,
        {"url": "http://hooks.example.com/x", "secret_env": "S"},
        {"url": "https://a:b@hooks.example.com/y", "secret_env": "S"},
    )
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "mlgate: error: registry/notifications.yaml:4: MG211 the URL http://hooks.example.com/..."
    )
    assert lines[1].startswith("mlgate: error: registry/notifications.yaml:6: MG212") and "a:b" not in err


def test_an_oversized_or_hostile_yaml_manifest_is_refused_like_any_manifest(repo: RegistryRepo, run_cli) -> None:
    since = repo.rev()
    repo.write(PATH, "apiVersion: mlgate/v1\nkind: Notifications\nsubscribers: &a [*a]\n")
    repo.commit("a recursive alias")
    code, _, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 2 and "registry/notifications.yaml" in err and "MG00" in err
    repo.write(PATH, "apiVersion: mlgate/v1\nkind: Notifications\nsubscribers: []\n" + "#" * (1024 * 1024 + 1))
    repo.commit("too big")
    code, _, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 2 and "MG002" in err and "1 MiB" in err


# --- protected like the policy -------------------------------------------------------------------------------


def reviews(repo: RegistryRepo, *users: str) -> StaticReviews:
    r = StaticReviews("alice", repo.rev("pr"), teams=EXAMPLE_TEAMS)
    for u in users:
        r.review(u)
    return r


@pytest.mark.parametrize("change", ["add", "edit", "delete"])
def test_a_pull_request_changing_notifications_needs_an_admin(repo: RegistryRepo, change: str) -> None:
    good = {"url": "https://hooks.example.com/mlgate", "secret_env": "HOOK_SECRET"}
    if change != "add":
        subscribe(repo, good)
    repo.branch("pr")
    if change == "delete":
        repo.delete(PATH)
        repo.commit("stop notifying")
    else:
        subscribe(repo, {**good, "url": "https://attacker.example.com/collect"}, message="redirect the events")
    report = validate_repo(repo.root, base="main", head="pr", reviews=reviews(repo, "dave", "erin"))
    gate = next(g for g in report.gates if g.path == PATH)
    assert gate.kind == "policy-change" and gate.status == "fail"
    assert [f.rule for f in report.errors] == ["MG501"] and not report.ok
    report = validate_repo(repo.root, base="main", head="pr", reviews=reviews(repo, "pat"))  # pat: an admin
    assert report.ok, report.errors


def test_the_admins_are_the_base_branchs(repo: RegistryRepo) -> None:
    repo.branch("pr")
    policy = repo.read_yaml("registry/policy.yaml")
    policy["admins"] = ["alice"]  # the PR's author makes herself the admin in the same PR
    repo.write("registry/policy.yaml", policy)
    subscribe(repo, {"url": "https://attacker.example.com/collect", "secret_env": "S"})
    report = validate_repo(repo.root, base="main", head="pr", reviews=reviews(repo, "alice"))
    assert {g.path for g in report.gates if g.status == "fail"} == {"registry/policy.yaml", PATH}


def test_init_gives_the_admins_the_notifications_file_in_codeowners() -> None:
    from mlgate.change.scaffold import _codeowners

    owners = _codeowners(["@acme/ml-platform"], ["@acme/ml-leads"])
    assert "/registry/notifications.yaml   @acme/ml-platform\n" in owners


# --- properties ----------------------------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True).filter(
    lambda h: h not in ("localhost",)
)


@settings(max_examples=200, deadline=None)
@given(host=hosts, path=st.text(string.ascii_letters + string.digits + "/-_.", max_size=40))
def test_plain_http_is_refused_off_this_machine_and_https_is_not(host: str, path: str) -> None:
    assert "https://" in (url_problem(f"http://{host}/{path}") or "")
    assert url_problem(f"https://{host}/{path}") is None


@settings(max_examples=200, deadline=None)
@given(
    host=hosts,
    user=st.text(string.ascii_letters + string.digits, min_size=1, max_size=12),
    password=st.text(string.ascii_letters + string.digits + "!$*", max_size=12),
)
def test_credentials_in_a_url_are_always_refused(host: str, user: str, password: str) -> None:
    cred = f"{user}:{password}" if password else user
    assert "credentials" in (url_secret_problem(f"https://{cred}@{host}/hook") or "")


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=200))
def test_no_manifest_text_crashes_the_rules(value: str) -> None:
    data = {
        "apiVersion": "mlgate/v1",
        "kind": "Notifications",
        "description": value,
        "subscribers": [{"url": "https://h.example.com/" + value, "secret_env": "S", "name": "x"}],
    }
    for kind, where, message in problems(data):
        assert kind in ("url", "secret", "subscriber") and where and message
        assert "\n" not in message  # one line per field, whatever the text


def test_a_symlinked_manifest_is_refused_and_never_followed(repo: RegistryRepo, tmp_path, run_cli) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: mlgate/v1\nkind: Notifications\nsubscribers: []\n")
    since = repo.rev()
    repo.symlink(PATH, str(outside))
    repo.commit("a symlink")
    assert ("MG208", PATH) in {(f.rule, f.path) for f in validate_repo(repo.root).errors}
    code, _, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 2 and "MG208 a symlink" in err
