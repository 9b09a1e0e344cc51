"""What the forge package reads from GitHub Actions: the event, the run, the bot an installation token writes as."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.errors import UsageError
from mlgate.forge import COMMENT_MARKER, actions_context, open_forge
from mlgate.testing.github import StandIn


def _event(tmp_path: Path, payload: dict) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_PATH": str(path), "GITHUB_EVENT_NAME": "pull_request"}


def _pull(head_repo: str, base_repo: str = "acme/registry") -> dict:
    return {
        "pull_request": {
            "number": 3,
            "base": {"sha": "b" * 40, "repo": {"full_name": base_repo}},
            "head": {"sha": "a" * 40, "repo": {"full_name": head_repo}},
        }
    }


def test_a_pull_request_from_a_fork_is_told_apart(tmp_path: Path) -> None:
    ctx = actions_context(_event(tmp_path, _pull("mallory/registry")))
    assert (ctx.number, ctx.base_sha, ctx.head_sha, ctx.fork) == (3, "b" * 40, "a" * 40, True)
    assert actions_context(_event(tmp_path, _pull("ACME/registry"))).fork is False
    assert (
        actions_context(
            _event(tmp_path, {"pull_request": {"number": 3, "base": {"sha": "b"}, "head": {"sha": "a"}}})
        ).fork
        is False
    )


def test_a_long_report_points_at_this_runs_job_summary(
    gh_env: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gh_env.add_pull(5, "alice", "a" * 40)
    for k, v in {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}.items():
        monkeypatch.setenv(k, v)
    open_forge("github", tmp_path).upsert_comment(5, "x\n" * 40000, short="the failing gates")
    [comment] = gh_env.state.comments.values()
    assert comment["body"].startswith(f"{COMMENT_MARKER}\nthe failing gates\n")
    assert "[the job summary](https://github.com/acme/registry/actions/runs/42/attempts/2)" in comment["body"]


def test_the_bot_an_installation_token_writes_as_can_be_named(
    gh_env: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gh_env.add_pull(5, "alice", "a" * 40)
    gh_env.state.token_kind = "app"  # its comments are github-actions[bot]'s
    monkeypatch.setenv("MLGATE_GITHUB_APP_LOGIN", "mlgate-app[bot]")
    forge = open_forge("github", tmp_path)
    forge.upsert_comment(5, "one")
    forge.upsert_comment(5, "two")  # the earlier comment is not mlgate-app[bot]'s: not edited
    assert len(gh_env.state.comments) == 2
    monkeypatch.setenv("MLGATE_GITHUB_APP_LOGIN", "alice")
    with pytest.raises(UsageError, match="MLGATE_GITHUB_APP_LOGIN='alice' is not an app's bot login"):
        open_forge("github", tmp_path)
