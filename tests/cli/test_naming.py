"""One way to name things on the command line: every read command (and promote and rollback) takes MODEL,
MODEL@ALIAS, MODEL/VERSION and models:/ URIs; a misspelled name exits 2 with a did-you-mean."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.testing import RegistryRepo


def one_line(err: str) -> str:
    assert err.startswith("mlgate: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "spelling",
    [
        ["fraud-detector@champion"],
        ["fraud-detector/2"],
        ["models:/fraud-detector/2"],
        ["models:/fraud-detector@champion"],
        ["fraud-detector", "2"],
        ["fraud-detector", "champion"],
    ],
)
def test_show_takes_every_spelling_of_a_version(repo: RegistryRepo, run_cli, spelling: list[str]) -> None:
    code, out, _ = run_cli("-C", repo.root, "show", *spelling, "--json")
    assert code == 0
    view = json.loads(out)
    assert (view["model"], view["version"], view["aliases"]) == ("fraud-detector", 2, ["champion"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "fraud-detecter"], "no model 'fraud-detecter' in working tree; did you mean 'fraud-detector'?"),
        (["show", "fraud-detector@champoin"], "did you mean 'champion'? (aliases: challenger, champion)"),
        (["show", "fraud-detector/7"], "no version 7 of model 'fraud-detector' in working tree (versions: 1, 2, 3)"),
        (["resolve", "fraud-detector@champoin"], "did you mean 'champion'?"),
        (["gate", "fraud-detectr/3", "--alias", "champion"], "did you mean 'fraud-detector'?"),
        (["verify", "churn-predicter@shadow"], "did you mean 'churn-predictor'?"),
        (["whois", "fraud-detector", "--at", "main"], "'fraud-detector' names a model: expected MODEL@ALIAS"),
        (["history", "fraud-detector/2"], "'fraud-detector/2' names a version: expected MODEL or MODEL@ALIAS"),
        (["history", "fraud-detector@champion", "--alias", "shadow"], "--alias says 'shadow': give one"),
        (["compare", "fraud-detector", "2", "8"], "no version 8 of model 'fraud-detector'"),
    ],
)
def test_a_name_that_is_not_there_exits_2_with_what_is(repo: RegistryRepo, run_cli, args, message: str) -> None:
    code, out, err = run_cli("-C", repo.root, *args)
    assert code == 2 and out == ""
    assert message in one_line(err)


def test_resolve_takes_a_bare_alias_or_version(repo: RegistryRepo, run_cli) -> None:
    outputs = {
        spelling: run_cli("-C", repo.root, "resolve", spelling, "--json")
        for spelling in ("fraud-detector@champion", "models:/fraud-detector@champion")
    }
    assert {code for code, _, _ in outputs.values()} == {0}
    views = [json.loads(out) for _, out, _ in outputs.values()]
    assert views[0] == views[1] and views[0]["version"] == 2
    code, out, _ = run_cli("-C", repo.root, "resolve", "fraud-detector/3")
    assert code == 0 and out.startswith("models:/fraud-detector/3 -> version 3\n")


def test_gate_takes_a_version_or_the_alias_that_holds_it(repo: RegistryRepo, run_cli) -> None:
    runs = [
        run_cli("-C", repo.root, "gate", *spelling, "--alias", "champion", "--format", "json")
        for spelling in (["fraud-detector", "3"], ["fraud-detector/3"], ["fraud-detector@challenger"])
    ]
    assert len({out for _, out, _ in runs}) == 1
    assert json.loads(runs[0][1])["to"] == 3


def test_history_of_an_alias_written_either_way(repo: RegistryRepo, run_cli) -> None:
    code, joined, _ = run_cli("-C", repo.root, "history", "fraud-detector@champion", "--format", "json")
    assert code == 0
    assert joined == run_cli("-C", repo.root, "history", "fraud-detector", "--alias", "champion", "--format", "json")[1]
    assert {e["alias"] for e in json.loads(joined)["events"]} == {"champion"}


def test_whois_takes_a_model_uri(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli("-C", repo.root, "whois", "models:/fraud-detector@champion", "--at", "main", "--json")
    assert code == 0 and json.loads(out)["version"] == 2


def test_verify_checks_the_name_before_streaming_anything(repo: RegistryRepo, run_cli) -> None:
    code, out, err = run_cli("-C", repo.root, "verify", "models:/fraud-detector/9")
    assert code == 2 and out == "" and "(versions: 1, 2, 3)" in one_line(err)


def test_promote_names_the_version_or_the_alias_holding_it(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli(
        "-C", repo.root, "promote", "fraud-detector@challenger", "--alias", "champion", "--as", "alice", "--no-pr"
    )
    assert code == 0 and "Promote fraud-detector v3 to champion" in out
    shown = repo.git.git(
        "show", "mlgate/promote-fraud-detector-champion-v3:registry/models/fraud-detector/aliases/champion.yaml"
    )
    assert "version: 3" in shown
    code, out, _ = run_cli(
        "-C", repo.root, "promote", "churn-predictor/3", "--alias", "challenger", "--as", "erik", "--no-pr"
    )
    assert code == 0 and "Promote churn-predictor v3 to challenger" in out
    code, _, err = run_cli("-C", repo.root, "promote", "fraud-detector", "--alias", "champion", "--as", "alice")
    assert code == 2 and "'fraud-detector' names a model: expected MODEL@ALIAS or MODEL/VERSION" in one_line(err)


def test_rollback_takes_model_at_alias(repo: RegistryRepo, run_cli) -> None:
    code, out, _ = run_cli(
        "-C", repo.root, "rollback", "fraud-detector@champion", "--to", "1", "--as", "oncall", "--no-pr"
    )
    # v1 never held champion: judged as a promotion, whose no-regression gate refuses it (exit 1)
    assert code == 1 and "fraud-detector@champion: 2 -> 1 (promotion)" in out
    code, _, err = run_cli("-C", repo.root, "rollback", "fraud-detector", "--as", "oncall", "--no-pr")
    assert code == 2 and "names no alias: write MODEL@ALIAS or pass --alias ALIAS" in one_line(err)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=40).filter(lambda t: not t.startswith("-")))
def test_any_text_typed_as_a_name_is_an_answer_or_a_one_line_error(repo: RegistryRepo, run_cli, text: str) -> None:
    for command in ("show", "resolve"):
        code, out, err = run_cli("-C", repo.root, command, text, "--json")
        assert code in (0, 2)
        if code == 2:
            assert out == "" and one_line(err)
