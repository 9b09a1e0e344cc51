"""One reader per manifest field that decides something: an alias's version, a model's deprecations.

The validator, the gates, history, ``whois``, rollback detection, serving, the index and the write
commands all read these fields through the functions here, so no two of them can disagree about what
a file says. Each reads the file with the one strict YAML loader (:mod:`mlgate.yamlio`) and checks the
little it needs without JSON Schema (serving must stay light); the validator adds the full schema.

History reads tens of thousands of alias files, so :func:`alias_version` has a fast path for the files
mlgate itself writes. It accepts only a narrow line grammar that cannot mean anything but what it
seems to (no quotes, comments, indentation, flow syntax, document markers, escapes or non-ASCII), and
answers "unsure" for anything else, which then goes through the full parse; a property-based test
(tests/adversarial/test_readers.py) holds it to the full parse on generated hostile files.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from mlgate.core.layout import SHA256_RE, VERSION_RE, is_name, reserved_alias
from mlgate.core.rules import Family, define
from mlgate.errors import InputError, ManifestError  # noqa: F401 - ManifestError re-exported
from mlgate.infra.yamlio import YamlError, load

API_VERSION = "mlgate/v1"

MG102 = define(
    "MG102",
    "kind",
    Family.SCHEMA,
    "apiVersion is not mlgate/v1, or kind is missing or not the kind this path holds.",
)

MAX_VERSION = 999_999_999  # version folders are at most nine digits


def _document(raw: bytes, path: str, kind: str) -> Mapping[str, Any]:
    try:
        data = load(raw, path).data
    except YamlError as e:
        raise ManifestError(e.message, path=path, line=e.line, rule=e.rule, field=e.field) from None
    if not isinstance(data, dict):
        raise ManifestError("a manifest must be a mapping of fields", path=path, line=1)
    if data.get("apiVersion") != API_VERSION or data.get("kind") != kind:
        raise ManifestError(f"not an {API_VERSION} {kind} manifest (apiVersion/kind)", path=path, rule=MG102)
    return data


def version_number(value: Any) -> int | None:
    """``value`` if it is a valid version number (a positive integer, not a boolean), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_VERSION:
        return value
    return None


# --- aliases ---------------------------------------------------------------------------------------

_KEYS = ("apiVersion", "kind", "model", "alias", "version", "note")
# a line is `key: value` at column 0 with a value that YAML can only read as that very string (or, for
# version, a plain decimal integer); anything else (quotes, '#', ':', indentation, flow, tags, anchors...)
# is left to the full parse
_LINE = re.compile(rb"(apiVersion|kind|model|alias|version): ([A-Za-z0-9][A-Za-z0-9._/-]{0,127})")
_NOTE = re.compile(rb"note: ([A-Za-z0-9][A-Za-z0-9 .,;()/_+=-]{0,999})")
_DECIMAL = re.compile(VERSION_RE.pattern.encode())  # the version pattern, for the bytes of a line


def _fast_alias_version(raw: bytes) -> int | None:
    """The version of an alias file in mlgate's own plain form, or None when unsure (never wrong)."""
    if len(raw) > 4096 or not raw.isascii() or b"\r" in raw:
        return None
    seen: dict[bytes, bytes] = {}
    for line in raw.split(b"\n"):
        if not line:
            continue
        m = _LINE.fullmatch(line) or _NOTE.fullmatch(line)
        if m is None or line.endswith(b" "):
            return None
        key = line.split(b":", 1)[0]
        if key in seen:
            return None
        seen[key] = m.group(m.lastindex or 1)
    if seen.get(b"apiVersion") != API_VERSION.encode() or seen.get(b"kind") != b"Alias":
        return None
    version = seen.get(b"version")
    if version is None or not _DECIMAL.fullmatch(version):
        return None
    return int(version)


def alias_version(raw: bytes, path: str) -> int:
    """The version an alias file points at. Raises :class:`ManifestError` when it does not say one."""
    fast = _fast_alias_version(raw)
    if fast is not None:
        return fast
    return alias_version_of(_document(raw, path, "Alias"), path)


def alias_version_of(data: Mapping[str, Any], path: str) -> int:
    """The version of an alias manifest already loaded (by the validator, with its schema)."""
    version = version_number(data.get("version"))
    if version is None:
        raise ManifestError(
            f"'version' must be a positive integer, got {data.get('version')!r}", path=path, field="version"
        )
    return version


def alias_rollout_of(data: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """The ``rollout:`` block of an alias manifest already loaded ({candidate, mode, percent[, started_at]}), or
    None. Raises :class:`ManifestError` for a block that is not a well-formed rollout."""
    block = data.get("rollout")
    if block is None:
        return None
    percent = block.get("percent") if isinstance(block, dict) else None
    if (
        not isinstance(block, dict)
        or version_number(block.get("candidate")) is None
        or block.get("mode") not in ("canary", "shadow")
        or not isinstance(percent, (int, float))
        or isinstance(percent, bool)
        or not 0 < percent <= 100
        or not set(block) <= {"candidate", "mode", "percent", "started_at"}
    ):
        raise ManifestError(
            "rollout must have a candidate version, a mode (canary or shadow) and a percent above 0 and at most 100",
            path=path,
            field="rollout",
        )
    return dict(block)


def alias_state(raw: bytes, path: str) -> tuple[int, dict[str, Any] | None]:
    """The version an alias file points at and its rollout block (None when no rollout is under way)."""
    fast = _fast_alias_version(raw)  # mlgate's plain form has no rollout block (it has indented lines)
    if fast is not None:
        return fast, None
    data = _document(raw, path, "Alias")
    return alias_version_of(data, path), alias_rollout_of(data, path)


def alias_version_or_none(raw: bytes | None, path: str) -> int | None:
    """:func:`alias_version`, with None for no file or an unreadable one (history's view)."""
    if raw is None:
        return None
    try:
        return alias_version(raw, path)
    except ManifestError:
        return None


# --- models ------------------------------------------------------------------------------------------


def deprecations_of(data: Mapping[str, Any]) -> dict[int, str]:
    """version -> reason, from a loaded model manifest (entries that are not well formed are skipped)."""
    out: dict[int, str] = {}
    items = data.get("deprecated") or []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and version_number(item.get("version")) is not None:
            reason = item.get("reason")
            out.setdefault(item["version"], reason if isinstance(reason, str) else "")
    return out


def deprecations(raw: bytes | None, path: str) -> dict[int, str]:
    """version -> reason of a model.yaml's deprecation list ({} for no file). Raises :class:`ManifestError`."""
    if raw is None:
        return {}
    return deprecations_of(_document(raw, path, "Model"))


# --- policy ------------------------------------------------------------------------------------------


def stages(raw: bytes | None, path: str) -> dict[str, str]:
    """policy.yaml's ``stages:`` (the aliases MLflow's Production and Staging stand for), or the default
    mapping when there is no policy or it names none. Raises :class:`ManifestError` for a malformed mapping."""
    from mlgate.core.uris import DEFAULT_STAGES

    if raw is None:
        return dict(DEFAULT_STAGES)
    data = _document(raw, path, "Policy")
    if "stages" not in data:
        return dict(DEFAULT_STAGES)
    mapping = data["stages"]
    if not isinstance(mapping, dict) or not all(
        k in ("Production", "Staging") and isinstance(v, str) and is_name(v) and reserved_alias(v) is None
        for k, v in mapping.items()
    ):
        raise ManifestError("stages must map Production and/or Staging to alias names", path=path, field="stages")
    return dict(mapping)


# --- versions ----------------------------------------------------------------------------------------


def artifact(raw: bytes, path: str) -> dict[str, Any]:
    """A version manifest's artifact {uri, sha256, size, format} and the whole manifest (``manifest``)."""
    data = _document(raw, path, "ModelVersion")
    art = data.get("artifact")
    size = art.get("size") if isinstance(art, dict) else None
    if (
        not isinstance(art, dict)
        or not isinstance(art.get("uri"), str)
        or not isinstance(art.get("sha256"), str)
        or not SHA256_RE.match(art["sha256"])
        or not isinstance(size, int)
        or isinstance(size, bool)
        or size < 0
    ):
        raise ManifestError(
            "artifact must have a uri, a 64-hex sha256 and a size (a non-negative integer)", path=path, field="artifact"
        )
    return {
        "uri": art["uri"],
        "sha256": art["sha256"],
        "size": art["size"],
        "format": str(art.get("format", "")),
        "manifest": data,
    }
