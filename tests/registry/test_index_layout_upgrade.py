"""An incremental sharded build on top of an index an older mlgate wrote (its top level listing an empty
``deprecated`` for every model) writes what a full build writes: the unchanged models' entries are brought to
today's layout, not copied as they were."""

from __future__ import annotations

import json
from pathlib import Path

from mlgate.core.indexfmt import canonical_json, envelope_bytes, split_envelope
from mlgate.registry.index import build_sharded, write_sharded
from mlgate.testing import RegistryRepo


def test_an_older_top_level_is_rebuilt_in_todays_layout(repo: RegistryRepo, tmp_path: Path) -> None:
    folder = tmp_path / "idx"
    write_sharded(build_sharded(repo.root, "main"), folder)
    split = split_envelope((folder / "index.json").read_bytes())
    assert split is not None
    payload = json.loads(split[1])
    for entry in payload["models"].values():
        entry.setdefault("deprecated", [])  # as the older layout wrote every model
    (folder / "index.json").write_bytes(envelope_bytes(canonical_json(payload)))

    repo.edit_yaml("registry/models/fraud-detector/aliases/challenger.yaml", version=1)
    repo.commit("challenger back to v1")
    incremental = build_sharded(repo.root, "main", previous=folder / "index.json", notes=[])
    full = build_sharded(repo.root, "main")
    assert incremental.payload["models"] == full.payload["models"]
    assert not any(e.get("deprecated") == [] for e in incremental.payload["models"].values())
