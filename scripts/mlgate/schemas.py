"""JSON Schemas: which one applies to a manifest, and a cached validator per kind."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterator

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .resources import schemas_dir

API_VERSION = "mlgate/v1"

#: manifest kind -> schema file in schemas/
SCHEMA_FILES = {
    "Model": "model.schema.json",
    "ModelVersion": "model-version.schema.json",
    "EvalResult": "eval-result.schema.json",
    "Alias": "alias.schema.json",
    "Policy": "policy.schema.json",
}
KINDS = tuple(SCHEMA_FILES)
_BASE_URI = "https://mlgate.dev/schemas/v1/"


@lru_cache(maxsize=None)
def _registry() -> Registry:
    resources = []
    for path in sorted(schemas_dir().glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((_BASE_URI + path.name, Resource.from_contents(contents, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (as a dict) for a manifest kind."""
    return _registry()[_BASE_URI + SCHEMA_FILES[kind]].contents


@lru_cache(maxsize=None)
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A ready validator for a manifest kind (built once per process)."""
    return jsonschema.Draft202012Validator(schema(kind), registry=_registry())


def errors(kind: str, data: Any) -> Iterator[jsonschema.ValidationError]:
    """Every schema violation of ``data`` as a ``kind`` manifest, in document order."""
    found = validator(kind).iter_errors(data)
    return iter(sorted(found, key=lambda e: [str(p) for p in e.absolute_path]))
