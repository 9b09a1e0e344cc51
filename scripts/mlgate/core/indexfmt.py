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
