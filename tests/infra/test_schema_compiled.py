"""The compiled schema check (:func:`mlgate.infra.schemas.surely_valid`) says "valid" only when jsonschema does.

It answers for the common case (a valid manifest) without walking the schema in jsonschema; everything it
accepts jsonschema must accept, checked here on every manifest of the example registry and the test cases and
on thousands of mutations of them (a field dropped, retyped, lengthened, an unknown field added...).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from mlgate.infra import schemas, yamlio
from tests import ROOT

KIND_OF = {
    "model.yaml": "Model",
    "version.yaml": "ModelVersion",
    "eval.yaml": "EvalResult",
    "policy.yaml": "Policy",
    "notifications.yaml": "Notifications",
}


def _kind(path: Path) -> str | None:
    if path.parent.name == "aliases":
        return "Alias"
    if path.parent.parent.name == "online":
        return "OnlineEvaluation"
    return KIND_OF.get(path.name)


def _manifests() -> list[tuple[str, str, Any]]:
    found = []
    for path in sorted([*(ROOT / "registry").rglob("*.yaml"), *(ROOT / "tests").rglob("*.yaml")]):
        kind = _kind(path)
        if kind is None:
            continue
        try:
            data = yamlio.load(path.read_bytes(), str(path)).data
        except yamlio.YamlError:
            continue
        found.append((str(path.relative_to(ROOT)), kind, data))
    return found


MANIFESTS = _manifests()
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    3.0,
    "",
    "x",
    "champion\n",
    "UPPER case",
    "a" * 5000,
    [],
    ["x", "x"],
    [1],
    {},
    {"zz": 1},
    yamlio.Number(0.5, "0.5"),
]


def _paths(data: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*here, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*here, i))


def _mutations(data: Any) -> Iterator[Any]:
    for path in _paths(data):
        if not path:
            continue
        *up, last = path
        for value in [*ODD_VALUES, "delete", "extra"]:
            doc = copy.deepcopy(data)
            parent = doc
            for p in up:
                parent = parent[p]
            if value == "delete":
                del parent[last]
            elif value == "extra":
                if not isinstance(parent[last], dict):
                    continue
                parent[last]["unexpected_field"] = 1
            else:
                parent[last] = value
            yield doc
    yield {**data, "unexpected_field": 1} if isinstance(data, dict) else data


def _jsonschema_valid(kind: str, data: Any) -> bool:
    return not any(True for _ in schemas.validator(kind).iter_errors(data))


def test_every_kind_compiles() -> None:
    assert all(schemas.compiled(kind) is not None for kind in schemas.KINDS)


def test_there_are_manifests_of_every_kind() -> None:
    assert {kind for _, kind, _ in MANIFESTS} == set(schemas.KINDS)


@pytest.mark.parametrize(("path", "kind", "data"), MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_compiled_check_agrees_with_jsonschema(path: str, kind: str, data: Any) -> None:
    assert schemas.surely_valid(kind, data) == _jsonschema_valid(kind, data), path
    for other in schemas.KINDS:  # a manifest of another kind is not accepted as this one
        if schemas.surely_valid(other, data):
            assert _jsonschema_valid(other, data), (path, other)
    for doc in _mutations(data):
        if schemas.surely_valid(kind, doc):
            assert _jsonschema_valid(kind, doc), (path, doc)
        assert (not list(schemas.errors(kind, doc))) == _jsonschema_valid(kind, doc), (path, doc)


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_errors_still_come_from_jsonschema(kind: str) -> None:
    data = {"apiVersion": "mlgate/v1", "kind": kind, "unexpected_field": 1}
    assert not schemas.surely_valid(kind, data)
    assert list(schemas.errors(kind, data)), "an invalid manifest has its errors reported"


@pytest.mark.parametrize("kind", schemas.KINDS)
def test_the_compiled_check_reads_the_very_schema_jsonschema_validates_with(kind: str) -> None:
    """The compiled check is made without importing jsonschema (a valid manifest never needs it): its
    self-contained copy of the schema is the one jsonschema's validator holds, reference for reference."""
    assert schemas.plain_schema(kind) == schemas.validator(kind).schema


def test_validating_a_valid_manifest_imports_no_jsonschema() -> None:
    code = (
        "import sys; from mlgate.infra import schemas; "
        "assert not list(schemas.errors('Alias', {'apiVersion': 'mlgate/v1', 'kind': 'Alias', 'model': 'm', "
        "'alias': 'champion', 'version': 1})); print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
