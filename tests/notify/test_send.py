"""mlgate notify against a real receiver on 127.0.0.1, on real git repositories: signed CloudEvents oldest
first, retries (500, then 429 with Retry-After), final refusals, a hung receiver, filters, stable ids, missing
secrets, the range of commits (zeros, unknown, rewritten history) and approvers from the local forge."""

from __future__ import annotations

import json

import pytest

from mlgate.notify import RetryPolicy, event_ids, notify
from mlgate.testing import RegistryRepo
from mlgate.testing.forge import local_forge, merge_approved
from tests.notify.conftest import CHALLENGER, CHAMPION, Receiver, promote, subscribe

FAST = RetryPolicy(attempts=4, backoff=0, max_delay=0, timeout=5)


def test_events_after_the_commit_arrive_signed_oldest_first(
    repo: RegistryRepo, receiver: Receiver, secret_env: str
) -> None:
    since = subscribe(repo, {"url": receiver.url("/strict"), "secret_env": secret_env})
    first = promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    second = promote(repo, CHALLENGER, 1, "Point search-ranker challenger at v1")
    result = notify(repo.root, since=since, ref="main", policy=FAST, source="https://github.com/acme/registry")
    assert result.ok and [s.count("delivered") for s in result.subscribers] == [2]
    got = receiver.at("/strict")
    assert [r.signed for r in got] == [True, True]  # the receiver checked HMAC-SHA256 of the exact bytes
    assert {r.headers["Content-Type"] for r in got} == {"application/cloudevents+json; charset=utf-8"}
    docs = [r.json() for r in got]
    assert [d["subject"] for d in docs] == ["models:/fraud-detector@champion", "models:/search-ranker@challenger"]
    assert [d["data"]["commit"] for d in docs] == [first, second]
    first_doc = docs[0]
    assert {k: first_doc[k] for k in ("specversion", "type", "source", "datacontenttype")} == {
        "specversion": "1.0",
        "type": "dev.mlgate.promotion",
        "source": "https://github.com/acme/registry",
        "datacontenttype": "application/json",
    }
    assert (first_doc["data"]["from"], first_doc["data"]["to"], first_doc["data"]["author"]) == (2, 3, "Test Author")
    assert first_doc["time"].endswith("Z") or first_doc["time"].endswith("+00:00")
    assert [d["id"] for d in docs] == event_ids(result.events) == [r.headers["X-Mlgate-Event-Id"] for r in got]


def test_retries_a_500_then_honours_retry_after_of_a_429(
    repo: RegistryRepo, receiver: Receiver, secret_env: str
) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    receiver.answer("/hook", (500, {}), (429, {"Retry-After": "7"}))
    waits: list[float] = []
    policy = RetryPolicy(attempts=5, backoff=0.25, max_delay=60, timeout=5)
    result = notify(repo.root, since=since, policy=policy, sleep=waits.append)
    delivery = result.subscribers[0].deliveries[0]
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("delivered", 3, 200)
    assert waits == [0.25, 7.0]  # the backoff base after the 500, then what the 429 asked for
    bodies = {r.body for r in receiver.at("/hook")}
    assert len(receiver.at("/hook")) == 3 and len(bodies) == 1  # the same document (and id) each time


def test_retry_after_is_capped_and_the_backoff_doubles(repo: RegistryRepo, receiver: Receiver, secret_env: str) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    receiver.answer("/hook", (503, {}), (502, {}), (429, {"Retry-After": "86400"}), (500, {}))
    waits: list[float] = []
    policy = RetryPolicy(attempts=4, backoff=1, max_delay=30, timeout=5)
    result = notify(repo.root, since=since, policy=policy, sleep=waits.append)
    delivery = result.subscribers[0].deliveries[0]
    assert waits == [1, 2, 30]  # doubling from the base; a day's Retry-After capped at --max-delay
    assert (delivery.status, delivery.attempts, delivery.error) == ("failed", 4, "HTTP 500")
    assert not result.ok


def test_a_4xx_is_final_and_later_events_wait_for_the_next_run(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, run_cli
) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    promote(repo, CHALLENGER, 1, "Point search-ranker challenger at v1")
    receiver.answer("/hook", (404, {}))
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since, "--backoff", "0")
    assert code == 1, err
    assert len(receiver.at("/hook")) == 1  # never retried, and the next event is not sent out of order
    assert "0 delivered, 1 failed, 1 skipped" in out
    assert "failed: dev.mlgate.promotion models:/fraud-detector@champion" in out and "after 1 attempt: HTTP 404" in out
    # the next run sends both again, with the same ids: the receiver drops what it already has
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since, "--backoff", "0", "--format", "json")
    assert code == 0
    ids = [d["id"] for d in json.loads(out)["subscribers"][0]["deliveries"]]
    assert receiver.at("/hook")[0].json()["id"] == ids[0] and len(set(ids)) == 2


def test_a_receiver_that_never_answers_times_out(
    repo: RegistryRepo, silent_port: int, secret_env: str, run_cli
) -> None:
    since = subscribe(repo, {"url": f"http://127.0.0.1:{silent_port}/hook", "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    args = ("-C", repo.root, "notify", "--since", since, "--timeout", "0.2", "--attempts", "2", "--backoff", "0")
    code, out, _ = run_cli(*args)
    assert code == 1
    assert "after 2 attempts: no answer within 0.2 s" in out


def test_a_connection_refused_is_retried_then_fails(repo: RegistryRepo, secret_env: str, run_cli) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on (bound, then released)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    since = subscribe(repo, {"url": f"http://127.0.0.1:{port}/hook", "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since, "--attempts", "3", "--backoff", "0")
    assert code == 1 and "after 3 attempts: cannot connect" in out


def test_the_backoff_base_comes_from_the_environment(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    receiver.answer("/hook", (500, {}), (500, {}))
    monkeypatch.setenv("MLGATE_NOTIFY_BACKOFF", "0")  # without it the two retries would wait 1 s and 2 s
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 0 and "1 delivered, 0 failed" in out and len(receiver.at("/hook")) == 3
    monkeypatch.setenv("MLGATE_NOTIFY_BACKOFF", "soon")
    code, _, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 2 and "$MLGATE_NOTIFY_BACKOFF is 'soon': expected a number of seconds" in err


def test_filters_by_kind_model_and_alias(repo: RegistryRepo, receiver: Receiver, secret_env: str) -> None:
    since = subscribe(
        repo,
        {"url": receiver.url("/kinds"), "secret_env": secret_env, "kinds": ["registration"]},
        {"url": receiver.url("/models"), "secret_env": secret_env, "models": ["search-ranker"]},
        {"url": receiver.url("/aliases"), "secret_env": secret_env, "aliases": ["champion"]},
        {"url": receiver.url("/all"), "secret_env": secret_env},
    )
    repo.add_version("fraud-detector", 4, like=3)
    repo.commit("Register fraud-detector v4")
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    promote(repo, CHALLENGER, 1, "Point search-ranker challenger at v1")
    result = notify(repo.root, since=since, policy=FAST)

    def subjects(path: str) -> list[str]:
        return [r.json()["subject"] for r in receiver.at(path)]

    assert subjects("/kinds") == ["models:/fraud-detector/4"]
    assert subjects("/models") == ["models:/search-ranker@challenger"]
    assert subjects("/aliases") == ["models:/fraud-detector@champion"]
    assert subjects("/all") == [
        "models:/fraud-detector/4",
        "models:/fraud-detector@champion",
        "models:/search-ranker@challenger",
    ]
    assert [(s.count("delivered"), s.filtered) for s in result.subscribers] == [(1, 2), (1, 2), (1, 2), (3, 0)]


def test_ids_are_the_same_on_every_run_and_in_every_clone(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, tmp_path
) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    promote(repo, CHAMPION, 2, "Back to v2")
    notify(repo.root, since=since, policy=FAST)
    notify(repo.root, since=since, policy=FAST)
    clone = RegistryRepo.clone(repo.root, tmp_path / "clone")
    notify(clone.root, since=since, policy=FAST)
    ids = [r.json()["id"] for r in receiver.at("/hook")]
    assert len(ids) == 6 and ids[:2] == ids[2:4] == ids[4:] and ids[0] != ids[1]
    assert [r.json()["type"] for r in receiver.at("/hook")][:2] == ["dev.mlgate.promotion", "dev.mlgate.rollback"]


def test_a_missing_secret_fails_that_subscriber_only(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, run_cli
) -> None:
    since = subscribe(
        repo,
        {"name": "audit-store", "url": receiver.url("/a"), "secret_env": "AUDIT_SECRET_NOT_SET"},
        {"url": receiver.url("/b"), "secret_env": secret_env},
    )
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since, "--backoff", "0")
    assert code == 1, err
    assert receiver.at("/a") == [] and len(receiver.at("/b")) == 1
    assert "audit-store (cloudevents): 0 delivered, 0 failed, 1 skipped" in out
    assert "error: the environment variable AUDIT_SECRET_NOT_SET (secret_env) is not set or empty" in out


def test_a_url_kept_in_the_environment_is_never_printed(
    repo: RegistryRepo, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    since = subscribe(repo, {"url_env": "SLACK_WEBHOOK_URL", "format": "slack"})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", receiver.url("/services/T0/B0/xyz"))
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since, "--backoff", "0", "--format", "json")
    assert code == 0 and "/services/" not in out + err
    assert json.loads(out)["subscribers"][0]["subscriber"] == "$SLACK_WEBHOOK_URL"
    assert (
        receiver.at("/services/T0/B0/xyz")[0].json()["text"].startswith("*promotion* models:/fraud-detector@champion")
    )
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "http://hooks.example.com/x")  # plain http off this machine
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 1 and "the URL in SLACK_WEBHOOK_URL must use https://" in out


def test_dry_run_sends_nothing_and_needs_no_secret(repo: RegistryRepo, receiver: Receiver, run_cli) -> None:
    since = subscribe(repo, {"url": receiver.url(), "secret_env": "NOT_SET_IN_A_DRY_RUN", "kinds": ["promotion"]})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since, "--dry-run")
    assert code == 0 and receiver.received == []
    assert "1 to send, 0 not subscribed" in out
    assert "would send dev.mlgate.promotion models:/fraud-detector@champion (commit" in out


def test_since_all_zeros_sends_nothing(repo: RegistryRepo, receiver: Receiver, secret_env: str, run_cli) -> None:
    subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, err = run_cli("-C", repo.root, "notify", "--since", "0" * 40)
    assert code == 0 and receiver.received == []
    assert "names no commit (a push that created the branch): nothing sent" in err


def test_since_unknown_or_not_an_ancestor_is_refused(repo: RegistryRepo, secret_env: str, run_cli) -> None:
    subscribe(repo, {"url": "https://hooks.example.com/mlgate", "secret_env": secret_env})
    code, _, err = run_cli("-C", repo.root, "notify", "--since", "f" * 40)
    assert code == 2 and "is not a commit of this repository" in err
    repo.branch("rewritten", "main")
    gone = promote(repo, CHAMPION, 3, "A commit a force push dropped")
    repo.switch("main")
    code, _, err = run_cli("-C", repo.root, "notify", "--since", gone)
    assert code == 2 and "is not an ancestor of 'main'" in err and "git merge-base" in err
    code, _, err = run_cli("-C", repo.root, "notify", "--since", "--help")
    assert code == 2
    code, _, err = run_cli("-C", repo.root, "notify", "--since", "HEAD", "--source", "not a\nuri")
    assert code == 2 and "is not a URI" in err
    code, _, err = run_cli("-C", repo.root, "notify", "--since", "HEAD", "--ref", "no-such-branch")
    assert code == 2 and "unknown git ref 'no-such-branch'" in err


def test_no_notifications_file_sends_nothing(repo: RegistryRepo, run_cli) -> None:
    since = repo.rev()
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, err = run_cli("-C", repo.root, "notify", "--since", since)
    assert code == 0 and "registry/notifications.yaml does not exist on main" in err


def test_the_manifest_on_the_ref_decides_not_the_working_tree(
    repo: RegistryRepo, receiver: Receiver, secret_env: str
) -> None:
    since = subscribe(repo, {"url": receiver.url("/committed"), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    repo.write(
        "registry/notifications.yaml",
        {"apiVersion": "mlgate/v1", "kind": "Notifications", "subscribers": [{"url": receiver.url("/local-edit")}]},
    )
    notify(repo.root, since=since, policy=FAST)
    assert len(receiver.at("/committed")) == 1 and receiver.at("/local-edit") == []


def test_events_name_their_pull_request_and_approvers_with_a_forge(
    repo: RegistryRepo, receiver: Receiver, secret_env: str
) -> None:
    from mlgate.change.propose import promote as propose_promotion

    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    forge = local_forge(repo.root)
    proposal = propose_promotion(repo.root, "fraud-detector", 3, "champion", author="alice", forge=forge)
    merge_approved(repo.root, forge, proposal.pr.number, "dave", "carol")
    result = notify(repo.root, since=since, policy=FAST, forge=forge)
    assert result.ok
    data = receiver.at("/hook")[0].json()["data"]
    assert data["pr"] == proposal.pr.number and data["author"] == "alice"
    assert sorted(a["login"] for a in data["approvers"]) == ["carol", "dave"]


def test_the_workflow_step_names_approvers_from_github(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, gh_env, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    """`mlgate notify --since "$BEFORE" --ref main --forge github --format json` (the help's example, publish.yml's
    step) against the GitHub stand-in: the pull request's author, merger and counted approvers reach the receiver."""
    subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    for number, version in ((9, 1), (10, 2), (11, 1)):  # earlier pull requests: history the push did not make
        repo.branch(f"pr-{number}")
        promote(repo, CHALLENGER, version, f"Point search-ranker challenger at v{version}")
        sha = repo.merge(f"pr-{number}", message=f"Merge pull request #{number} from acme/pr-{number}\n\nx")
        gh_env.add_pull(number, "bob", "b" * 40)
        gh_env.merge(number, sha, "carol")
    before = repo.rev()
    repo.branch("promote-v3")
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion", author="alice <alice@acme.test>")
    merged = repo.merge("promote-v3", message="Merge pull request #12 from acme/promote-v3\n\nPromote v3")
    gh_env.collaborators("dave", "carol", "alice")
    gh_env.state.teams["acme/ml-leads"] = {"dave"}
    gh_env.add_pull(12, "alice", "a" * 40)
    gh_env.review(12, "dave", "APPROVED")
    gh_env.merge(12, merged, "carol")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("BEFORE", before)
    args = ("--since", before, "--ref", "main", "--forge", "github", "--format", "json", "--backoff", "0")
    code, out, err = run_cli("-C", repo.root, "notify", *args)
    assert code == 0, err
    assert json.loads(out)["subscribers"][0]["delivered"] == 1
    doc = receiver.at("/hook")[0].json()
    assert doc["source"] == f"https://github.com/{gh_env.full_name}"
    data = doc["data"]
    assert (data["pr"], data["author"], data["merger"]) == (12, "alice", "carol")
    assert [a["login"] for a in data["approvers"]] == ["dave"]
    # the GitHub API budget follows the push, not the history: only #12 was asked about
    asked = {path for _, path in gh_env.state.requests if "/pulls/" in path}
    assert asked and all("/pulls/12" in path for path in asked), asked


def test_a_rebase_merge_in_the_range_still_names_its_pull_request(
    repo: RegistryRepo, receiver: Receiver, secret_env: str
) -> None:
    """A rebase merge leaves a subject naming no pull request: the forge is asked which one merged it, and then
    about that pull request, although the first reading of the range knew no number to allow."""
    from mlgate.forge.local import LocalForge

    since = subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    forge = LocalForge(repo.root)
    repo.branch("feature", "main")
    tip = promote(repo, "registry/models/fraud-detector/aliases/challenger.yaml", 1, "Challenger v1", "bob <b@x>")
    forge.open_pull_request(
        title="Promote fraud-detector v1 to challenger", body="", head="feature", base="main", labels=[], author="bob"
    )
    forge.review(1, "dave", "APPROVED")
    repo.switch("main")
    repo.git.git("merge", "--ff-only", "feature")
    forge.mark_merged(1, tip, "erin", tip)
    assert notify(repo.root, since=since, policy=FAST, forge=forge).ok
    data = receiver.at("/hook")[0].json()["data"]
    assert (data["pr"], data["author"], data["merger"], data["approvers"][0]["login"]) == (1, "bob", "erin", "dave")


def test_a_receiver_with_another_secret_refuses_and_nothing_is_retried(
    repo: RegistryRepo, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "not-the-receivers-secret")
    since = subscribe(repo, {"url": receiver.url("/strict"), "secret_env": "HOOK_SECRET"})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    code, out, _ = run_cli("-C", repo.root, "notify", "--since", since, "--backoff", "0")
    assert code == 1 and "after 1 attempt: HTTP 401" in out
    assert [r.signed for r in receiver.at("/strict")] == [False]
