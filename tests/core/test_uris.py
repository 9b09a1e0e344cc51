"""What a user types where a model, an alias or a version is meant: every spelling parses to one target, the
canonical spelling reads back to the same target, and nothing typed raises anything but a UsageError."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core import layout
from mlgate.core.uris import Target, did_you_mean, parse_target, unknown, with_alias
from mlgate.errors import UsageError

FAST = settings(max_examples=400, deadline=None, database=None)

names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True).filter(layout.is_name)
versions = st.integers(min_value=1, max_value=999_999_999)
targets = st.one_of(
    st.builds(Target, names),
    st.builds(lambda m, a: Target(m, alias=a), names, names),
    st.builds(lambda m, v: Target(m, version=v), names, versions),
)


@pytest.mark.parametrize(
    ("text", "then", "expected"),
    [
        ("fraud-detector", None, Target("fraud-detector")),
        ("fraud-detector@champion", None, Target("fraud-detector", alias="champion")),
        ("fraud-detector/3", None, Target("fraud-detector", version=3)),
        ("models:/fraud-detector@champion", None, Target("fraud-detector", alias="champion")),
        ("models:/fraud-detector/3", None, Target("fraud-detector", version=3)),
        ("models:/fraud-detector/Production", None, Target("fraud-detector", alias="production")),
        ("fraud-detector/Staging", None, Target("fraud-detector", alias="staging")),
        ("fraud-detector", "3", Target("fraud-detector", version=3)),
        ("fraud-detector", "champion", Target("fraud-detector", alias="champion")),
        ("fraud-detector", "@champion", Target("fraud-detector", alias="champion")),
        ("fraud-detector", "Production", Target("fraud-detector", alias="production")),
    ],
)
def test_every_spelling_names_the_same_thing(text: str, then: str | None, expected: Target) -> None:
    assert parse_target(text, then=then) == expected


@pytest.mark.parametrize(
    ("text", "want", "then", "message"),
    [
        (
            "fraud-detector",
            ("alias", "version"),
            None,
            "'fraud-detector' names a model: expected MODEL@ALIAS or MODEL/VERSION",
        ),
        ("fraud-detector/3", ("alias",), None, "'fraud-detector/3' names a version: expected MODEL@ALIAS"),
        ("Fraud", ("model",), None, "'Fraud' is not a valid model name: use lowercase letters"),
        ("fraud/x", ("version",), None, "'fraud/x': 'x' is neither a version number nor a stage (Production, Staging)"),
        ("fraud/007", ("version",), None, "'fraud/007': '007' is not a version number"),
        ("fraud@", ("alias",), None, "'fraud@': '' is not a valid alias name"),
        ("fraud@champion\n", ("alias",), None, "'fraud@champion\\n': 'champion\\n' is not a valid alias name"),
        ("fraud", ("alias",), "champion ", "'champion ' is not a valid alias name"),
        ("@champion", ("alias",), None, "'@champion' names no model: expected MODEL@ALIAS"),
        ("fraud/3", ("version",), "4", "'fraud/3' already names a version: drop the extra argument '4'"),
        ("models:/fraud", ("version",), None, "is not a model URI"),
    ],
)
def test_what_is_wrong_is_said_in_one_line(text: str, want: tuple[str, ...], then: str | None, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_target(text, want=want, then=then)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@FAST
@given(targets)
def test_the_canonical_spelling_reads_back(target: Target) -> None:
    assert parse_target(str(target)) == target


@FAST
@given(targets.filter(lambda t: t.form != "model"))
def test_the_uri_spelling_reads_back(target: Target) -> None:
    assert parse_target(str(target.ref)) == target


@FAST
@given(
    st.lists(st.sampled_from(list(string.printable) + ["é", "\x00", "\u202e", "models:/", "fraud", "@", "/", "3"])).map(
        "".join
    )
    | st.text()
)
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    for want in (("model", "alias", "version"), ("alias",), ("version", "alias")):
        try:
            target = parse_target(text, want=want)
        except UsageError as e:
            assert str(e) and "\n" not in str(e).replace("\\n", "")
        else:
            assert target.form in want
            assert parse_target(str(target)) == target


def test_an_alias_given_apart_must_agree() -> None:
    assert with_alias("fraud-detector", "champion") == Target("fraud-detector", alias="champion")
    assert with_alias("fraud-detector@champion", None) == Target("fraud-detector", alias="champion")
    assert with_alias("fraud-detector", None, required=False) == Target("fraud-detector")
    with pytest.raises(UsageError, match="names the alias 'champion' but --alias says 'shadow'"):
        with_alias("fraud-detector@champion", "shadow")
    with pytest.raises(UsageError, match="names no alias: write MODEL@ALIAS or pass --alias ALIAS"):
        with_alias("fraud-detector", None)


def test_one_message_for_a_name_that_is_not_there() -> None:
    assert did_you_mean("champoin", ["challenger", "champion"]) == "; did you mean 'champion'?"
    assert did_you_mean("zzz", ["champion"]) == ""
    assert unknown("alias", "champoin", ["challenger", "champion"], where="of model 'm'") == (
        "no alias 'champoin' of model 'm'; did you mean 'champion'? (aliases: challenger, champion)"
    )
    assert unknown("version", 9, [1, 2], where="of model 'm'") == "no version 9 of model 'm' (versions: 1, 2)"
    assert unknown("model", "x", [], where="in main") == "no model 'x' in main (models: none)"
