"""Names of models and aliases: every name the layout accepts is a valid git branch name and path segment."""

from __future__ import annotations

import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.core import layout
from mlgate.infra import schemas
from mlgate.infra.resources import schemas_dir

#: the characters a name may hold, with '.' and the letters of "lock" often enough to meet '..' and '.lock'
names = st.text(alphabet="lock.a0_-", min_size=1, max_size=66)


def _valid_branch(name: str) -> bool:
    return subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True).returncode == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names)
def test_every_accepted_name_is_a_valid_branch_name(name: str) -> None:
    if not layout.is_name(name):
        return
    # the name alone, and as mlgate uses it: inside the branches of its pull requests
    for branch in (name, f"mlgate/register-{name}-v1", f"mlgate/promote-{name}-{name}-v2"):
        assert _valid_branch(branch), branch


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a..b", "contains '..'"),
        ("fraud.", "ends in '.'"),
        ("champion.lock", "ends in '.lock'"),
        ("-a", "starting with a letter or digit"),
        ("a" * 65, "at most 64 characters"),
        ("Fraud", "lowercase"),
        ("champion\n", "lowercase"),
    ],
)
def test_a_name_git_would_refuse_is_refused_with_the_reason(name: str, why: str) -> None:
    problem = layout.name_problem(name)
    assert problem is not None and why in problem
    assert list(schemas.errors("Alias", _alias(name)))  # the schema agrees with the layout


@pytest.mark.parametrize("name", ["a", "fraud-detector", "v1.2", "x.lock.y", "a_", "b-", "a" * 64])
def test_ordinary_names_pass_the_layout_and_the_schema(name: str) -> None:
    assert layout.name_problem(name) is None
    assert not list(schemas.errors("Alias", _alias(name)))


def test_the_schema_pattern_is_the_layout_pattern() -> None:
    common = json.loads((schemas_dir() / "common.schema.json").read_text())
    assert common["$defs"]["name"]["pattern"] == layout.NAME_PATTERN


def test_a_model_folder_named_against_git_rules_is_a_layout_error() -> None:
    with pytest.raises(layout.LayoutError, match=r"'a\.\.b' is not a valid model name: contains '\.\.'"):
        layout.classify("registry/models/a..b/model.yaml")


def _alias(name: str) -> dict[str, object]:
    return {"apiVersion": "mlgate/v1", "kind": "Alias", "model": name, "alias": name, "version": 1}
