"""The serving index's format: its version tag, and the canonical bytes its digest and signatures cover.

:mod:`mlgate.registry.index` writes and signs it; :mod:`mlgate.serving` recomputes both from the parsed
document, so what is signed is what is used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

INDEX_FORMAT = "mlgate.index/v1"


def index_canonical(data: Mapping[str, Any]) -> bytes:
    """The bytes an index's digest and signatures cover: everything but ``digest`` and ``signatures``, as
    sorted compact JSON."""
    body = {k: v for k, v in data.items() if k not in ("digest", "signatures")}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def index_digest(data: Mapping[str, Any]) -> str:
    """The sha256 of :func:`index_canonical`, in hex."""
    return hashlib.sha256(index_canonical(data)).hexdigest()


# --- the sharded layout (mlgate.index/v2) -------------------------------------------------------------------
#
# DIR/index.json is one JSON object written as two lines: a header {"digest", "format", "signatures"} and then
# "payload": the top-level index as canonical JSON. The digest (sha256) and the signatures cover exactly the
# payload's bytes (the signatures prefixed by the format), so serving checks what it parses without
# re-serialising anything and parses it once. The payload holds, per model, what resolving an alias needs
# (aliases, rollouts, deprecated versions, and uri, sha256, size and format of the versions the aliases and
# rollouts name) and the sha256 and size of the model's shard: DIR/shards/<model>/<sha256>.json, the model's
# whole entry (every version, with its description, creator, run id and tags), read only when needed.

INDEX_FORMAT_V2 = "mlgate.index/v2"
SHARD_FORMAT = "mlgate.index-shard/v2"
SHARDS_DIR = "shards"
TOP_LEVEL = "index.json"
_PAYLOAD = b'\n"payload":'
#: the fields of a version the top level carries (the shard has them all)
ARTIFACT_FIELDS = ("uri", "sha256", "size", "format")


def canonical_json(data: Any) -> bytes:
    """Sorted compact JSON, UTF-8: the bytes a v2 payload or shard is written as."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def payload_signed_bytes(payload: bytes) -> bytes:
    """What a v2 signature covers: the format tag, a newline, then the payload (a signature over a v2 payload can
    never be replayed as one over anything else)."""
    return INDEX_FORMAT_V2.encode() + b"\n" + payload


def shard_path(model: str, sha256: str) -> str:
    """Where a model's shard lives, relative to the folder of index.json (content-addressed)."""
    return f"{SHARDS_DIR}/{model}/{sha256}.json"


def envelope_bytes(payload: bytes, signatures: list[dict[str, str]] | None = None) -> bytes:
    """The bytes of DIR/index.json: the header line, then the payload (valid JSON as a whole)."""
    header = {"digest": hashlib.sha256(payload).hexdigest(), "format": INDEX_FORMAT_V2}
    if signatures:
        header["signatures"] = signatures  # type: ignore[assignment]
    return canonical_json(header)[:-1] + b"," + _PAYLOAD + payload + b"}\n"


def split_envelope(raw: bytes) -> tuple[dict[str, Any], bytes] | None:
    """The header and the payload bytes of a v2 index.json; None when ``raw`` is not laid out as one (the
    digest, checked by the caller, decides whether the payload is the one signed)."""
    if not raw.startswith(b'{"digest":'):
        return None
    at = raw.find(_PAYLOAD)
    end = raw.rfind(b"}")  # the same place in raw.rstrip(), without copying the whole index
    if at < 0 or end <= at:
        return None
    try:
        header = json.loads(raw[:at].rstrip(b",") + b"}")
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("format") != INDEX_FORMAT_V2:
        return None
    return header, raw[at + len(_PAYLOAD) : end]
