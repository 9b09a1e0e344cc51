"""JSON Schemas: which one applies to a manifest, and a cached validator per kind."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mlgate.infra.resources import schemas_dir

API_VERSION = "mlgate/v1"

#: manifest kind -> schema file in schemas/
SCHEMA_FILES = {
    "Model": "model.schema.json",
    "ModelVersion": "model-version.schema.json",
    "EvalResult": "eval-result.schema.json",
    "Alias": "alias.schema.json",
    "Policy": "policy.schema.json",
    "OnlineEvaluation": "online-evaluation.schema.json",
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
    contents: dict[str, Any] = _registry()[_BASE_URI + SCHEMA_FILES[kind]].contents
    return contents


_ANNOTATIONS = {"description", "title", "$comment", "examples", "default"}


def _inline(node: Any, resolver: Any, depth: int = 0) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at.

    Our schemas' references are not recursive, so a self-contained copy is
    exact; validating against it skips the URL joining and pointer look-ups
    that a ``$ref`` costs on every instance (two thirds of a full validation).
    """
    if depth > 32:
        raise RecursionError("schema references nest too deeply")
    if isinstance(node, list):
        return [_inline(x, resolver, depth) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, resolver, depth) for k, v in node.items() if k not in ("$ref", "$defs")}
    if "$ref" not in node:
        return out
    resolved = resolver.lookup(node["$ref"])
    target = _inline(resolved.contents, resolved.resolver, depth + 1)
    clash = (set(target) & set(out)) - _ANNOTATIONS
    if clash:
        annotations = {k: v for k, v in out.items() if k in _ANNOTATIONS}
        return {**annotations, "allOf": [target, {k: v for k, v in out.items() if k not in _ANNOTATIONS}]}
    return {**target, **out}


def _is_integer(checker: object, instance: object) -> bool:
    # JSON Schema counts 3.0 as an integer; a manifest that writes `version: 3.0` meant something else
    return isinstance(instance, int) and not isinstance(instance, bool)


_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)((?:\\\\)*)\$")


@lru_cache(maxsize=None)
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern with ECMA-262 semantics for ``$``: the end of the string, never before a final newline.

    Python's ``$`` also matches before a trailing ``\\n``, so ``^[a-z]+$`` would accept ``"champion\\n"``; our
    schemas' patterns use ``$`` only as an anchor (outside character classes), which ``\\Z`` states exactly.
    """
    return re.compile(_UNESCAPED_DOLLAR.sub(lambda m: m.group(1) + r"\Z", pattern))


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if validator.is_type(instance, "string") and not _ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# extend() builds a new validator class (not a subclass of Draft202012Validator): typed as the protocol it meets
_Validator: type[jsonschema.protocols.Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # types-jsonschema leaves validators.extend unannotated
    jsonschema.Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


@lru_cache(maxsize=None)
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A ready validator for a manifest kind (built once per process, from a self-contained copy)."""
    return _Validator(_inline(schema(kind), _registry().resolver(_BASE_URI + SCHEMA_FILES[kind])))


@dataclass(frozen=True)
class SchemaProblem:
    """One schema violation, as plain data (so that no module above infra touches jsonschema's types)."""

    path: tuple[str | int, ...]  # where in the document
    validator: str  # the keyword that failed: required, type, pattern...
    validator_value: Any  # that keyword's value in the schema
    instance: Any  # the value that failed
    schema: Any  # the (sub)schema holding the keyword
    schema_path: tuple[str | int, ...]  # where in the schema
    message: str  # jsonschema's own message


def errors(kind: str, data: Any) -> Iterator[SchemaProblem]:
    """Every schema violation of ``data`` as a ``kind`` manifest, in document order."""
    found = sorted(validator(kind).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return iter(
        SchemaProblem(
            tuple(e.absolute_path),
            str(e.validator),
            e.validator_value,
            e.instance,
            e.schema,
            tuple(e.absolute_schema_path),
            e.message,
        )
        for e in found
    )
