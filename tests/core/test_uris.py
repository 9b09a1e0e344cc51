"""What a user types where a model, an alias or a version is meant: every spelling parses to one target, the
canonical spelling reads back to the same target, and nothing typed raises anything but a UsageError."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.core import layout
from mlgate.core.uris import (
    MLFLOW_STAGES,
    ModelRef,
    Target,
    did_you_mean,
    parse_target,
    parse_uri,
    unknown,
    with_alias,
)
from mlgate.errors import UsageError

FAST = settings(max_examples=400, deadline=None, database=None)

names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True).filter(layout.is_name)
versions = st.integers(min_value=1, max_value=999_999_999)
targets = st.one_of(
    st.builds(Target, names),
    st.builds(lambda m, a: Target(m, alias=a), names, names.filter(lambda a: layout.reserved_alias(a) is None)),
    st.builds(lambda m, v: Target(m, version=v), names, versions),
    st.builds(lambda m, s: Target(m, stage=s), names, st.sampled_from(MLFLOW_STAGES)),
    st.builds(lambda m: Target(m, latest=True), names),
)


@pytest.mark.parametrize(
    ("text", "then", "expected"),
    [
        ("fraud-detector", None, Target("fraud-detector")),
        ("fraud-detector@champion", None, Target("fraud-detector", alias="champion")),
        ("fraud-detector/3", None, Target("fraud-detector", version=3)),
        ("models:/fraud-detector@champion", None, Target("fraud-detector", alias="champion")),
        ("models:/fraud-detector/3", None, Target("fraud-detector", version=3)),
        ("models:/fraud-detector/Production", None, Target("fraud-detector", stage="Production")),
        ("fraud-detector/Staging", None, Target("fraud-detector", stage="Staging")),
        ("fraud-detector/staging", None, Target("fraud-detector", stage="Staging")),
        ("fraud-detector/latest", None, Target("fraud-detector", latest=True)),
        ("fraud-detector@Latest", None, Target("fraud-detector", latest=True)),
        ("fraud-detector@Champion", None, Target("fraud-detector", alias="champion")),
        ("fraud-detector", "latest", Target("fraud-detector", latest=True)),
        ("fraud-detector", "archived", Target("fraud-detector", stage="Archived")),
        ("fraud-detector", "3", Target("fraud-detector", version=3)),
        ("fraud-detector", "champion", Target("fraud-detector", alias="champion")),
        ("fraud-detector", "@champion", Target("fraud-detector", alias="champion")),
        ("fraud-detector", "Production", Target("fraud-detector", stage="Production")),
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
        ("fraud/x", ("version",), None, "'fraud/x': 'x' is not a version number, 'latest' or a stage (stages: None,"),
        ("fraud@v3", ("alias",), None, "'fraud@v3': 'v3' is reserved"),
        ("fraud@latest", ("alias",), None, "'fraud@latest' names the newest version: expected MODEL@ALIAS"),
        ("fraud/Production", ("alias",), None, "'fraud/Production' names a stage: expected MODEL@ALIAS"),
        ("models:/fraud/3/model.pkl", ("version",), None, "names a path inside an artifact"),
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


# MLflow's own models:/ URI cases (mlflow/store/artifact/utils/models.py ``_parse_model_uri`` and
# ModelsArtifactRepository.split_models_uri in MLflow 3) and what each names here. MLflow's model names are
# case-sensitive and mlgate's are lowercase, so a capitalised model name is an error rather than another model.
MLFLOW_URI_CASES = [
    ("models:/fraud/1", ModelRef("fraud", version=1)),
    ("models:/fraud/123", ModelRef("fraud", version=123)),
    ("models:/fraud/007", ModelRef("fraud", version=7)),  # MLflow: suffix.isdigit() -> a version
    ("models:/fraud/latest", ModelRef("fraud", latest=True)),
    ("models:/fraud/LATEST", ModelRef("fraud", latest=True)),  # 'latest' is case-insensitive
    ("models:/fraud@latest", ModelRef("fraud", latest=True)),  # the reserved alias means the newest version
    ("models:/fraud@Latest", ModelRef("fraud", latest=True)),
    ("models:/fraud/Production", ModelRef("fraud", stage="Production")),
    ("models:/fraud/production", ModelRef("fraud", stage="Production")),  # stages are case-insensitive
    ("models:/fraud/STAGING", ModelRef("fraud", stage="Staging")),
    ("models:/fraud/Archived", ModelRef("fraud", stage="Archived")),
    ("models:/fraud/None", ModelRef("fraud", stage="None")),
    ("models:/fraud@champion", ModelRef("fraud", alias="champion")),
    ("models:/fraud@Champion", ModelRef("fraud", alias="champion")),  # aliases are lowercase here
    ("models:/fraud/1/", ModelRef("fraud", version=1)),  # split_models_uri strips a trailing '/'
    ("models:/fraud/1/model.pkl", ModelRef("fraud", version=1, path="model.pkl")),
    ("models:/fraud/1/sub/dir", ModelRef("fraud", version=1, path="sub/dir")),
    ("models:/fraud@champion/MLmodel", ModelRef("fraud", alias="champion", path="MLmodel")),
    ("models:/fraud/Production/data/model.pkl", ModelRef("fraud", stage="Production", path="data/model.pkl")),
    ("models:/fraud/latest/MLmodel", ModelRef("fraud", latest=True, path="MLmodel")),
    ("models:/fraud", "models:/ID names an MLflow logged model"),  # MLflow 3: a logged model's id
    ("models:/", "is not a model URI"),
    ("models:/fraud/", "is not a model URI"),
    ("models:/@champion", "is not a model URI"),
    ("models:/fraud@", "is not a model URI"),
    ("models:/fraud@v3", "'v3' is reserved"),  # MLflow reserves v<N> alias names
    ("models:/fraud@V12", "'v12' is reserved"),
    ("models:/fraud/Prod", "'Prod' is not a version number, 'latest' or a stage"),
    ("models:/fraud/1/../../etc/passwd", "must be relative segments"),
    ("models:/fraud/1/a//b", "must be relative segments"),
    ("models://profile@databricks/fraud/1", "is not a model URI"),
    ("runs:/abc/model", "is not a model URI"),
    ("models:/Fraud/1", "'Fraud' is not a valid model name"),
]


@pytest.mark.parametrize(("uri", "expected"), MLFLOW_URI_CASES, ids=[c[0] for c in MLFLOW_URI_CASES])
def test_mlflow_uri_cases(uri: str, expected: ModelRef | str) -> None:
    if isinstance(expected, ModelRef):
        assert parse_uri(uri) == expected
        assert parse_uri(str(parse_uri(uri))) == expected  # the canonical spelling reads back
    else:
        with pytest.raises(UsageError, match=re.escape(expected)):
            parse_uri(uri)


@FAST
@given(st.text() | st.from_regex(r"models:/[a-zA-Z0-9@/._-]{0,30}", fullmatch=True))
def test_any_uri_parses_or_is_a_usage_error(uri: str) -> None:
    try:
        ref = parse_uri(uri)
    except UsageError as e:
        assert "\n" not in str(e).replace("\\n", "")
    else:
        assert parse_uri(str(ref)) == ref
        assert ".." not in ref.path.split("/")


def test_an_alias_given_apart_must_agree() -> None:
    assert with_alias("fraud-detector", "champion") == Target("fraud-detector", alias="champion")
    assert with_alias("fraud-detector@champion", None) == Target("fraud-detector", alias="champion")
    assert with_alias("fraud-detector", None, required=False) == Target("fraud-detector")
    with pytest.raises(UsageError, match="names the alias 'champion' but --alias says 'shadow'"):
        with_alias("fraud-detector@champion", "shadow")
    with pytest.raises(UsageError, match="names no alias: write MODEL@ALIAS or pass --alias ALIAS"):
        with_alias("fraud-detector", None)
    for alias in ("latest", "LATEST", "v2"):
        with pytest.raises(UsageError, match=f"--alias '{alias}' is not a valid alias name: .* reserved"):
            with_alias("fraud-detector", alias)
    with pytest.raises(UsageError, match="'fraud-detector@v2': 'v2' is not a valid alias name: 'v2' is reserved"):
        with_alias("fraud-detector@v2", None)
    # a write names a file: no case folding there (a read of an MLflow URI folds: see test_mlflow_uri_cases)
    for text, alias in (("fraud-detector@Champion", None), ("fraud-detector", "Champion")):
        with pytest.raises(UsageError, match="'Champion' is not a valid alias name"):
            with_alias(text, alias)


def test_one_message_for_a_name_that_is_not_there() -> None:
    assert did_you_mean("champoin", ["challenger", "champion"]) == "; did you mean 'champion'?"
    assert did_you_mean("zzz", ["champion"]) == ""
    assert unknown("alias", "champoin", ["challenger", "champion"], where="of model 'm'") == (
        "no alias 'champoin' of model 'm'; did you mean 'champion'? (aliases: challenger, champion)"
    )
    assert unknown("version", 9, [1, 2], where="of model 'm'") == "no version 9 of model 'm' (versions: 1, 2)"
    assert unknown("model", "x", [], where="in main") == "no model 'x' in main (models: none)"


def _outcome(parse, uri: str) -> object:
    try:
        return parse(uri)
    except UsageError as e:
        return ("UsageError", str(e))


_URI_PIECES = st.lists(
    st.sampled_from(
        [
            "models:/",
            "fraud",
            "-",
            ".",
            "..",
            "_",
            "@",
            "/",
            "champion",
            "Champion",
            "latest",
            "v3",
            "3",
            "x",
            " ",
            "\t",
            "\x1f",
            "é",
            "9",
            "lock",
            ".lock",
            "Production",
            "a" * 64,
            "/data",
        ]
    ),
    max_size=8,
).map("".join)


@given(uri=st.one_of(_URI_PIECES, st.text(max_size=40), st.text(max_size=20).map(lambda t: "models:/" + t)))
@settings(max_examples=3000)
def test_the_plain_alias_fast_path_answers_as_the_general_rules(uri: str) -> None:
    from mlgate.core import uris

    assert _outcome(uris.parse_uri, uri) == _outcome(uris._parse_uri, uri)
    assert _outcome(uris.parse_uri, "models:/" + uri) == _outcome(uris._parse_uri, "models:/" + uri)
