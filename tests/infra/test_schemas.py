"""The JSON Schemas themselves: valid draft 2020-12, every field described, constraints as designed."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlgate.core.signoff import is_login, is_team
from mlgate.infra import schemas
from mlgate.infra.resources import schemas_dir
from tests import ROOT

SCHEMA_FILES = sorted(schemas_dir().glob("*.schema.json"))


def test_repository_schemas_are_the_ones_used() -> None:
    repo_schemas = ROOT / "schemas"
    assert {p.name for p in SCHEMA_FILES} == {p.name for p in repo_schemas.glob("*.schema.json")}
    for p in SCHEMA_FILES:
        assert p.read_bytes() == (repo_schemas / p.name).read_bytes(), f"{p.name} drifted from schemas/"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)


def _undescribed(node: object, where: str) -> list[str]:
    """Properties whose schema has no description, directly or through a local or common $ref."""
    missing = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                missing.append(f"{where}.{name}")
        for key, sub in node.items():
            missing += _undescribed(sub, f"{where}.{key}" if key != "properties" else where)
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            missing += _undescribed(sub, f"{where}[{i}]")
    return missing


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_field_has_a_description(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert "description" in doc
    assert _undescribed(doc, path.name) == []
    for name, sub in doc.get("$defs", {}).items():
        assert "description" in sub, f"{path.name} $defs.{name}"


@pytest.mark.parametrize(
    ("kind", "field", "good", "bad"),
    [
        ("Alias", "alias", ["champion", "a", "x.y_z-1"], ["Champion", "-x", "", "a" * 65, "chаmpion", "champion "]),
        ("Alias", "version", [1, 7, 999999999], [0, -1, 1.5, "7", True, 10**9]),
        ("Model", "name", ["fraud-detector"], ["Fraud", "fraud detector", "ﬁle"]),
    ],
)
def test_names_and_versions(kind: str, field: str, good: list, bad: list) -> None:
    base = {
        "Alias": {"apiVersion": "mlgate/v1", "kind": "Alias", "model": "m", "alias": "a", "version": 1},
        "Model": {"apiVersion": "mlgate/v1", "kind": "Model", "name": "m", "description": "d", "owners": ["alice"]},
    }[kind]
    for value in good:
        assert list(schemas.errors(kind, {**base, field: value})) == [], value
    for value in bad:
        assert list(schemas.errors(kind, {**base, field: value})) != [], value


def _version(**artifact: object) -> dict:
    digest = "ab" * 32
    return {
        "apiVersion": "mlgate/v1",
        "kind": "ModelVersion",
        "model": "m",
        "version": 1,
        "created_at": "2026-01-01T00:00:00Z",
        "created_by": "alice",
        "artifact": {"uri": f"s3://b/sha256/ab/{digest}", "sha256": digest, "size": 1, "format": "onnx", **artifact},
        "lineage": {
            "run_id": "r",
            "git_sha": "a" * 40,
            "code_repo": "https://x/y",
            "dataset": {"uri": "s3://d", "sha256": digest},
        },
    }


@pytest.mark.parametrize(
    ("artifact", "ok"),
    [
        ({}, True),
        ({"sha256": "AB" * 32}, False),
        ({"sha256": "ab" * 31}, False),
        ({"sha256": "ab" * 33}, False),
        ({"uri": "file:///srv/models/a.onnx"}, True),
        ({"uri": "models/a.onnx"}, False),
        ({"uri": "s3://bucket/has space"}, False),
        ({"size": -1}, False),
        ({"format": "ONNX"}, False),
    ],
)
def test_artifact_constraints(artifact: dict, ok: bool) -> None:
    assert (list(schemas.errors("ModelVersion", _version(**artifact))) == []) is ok


def test_timestamps_need_a_time_zone() -> None:
    v = _version()
    v["created_at"] = "2026-01-01 00:00:00"
    assert list(schemas.errors("ModelVersion", v))


def test_emu_logins_and_teams_are_accepted_by_the_policy_schema() -> None:
    policy = {
        "apiVersion": "mlgate/v1",
        "kind": "Policy",
        "admins": ["@acme/ml-platform", "mona-cat_octo"],
        "aliases": {"*": {"approvals": {"min": 1, "from": ["mona-cat_octo", "@acme-corp/ml-leads"]}}},
    }
    assert list(schemas.errors("Policy", policy)) == []
    # and what the schema accepts, the gate can match: every entry is a login or a team to the sign-off rules
    entries = policy["admins"] + policy["aliases"]["*"]["approvals"]["from"]
    assert all(is_login(x) or is_team(x) for x in entries)
