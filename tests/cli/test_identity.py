"""Who is acting: --as, $MLGATE_USER, git config mlgate.user, or the github forge's token user; never a login
mangled out of git's user.name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlgate.change.identity import acting_login
from mlgate.errors import UsageError
from mlgate.testing import RegistryRepo
from mlgate.testing.github import StandIn

PROMOTE = ["promote", "fraud-detector", "3", "--alias", "champion"]


def requester(repo: RegistryRepo, out: str) -> str:
    """The login the change records (its ``Mlgate-Requested-By`` trailer)."""
    commit = json.loads(out)["commit"]
    body = repo.git.git("log", "-1", "--format=%B", commit)
    return next(line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("Mlgate-Requested-By: "))


@pytest.mark.parametrize("name", ["José Müller", "李雷"])
def test_a_display_name_is_never_turned_into_a_login(repo: RegistryRepo, run_cli, name: str) -> None:
    repo.git.git("config", "user.name", name)
    code, out, err = run_cli("-C", repo.root, *PROMOTE, "--no-pr", "--json")
    assert code == 2 and out == ""
    assert err.startswith("mlgate: error: cannot tell who you are (mlgate never guesses a login from git's user.name)")
    assert "git config mlgate.user LOGIN" in err and "--as LOGIN" in err and "MLGATE_USER" in err
    assert "Jos-M-ller" not in err and repo.git.branch_sha("mlgate/promote-fraud-detector-champion-v3") is None


def test_git_config_mlgate_user_names_the_requester(repo: RegistryRepo, run_cli) -> None:
    repo.git.git("config", "user.name", "José Müller")
    repo.git.git("config", "mlgate.user", "jmuller")
    code, out, err = run_cli("-C", repo.root, *PROMOTE, "--no-pr", "--json")
    assert code == 0, err
    assert requester(repo, out) == "jmuller"


def test_as_beats_the_environment_which_beats_git_config(repo: RegistryRepo, monkeypatch) -> None:
    repo.git.git("config", "mlgate.user", "from-config")
    assert acting_login(repo.root) == "from-config"
    monkeypatch.setenv("MLGATE_USER", "from-env")
    assert acting_login(repo.root) == "from-env"
    assert acting_login(repo.root, "from-flag") == "from-flag"


@pytest.mark.parametrize(
    ("setting", "source"), [("env", "$MLGATE_USER 'José Müller'"), ("config", "git config mlgate.user 'José Müller'")]
)
def test_a_configured_name_that_is_no_login_says_where_it_came_from(
    repo: RegistryRepo, run_cli, monkeypatch, setting: str, source: str
) -> None:
    if setting == "env":
        monkeypatch.setenv("MLGATE_USER", "José Müller")
    else:
        repo.git.git("config", "mlgate.user", "José Müller")
    code, _, err = run_cli("-C", repo.root, *PROMOTE, "--no-pr")
    assert code == 2 and err.startswith(f"mlgate: error: {source} is not a login")
    assert "git config mlgate.user LOGIN" in err


def test_the_github_forge_acts_as_the_tokens_user(repo: RegistryRepo, gh: StandIn, tmp_path: Path, run_cli) -> None:
    gh.use_branches_of(repo.add_origin(tmp_path / "origin.git"))
    gh.state.token_user = "mona"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GITHUB_TOKEN", gh.state.token)
        code, out, err = run_cli("-C", repo.root, *PROMOTE, *gh.cli_options(), "--json")
    assert code == 0, err
    assert requester(repo, out) == "mona"
    assert "Mlgate-Requested-By: mona" in gh.state.pulls[1]["body"]
    assert gh.state.requests.count(("GET", "/user")) == 1  # asked once, though both identity and comments may ask


def test_an_installation_token_is_no_person(repo: RegistryRepo, gh_env: StandIn, monkeypatch, run_cli) -> None:
    gh_env.state.token_kind = "app"
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code, _, err = run_cli("-C", repo.root, *PROMOTE, *gh_env.cli_options())
    assert code == 2 and err.startswith(
        "mlgate: error: cannot tell who you are: the github token acts as the app github-actions[bot], not a person"
    )
    assert "git config mlgate.user LOGIN" in err and gh_env.state.pulls == {}


def test_in_github_actions_the_user_who_triggered_the_run_acts(
    repo: RegistryRepo, gh_env: StandIn, monkeypatch
) -> None:
    gh_env.state.token_kind = "app"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "dave")
    assert acting_login(repo.root, forge=gh_env.forge()) == "dave"
    monkeypatch.setenv("GITHUB_ACTOR", "dependabot[bot]")
    with pytest.raises(UsageError, match="not a person"):
        acting_login(repo.root, forge=gh_env.forge())


def test_the_local_forge_has_no_account_of_its_own(repo: RegistryRepo, forge) -> None:
    with pytest.raises(UsageError, match=r"^cannot tell who you are"):
        acting_login(repo.root, forge=forge)
