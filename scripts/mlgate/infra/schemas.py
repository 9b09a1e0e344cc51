"""JSON Schemas: which one applies to a manifest, and a cached validator per kind."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mlgate.infra.resources import schemas_dir

if TYPE_CHECKING:  # jsonschema is imported when a document must be walked by it: never for a valid manifest
    import jsonschema
    from referencing import Registry

API_VERSION = "mlgate/v1"

#: manifest kind -> schema file in schemas/
SCHEMA_FILES = {
    "Model": "model.schema.json",
    "ModelVersion": "model-version.schema.json",
    "EvalResult": "eval-result.schema.json",
    "Alias": "alias.schema.json",
    "Policy": "policy.schema.json",
    "OnlineEvaluation": "online-evaluation.schema.json",
    "Notifications": "notifications.schema.json",
}
KINDS = tuple(SCHEMA_FILES)
_BASE_URI = "https://mlgate.dev/schemas/v1/"


@lru_cache(maxsize=None)
def _registry() -> Registry:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

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
    import jsonschema

    if validator.is_type(instance, "string") and not _ecma_pattern(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=None)
def _validator_class() -> type[jsonschema.protocols.Validator]:
    import jsonschema

    # extend() builds a new validator class (not a subclass of Draft202012Validator): typed as the protocol it meets
    made: type[jsonschema.protocols.Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # types-jsonschema leaves validators.extend unannotated
        jsonschema.Draft202012Validator,
        validators={"pattern": _pattern},
        type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )
    return made


@lru_cache(maxsize=None)
def validator(kind: str) -> jsonschema.protocols.Validator:
    """A ready validator for a manifest kind (built once per process, from a self-contained copy)."""
    return _validator_class()(_inline(schema(kind), _registry().resolver(_BASE_URI + SCHEMA_FILES[kind])))


# --- the same self-contained copy without jsonschema, for the compiled check -------------------------------


@lru_cache(maxsize=None)
def _document(name: str) -> Any:
    if "/" in name or "\\" in name or not name.endswith(".schema.json"):
        raise _Unsupported(f"reference to {name!r}")
    return json.loads((schemas_dir() / name).read_text(encoding="utf-8"))


def _plain_lookup(document: str, ref: str) -> tuple[str, Any]:
    """What ``ref`` (``#/$defs/x`` or ``other.schema.json#/$defs/x``, as our schemas write them) points at."""
    target, _, pointer = ref.partition("#")
    name = target or document
    node = _document(name)
    if node.get("$id") != _BASE_URI + name:
        raise _Unsupported(f"{name} does not have the $id of its file")
    for part in pointer.split("/")[1:] if pointer else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise _Unsupported(f"unresolvable reference {ref!r}")
        node = node[part]
    return name, node


def _plain_inline(node: Any, document: str, depth: int = 0) -> Any:
    """:func:`_inline` with references resolved among our schema files by name (every one has the ``$id``
    of its file name under the same base), so the compiled check needs no jsonschema; a test holds the two
    copies equal for every kind."""
    if depth > 32:
        raise _Unsupported("schema references nest too deeply")
    if isinstance(node, list):
        return [_plain_inline(x, document, depth) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _plain_inline(v, document, depth) for k, v in node.items() if k not in ("$ref", "$defs")}
    if "$ref" not in node:
        return out
    name, resolved = _plain_lookup(document, node["$ref"])
    target = _plain_inline(resolved, name, depth + 1)
    clash = (set(target) & set(out)) - _ANNOTATIONS
    if clash:
        annotations = {k: v for k, v in out.items() if k in _ANNOTATIONS}
        return {**annotations, "allOf": [target, {k: v for k, v in out.items() if k not in _ANNOTATIONS}]}
    return {**target, **out}


def plain_schema(kind: str) -> Any:
    """The self-contained schema of a manifest kind, made without jsonschema (see :func:`_plain_inline`)."""
    name = SCHEMA_FILES[kind]
    doc = _document(name)
    if doc.get("$id") != _BASE_URI + name:
        raise _Unsupported(f"{name} does not have the $id of its file")
    return _plain_inline(doc, name)


# --- a compiled check for the common case: a valid manifest ------------------------------------------------
#
# jsonschema walks the schema for every document (a third of reading a manifest). A valid manifest has no
# errors to report, so a check compiled once per kind into plain closures answers "valid" for it at a tenth of
# the cost; anything else (an invalid document, a keyword or a value this compiler does not know) goes to
# jsonschema, which reports the errors as before. The compiled check may only ever say "valid" when jsonschema
# would: it knows a keyword exactly or refuses to compile the schema, and raises _Unsure where unsure.

_Check = Callable[[Any], bool]
#: keywords that assert nothing (an unknown "format" asserts nothing either: no format checker is configured)
_INERT = _ANNOTATIONS | {"$schema", "$id", "$comment", "format", "deprecated", "readOnly", "writeOnly"}


class _Unsure(Exception):
    """The compiled check cannot say: jsonschema decides."""


class _Unsupported(Exception):
    """A schema keyword the compiler does not know: this kind is always checked by jsonschema."""


def _is(kind: str, x: Any) -> bool:
    if kind == "object":
        return isinstance(x, dict)
    if kind == "array":
        return isinstance(x, list)
    if kind == "string":
        return isinstance(x, str)
    if kind == "integer":
        return isinstance(x, int) and not isinstance(x, bool)
    if kind == "number":
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    if kind == "boolean":
        return isinstance(x, bool)
    if kind == "null":
        return x is None
    raise _Unsupported(f"type {kind!r}")


def _scalar_equal(a: Any, b: Any) -> bool:
    """JSON equality for a const or enum value that is a string, a number, a boolean or null."""
    if isinstance(b, str):
        return isinstance(a, str) and a == b
    if isinstance(b, bool) or b is None:
        return a is b
    if isinstance(b, (int, float)):
        return isinstance(a, (int, float)) and not isinstance(a, bool) and a == b
    raise _Unsure


def _json_key(x: Any) -> Any:
    """A hashable stand-in equal for JSON-equal values (1 and 1.0 alike, true and 1 not)."""
    if isinstance(x, bool) or x is None:
        return ("literal", x)
    if isinstance(x, (int, float)):
        return ("number", x)
    if isinstance(x, str):
        return ("string", x)
    if isinstance(x, list):
        return ("array", tuple(_json_key(i) for i in x))
    if isinstance(x, dict):
        return ("object", frozenset((k, _json_key(v)) for k, v in x.items()))
    raise _Unsure


def _compile(node: Any) -> _Check:
    if node is True:
        return lambda x: True
    if node is False:
        return lambda x: False
    if not isinstance(node, dict):
        raise _Unsupported(repr(node))
    checks: list[_Check] = []
    unknown = set(node) - _INERT - set(_KEYWORDS)
    if unknown:
        raise _Unsupported(", ".join(sorted(unknown)))
    for keyword, value in node.items():
        if keyword in _KEYWORDS:
            made = _KEYWORDS[keyword](value, node)
            if made is not None:
                checks.append(made)
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(c(x) for c in checks)


def _type(value: Any, node: dict[str, Any]) -> _Check:
    kinds = [value] if isinstance(value, str) else list(value)
    for k in kinds:
        _is(k, None)  # an unknown type name is refused here, at compile time
    return lambda x: any(_is(k, x) for k in kinds)


def _properties(value: dict[str, Any], node: dict[str, Any]) -> _Check:
    props = {k: _compile(v) for k, v in value.items()}
    return lambda x: not isinstance(x, dict) or all(c(x[k]) for k, c in props.items() if k in x)


def _additional(value: Any, node: dict[str, Any]) -> _Check:
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    known = frozenset(node.get("properties", {}))
    if value is False:
        return lambda x: not isinstance(x, dict) or known.issuperset(x)
    extra = _compile(value)
    return lambda x: not isinstance(x, dict) or all(extra(v) for k, v in x.items() if k not in known)


def _required(value: list[str], node: dict[str, Any]) -> _Check:
    names = tuple(value)
    return lambda x: not isinstance(x, dict) or all(n in x for n in names)


def _property_names(value: Any, node: dict[str, Any]) -> _Check:
    check = _compile(value)
    return lambda x: not isinstance(x, dict) or all(check(k) for k in x)


def _pattern_check(value: str, node: dict[str, Any]) -> _Check:
    regex = _ecma_pattern(value)
    return lambda x: not isinstance(x, str) or regex.search(x) is not None


def _bound(test: Callable[[Any], bool]) -> _Check:
    return lambda x: not isinstance(x, (int, float)) or isinstance(x, bool) or test(x)


def _sized(kind: type[str] | type[list[Any]] | type[dict[str, Any]], test: Callable[[int], bool]) -> _Check:
    return lambda x: not isinstance(x, kind) or test(len(x))


def _items(value: Any, node: dict[str, Any]) -> _Check:
    if "prefixItems" in node:
        raise _Unsupported("prefixItems")
    check = _compile(value)
    return lambda x: not isinstance(x, list) or all(check(i) for i in x)


def _unique(value: bool, node: dict[str, Any]) -> _Check | None:
    if not value:
        return None

    def check(x: Any) -> bool:
        if not isinstance(x, list):
            return True
        return len({_json_key(i) for i in x}) == len(x)

    return check


def _const(value: Any, node: dict[str, Any]) -> _Check:
    return lambda x: _scalar_equal(x, value)


def _enum(value: list[Any], node: dict[str, Any]) -> _Check:
    options = list(value)
    return lambda x: any(_scalar_equal(x, o) for o in options)


def _all_of(value: list[Any], node: dict[str, Any]) -> _Check:
    subs = [_compile(v) for v in value]
    return lambda x: all(c(x) for c in subs)


def _any_of(value: list[Any], node: dict[str, Any]) -> _Check:
    subs = [_compile(v) for v in value]
    return lambda x: any(c(x) for c in subs)


def _one_of(value: list[Any], node: dict[str, Any]) -> _Check:
    subs = [_compile(v) for v in value]
    return lambda x: sum(1 for c in subs if c(x)) == 1


def _not(value: Any, node: dict[str, Any]) -> _Check:
    sub = _compile(value)
    return lambda x: not sub(x)


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], _Check | None]] = {
    "type": _type,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "propertyNames": _property_names,
    "pattern": _pattern_check,
    "minimum": lambda v, n: _bound(lambda x: x >= v),
    "maximum": lambda v, n: _bound(lambda x: x <= v),
    "exclusiveMinimum": lambda v, n: _bound(lambda x: x > v),
    "exclusiveMaximum": lambda v, n: _bound(lambda x: x < v),
    "minLength": lambda v, n: _sized(str, lambda k: k >= v),
    "maxLength": lambda v, n: _sized(str, lambda k: k <= v),
    "minItems": lambda v, n: _sized(list, lambda k: k >= v),
    "maxItems": lambda v, n: _sized(list, lambda k: k <= v),
    "minProperties": lambda v, n: _sized(dict, lambda k: k >= v),
    "maxProperties": lambda v, n: _sized(dict, lambda k: k <= v),
    "items": _items,
    "uniqueItems": _unique,
    "const": _const,
    "enum": _enum,
    "allOf": _all_of,
    "anyOf": _any_of,
    "oneOf": _one_of,
    "not": _not,
}


@lru_cache(maxsize=None)
def compiled(kind: str) -> _Check | None:
    """The compiled validity check for a manifest kind (None: its schema uses a keyword the compiler does not
    know, so jsonschema alone checks it)."""
    try:
        return _compile(plain_schema(kind))
    except (_Unsupported, OSError, ValueError):
        return None


def surely_valid(kind: str, data: Any) -> bool:
    """True only when ``data`` is certainly a valid ``kind`` manifest (False: ask jsonschema)."""
    check = compiled(kind)
    if check is None:
        return False
    try:
        return check(data)
    except (_Unsure, RecursionError):
        return False


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
    if surely_valid(kind, data):  # the common case, without walking the schema in jsonschema
        return iter(())
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
