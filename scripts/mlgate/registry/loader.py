"""Reading one manifest from a tree: bytes -> YAML -> kind check -> schema, as findings."""

from __future__ import annotations

from typing import Any, Protocol

from mlgate.core.findings import Finding
from mlgate.core.rules import Family, define
from mlgate.errors import InputError
from mlgate.infra import schemas, yamlio
from mlgate.infra.git import Entry, FileTooLarge
from mlgate.infra.schemas import SchemaProblem
from mlgate.infra.yamlio import Document, field_path
from mlgate.registry.readers import MG102

# --- the rules checked here (mlgate rules RULE_ID says where each lives) ---

MG101 = define(
    "MG101",
    "schema",
    Family.SCHEMA,
    "A manifest does not match its JSON Schema in schemas/: a missing, unknown or mistyped field.",
)


class Tree(Protocol):
    """A snapshot of the repository's files: a git commit or the working tree."""

    label: str

    @property
    def commit(self) -> str | None: ...  # read-only, so a GitTree's str and a WorkTree's None both fit

    def listdir(self, path: str) -> dict[str, Entry] | None: ...
    def entry(self, path: str) -> Entry | None: ...
    def walk(self, prefix: str) -> dict[str, Entry]: ...
    def read(self, path: str, limit: int | None = None) -> bytes: ...


def load_manifest(tree: Tree, path: str, kind: str) -> tuple[Document | None, list[Finding]]:
    """Parse and schema-check the ``kind`` manifest at ``path``.

    Returns the document when it is valid, else None and every finding.
    """
    try:
        raw = tree.read(path, limit=yamlio.MAX_BYTES)
    except FileTooLarge as e:
        msg = f"file is {e.size:,} bytes; manifests are limited to {yamlio.MAX_BYTES:,} bytes (1 MiB)"
        return None, [Finding(path, None, yamlio.RULE_LIMIT, msg)]
    except InputError as e:
        return None, [Finding(path, None, yamlio.MG001, e.message)]
    try:
        doc = yamlio.load(raw, path)
    except yamlio.YamlError as e:
        return None, [Finding(path, e.line, e.rule, e.message, e.field)]
    findings = check_document(doc, kind)
    return (None if findings else doc), findings


def check_document(doc: Document, kind: str) -> list[Finding]:
    """Kind and schema findings for a parsed document that must be a ``kind`` manifest."""
    data = doc.data
    if not isinstance(data, dict):
        return [Finding(doc.path, 1, MG101, f"a manifest must be a mapping of fields, not {_json_type(data)}")]
    found = []
    if data.get("apiVersion") != schemas.API_VERSION:
        got = "is missing" if "apiVersion" not in data else f"is {data['apiVersion']!r}"
        found.append(
            Finding(
                doc.path,
                doc.line_of(("apiVersion",)),
                MG102,
                f"apiVersion {got}; expected {schemas.API_VERSION!r}",
                "apiVersion",
            )
        )
    if data.get("kind") != kind:
        got = "is missing" if "kind" not in data else f"is {data['kind']!r}"
        found.append(
            Finding(
                doc.path,
                doc.line_of(("kind",)),
                MG102,
                f"kind {got}; a file at this path must be kind {kind!r}",
                "kind",
            )
        )
    if found:
        return found
    return [_schema_finding(doc, e) for e in schemas.errors(kind, data)]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _schema_finding(doc: Document, e: SchemaProblem) -> Finding:
    where = list(e.path)
    v, inst, sch = e.validator, e.instance, e.schema
    described = sch.get("description") if isinstance(sch, dict) else None
    if "propertyNames" in e.schema_path:
        where.append(inst)
        rule = described or (
            f"it must match {sch['pattern']}" if isinstance(sch, dict) and "pattern" in sch else e.message
        )
        msg = f"key {inst!r} is not allowed: {rule}"
    elif v == "required":
        missing = e.message.split("'")[1] if "'" in e.message else e.message
        where.append(missing)
        msg = f"missing required field {field_path(where)!r}"
    elif v == "additionalProperties" and isinstance(inst, dict):
        allowed = set(sch.get("properties", {}))
        extra = sorted(k for k in inst if k not in allowed)
        where.append(extra[0]) if extra else None
        msg = f"unknown field {', '.join(repr(x) for x in extra)}"
        if allowed:
            msg += f"; allowed here: {', '.join(sorted(allowed))}"
    elif v == "type":
        wanted = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        msg = f"expected {wanted}, got {_json_type(inst)} {inst!r}"
        text = doc.source_text(tuple(where))
        if wanted == "string" and text is not None:
            msg += f" (YAML read `{text}` as {_json_type(inst)[2:]}; quote it: '{text}')"
    elif v == "not":
        msg = f"{inst!r} is not allowed" + (f": {described}" if described else "")
    elif v == "const":
        msg = f"expected {e.validator_value!r}, got {inst!r}"
    elif v == "pattern":
        msg = f"{inst!r} is not valid" + (f": {described}" if described else f"; it must match {e.validator_value}")
    elif v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "above", "exclusiveMaximum": "below"}[
            v
        ]
        msg = f"{inst!r} is out of range: must be {bound} {e.validator_value}"
    elif v == "minItems" and isinstance(inst, list) and not inst:
        msg = "must not be empty"
    elif v == "minLength" and inst == "":
        msg = "must not be empty"
    else:
        msg = e.message
    name = field_path(where) or None
    line = doc.line_of(tuple(where))
    prefix = f"{name}: " if name and v != "required" else ""
    return Finding(doc.path, line, MG101, prefix + msg, name)
