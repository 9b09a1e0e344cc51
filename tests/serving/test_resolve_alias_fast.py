"""An index answers ``models:/NAME@ALIAS`` in one look-up (what a server resolving every champion at start-up does
thousands of times): the answer, or the error, must be the one the general rules give. The general path is
reached through a plain wrapper that is not an IndexSource (it forwards every call unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlgate import serving
from mlgate.errors import MlgateError
from mlgate.registry.index import build_index, build_sharded, write_index, write_sharded
from mlgate.testing import RegistryRepo


class _General:
    """Every Source call forwarded to an index; only its type differs, so resolve() takes the general rules."""

    def __init__(self, source: serving.IndexSource) -> None:
        self._source = source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


def _outcome(uri: str, source: Any, allow: bool) -> object:
    try:
        return serving.resolve(uri, source, allow_deprecated=allow)
    except MlgateError as e:
        return (type(e).__name__, str(e))


@pytest.mark.parametrize("sharded", [False, True])
def test_an_alias_resolves_as_the_general_rules_resolve_it(repo: RegistryRepo, tmp_path: Path, sharded: bool) -> None:
    # an alias on a deprecated version (churn-predictor v1), beside the example's rollout (search-ranker@champion)
    repo.edit_yaml("registry/models/churn-predictor/aliases/shadow.yaml", version=1)
    repo.commit("shadow on the deprecated v1")
    if sharded:
        write_sharded(build_sharded(repo.root, "main"), tmp_path / "idx")
        location = tmp_path / "idx" / "index.json"
    else:
        write_index(build_index(repo.root, "main"), tmp_path / "index.json")
        location = tmp_path / "index.json"
    fast = serving.open_source(location)
    general = _General(serving.open_source(location))
    assert isinstance(fast, serving.IndexSource)
    names = fast.model_names()
    aliases = {a for m in names for a in fast.aliases(m)} | {"nope", "Champion", "latest"}
    uris = [f"models:/{m}@{a}" for m in names + ["no-such-model"] for a in sorted(aliases)]
    uris += [u + "/MLmodel" for u in uris[:5]]
    for read_shards in (False, True):
        if read_shards:  # a model's shard once read is its whole entry: the manifest then comes from it
            for m in names:
                fast.versions(m), general.versions(m)
        for allow in (False, True):
            got = [_outcome(u, fast, allow) for u in uris]
            assert got == [_outcome(u, general, allow) for u in uris]
    rolled = serving.resolve("models:/search-ranker@champion", fast)
    assert rolled.rollout is not None and rolled.rollout.candidate == 2
    with pytest.raises(serving.DeprecatedVersion):
        serving.resolve("models:/churn-predictor@shadow", fast)
