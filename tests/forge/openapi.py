"""GitHub's OpenAPI 3.0 description, read as JSON Schema, to check the stand-in's answers against.

OpenAPI 3.0's schema objects are *almost* JSON Schema draft 4; the differences that matter here:

* ``nullable: true`` allows null besides what the rest of the schema allows. GitHub's description relies on that
  reading: its nullable enums do not list null, and it puts ``nullable`` next to a ``oneOf`` with no ``type``.
  It becomes ``anyOf: [{type: null}, <the schema>]``; a ``oneOf`` whose own branches are nullable is made
  nullable as a whole (else null would match every branch and fail the ``oneOf``).
* siblings of ``$ref`` are ignored (as in draft 4); ``discriminator``, ``example``, ``readOnly``... are
  annotations only.
* ``format`` is checked for ``date-time``, ``uri`` and ``email`` (what GitHub's clients parse).

One strictness is added: an object schema that names its properties (and says nothing of others) accepts no
other property, so the stand-in cannot invent a field GitHub does not document and mlgate cannot come to rely
on one. Schemas composed with ``allOf``/``anyOf``/``oneOf`` next to their properties stay open.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker

_ANNOTATIONS = {"nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated"}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*\Z")


def _nullable_branches(branches: list[Any]) -> tuple[list[Any], bool]:
    hoisted = any(isinstance(b, dict) and b.get("nullable") for b in branches)
    return [{k: v for k, v in b.items() if k != "nullable"} if isinstance(b, dict) else b for b in branches], hoisted


def translate(schema: Any, in_all_of: bool = False) -> Any:
    """An OpenAPI 3.0 schema object as a JSON Schema (draft 4) with the meaning described above."""
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return {"$ref": schema["$ref"]}
    out: dict[str, Any] = {}
    nullable = bool(schema.get("nullable"))
    for key, value in schema.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {name: translate(s) for name, s in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = translate(value)
        elif key == "allOf":
            out[key] = [translate(s, in_all_of=True) for s in value]
        elif key in ("oneOf", "anyOf"):
            branches, hoisted = _nullable_branches(value)
            nullable = nullable or hoisted
            out[key] = [translate(s) for s in branches]
        else:
            out[key] = value
    composed = any(k in out for k in ("allOf", "anyOf", "oneOf"))
    if "properties" in out and "additionalProperties" not in out and not composed and not in_all_of:
        out["additionalProperties"] = False
    return {"anyOf": [{"type": "null"}, out]} if nullable else out


def _all_of_refs(node: Any) -> set[str]:
    """Names of the component schemas that appear (by $ref) as members of an allOf anywhere in ``node``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for member in item.get("allOf", []) if isinstance(item.get("allOf"), list) else []:
                if isinstance(member, dict) and isinstance(member.get("$ref"), str):
                    found.add(member["$ref"].rsplit("/", 1)[-1])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    @checker.checks("uri", raises=ValueError)
    def uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.path) and _URI_CHARS.match(value))

    @checker.checks("email")
    def email(value: object) -> bool:
        return not isinstance(value, str) or bool(re.fullmatch(r"[^@\s]+@[^@\s]+", value))

    return checker


class Description:
    """The paths and schemas of GitHub's REST API description (``api.github.com.json``)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.version = document.get("info", {}).get("version", "?")
        schemas = document["components"]["schemas"]
        # a component that is one part of an allOf shares the instance with the other parts: closing it would
        # refuse the others' fields, so it stays open (as an inline allOf member does)
        parts = _all_of_refs(document)
        self.components = {"schemas": {name: translate(s, in_all_of=name in parts) for name, s in schemas.items()}}
        self.checker = _format_checker()
        templates = []
        for template in document["paths"]:
            literal = re.sub(r"\{[^}]+\}", "", template)
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            templates.append((len(literal), template, re.compile(pattern)))
        self.templates = sorted(templates, key=lambda t: -t[0])  # the most specific template first

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for _, template, pattern in self.templates:
            if pattern.match(path):
                op = self.document["paths"][template].get(method.lower())
                if op is not None:
                    return template, op
        return None

    def _resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in item:
            node: Any = self.document
            for part in item["$ref"].lstrip("#/").split("/"):
                node = node[part]
            item = node
        return item

    def response_schema(self, op: dict[str, Any], status: int) -> tuple[Any, str]:
        """The JSON schema GitHub documents for ``status`` (and where it comes from); for an error status the
        operation does not list, GitHub's common error body (``basic-error``)."""
        documented = op.get("responses", {}).get(str(status))
        if documented is not None:
            content = self._resolve(documented).get("content", {})
            media = content.get("application/json") or next((v for k, v in content.items() if "json" in k), None)
            if media is not None and "schema" in media:
                return media["schema"], f"{status} of the operation"
        if status >= 400:
            return {"$ref": "#/components/schemas/basic-error"}, f"{status} not documented here: basic-error"
        return None, f"{status} documents no body"

    def errors(self, schema: Any, instance: Any) -> list[str]:
        root = {"allOf": [translate(schema)], "components": self.components}
        validator = Draft4Validator(root, format_checker=self.checker)
        return [
            f"{'$' + ''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        ]
