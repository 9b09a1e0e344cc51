"""The serving index: one JSON file with every model's aliases and artifacts, and a digest of itself.

``mlgate index`` writes it from a validated registry (publish.yml does so on every push to main);
:mod:`mlgate.serving` reads it, checks the digest, and resolves without parsing any YAML.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .registry import Registry
from .serving import INDEX_FORMAT as FORMAT, index_digest


def build_index(repo_path: str | os.PathLike[str] = ".", ref: str | None = None) -> dict[str, Any]:
    """The index of the registry at ``ref`` (or the working tree). Every manifest is schema-checked on the way."""
    reg = Registry.open(repo_path, ref)
    models: dict[str, Any] = {}
    for name in reg.model_names():
        model = reg.model(name)
        versions = {}
        for n in reg.version_numbers(name):
            v = reg.version(name, n)
            versions[str(n)] = {
                "uri": v.artifact.uri, "sha256": v.artifact.sha256, "size": v.artifact.size,
                "format": v.artifact.format, "created_at": v.created_at, "run_id": v.lineage.get("run_id"),
            }
        models[name] = {
            "aliases": {a: al.version for a, al in reg.aliases(name).items()},
            "deprecated": sorted(d.version for d in model.deprecated),
            "versions": versions,
        }
    data = {
        "format": FORMAT,
        "commit": reg.tree.commit,
        "source": reg.tree.label,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "models": models,
    }
    data["digest"] = index_digest(data)
    return data


def write_index(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write atomically: serving never sees half an index."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, target)
