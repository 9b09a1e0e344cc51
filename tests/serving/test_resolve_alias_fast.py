"""An index answers ``models:/NAME@ALIAS`` in one look-up (what a server resolving every champion at start-up does
thousands of times): the answer, or the error, must be the one the general rules give. The general path is
reached through a plain wrapper that is not an IndexSource (it forwards every call unchanged)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mlgate import serving
from mlgate.core.indexfmt import canonical_json, envelope_bytes, split_envelope
from mlgate.errors import MlgateError
from mlgate.registry.index import (
    build_sharded,
    generate_key,
    load_signing_key,
    write_sharded,
)
from mlgate.testing import RegistryRepo
from tests.serving.indexes import index_of


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
    location = index_of(repo.root, tmp_path, sharded=sharded)
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


def _sharded_with(repo: RegistryRepo, tmp_path: Path, edit: Any) -> Path:
    """A sharded index of ``repo`` whose top level ``edit`` changed, under a matching digest (what anyone who can
    write the folder can produce: only trusted keys would tell)."""
    folder = tmp_path / "idx"
    write_sharded(build_sharded(repo.root, "main"), folder)
    split = split_envelope((folder / "index.json").read_bytes())
    assert split is not None
    payload = json.loads(split[1])
    edit(payload["models"])
    (folder / "index.json").write_bytes(envelope_bytes(canonical_json(payload)))
    return folder / "index.json"


_MODEL = "fraud-detector"


def _champion(models: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = models[_MODEL]["versions"][str(models[_MODEL]["aliases"]["champion"])]
    return entry


#: what resolving models:/fraud-detector@champion reads: each edit must fail it as the general rules fail it
_READ = {
    "alias-a-string": lambda ms: ms[_MODEL]["aliases"].update(champion="1"),
    "alias-a-bool": lambda ms: ms[_MODEL]["aliases"].update(champion=True),
    "alias-zero": lambda ms: ms[_MODEL]["aliases"].update(champion=0),
    "aliases-a-list": lambda ms: ms[_MODEL].update(aliases=[1]),
    "deprecated-a-dict": lambda ms: ms[_MODEL].update(deprecated={"1": True}),
    "deprecated-holds-a-string": lambda ms: ms[_MODEL].update(deprecated=["1"]),
    "versions-a-list": lambda ms: ms[_MODEL].update(versions=[]),
    "entry-null": lambda ms: ms[_MODEL]["versions"].update({str(ms[_MODEL]["aliases"]["champion"]): None}),
    "sha256-upper-case": lambda ms: _champion(ms).update(sha256=_champion(ms)["sha256"].upper()),
    "sha256-short": lambda ms: _champion(ms).update(sha256="ab"),
    "size-negative": lambda ms: _champion(ms).update(size=-1),
    "size-a-float": lambda ms: _champion(ms).update(size=1.0),
    "uri-a-number": lambda ms: _champion(ms).update(uri=7),
    "format-a-list": lambda ms: _champion(ms).update(format=[]),
    "rollout-percent-zero": lambda ms: ms[_MODEL].update(
        rollouts={"champion": {"candidate": 2, "mode": "canary", "percent": 0}}
    ),
    "rollouts-a-list": lambda ms: ms[_MODEL].update(rollouts=[]),
    "model-a-list": lambda ms: ms.update({_MODEL: []}),
}


@pytest.mark.parametrize("edit", _READ.values(), ids=_READ.keys())
def test_what_the_answer_reads_is_refused_as_the_general_rules_refuse_it(
    repo: RegistryRepo, tmp_path: Path, edit: Any
) -> None:
    location = _sharded_with(repo, tmp_path, edit)
    fast = _outcome(f"models:/{_MODEL}@champion", serving.open_source(location), False)
    assert fast == _outcome(f"models:/{_MODEL}@champion", _General(serving.open_source(location)), False)
    assert isinstance(fast, tuple) and "is not a valid mlgate index" in fast[1]


def test_what_the_answer_does_not_read_is_refused_when_it_is_used(repo: RegistryRepo, tmp_path: Path) -> None:
    def edit(models: dict[str, Any]) -> None:
        aliases = models[_MODEL]["aliases"]
        assert aliases["challenger"] != aliases["champion"]
        models[_MODEL]["versions"][str(aliases["challenger"])]["size"] = "big"  # not the champion's artifact

    source = serving.open_source(_sharded_with(repo, tmp_path, edit))
    champion = serving.resolve(f"models:/{_MODEL}@champion", source)
    checkout = serving.resolve(f"models:/{_MODEL}@champion", serving.open_source(repo.root))
    assert (champion.version, champion.sha256, champion.size) == (checkout.version, checkout.sha256, checkout.size)
    for use in (lambda: source.aliases(_MODEL), lambda: serving.resolve(f"models:/{_MODEL}@challenger", source)):
        with pytest.raises(serving.ServingError, match=r"is not a valid mlgate index: fraud-detector version '\d+'"):
            use()


@pytest.mark.parametrize("alias", ["latest", "v1", "v12", "x.lock", "-x", "a..b", "x.", "_x", "a" * 65])
def test_an_alias_the_uri_rules_refuse_is_refused_though_an_index_holds_it(
    repo: RegistryRepo, tmp_path: Path, alias: str
) -> None:
    # a hostile index holding an alias MLflow reserves (models:/NAME@latest is the newest version, @v1 is refused)
    # or one the naming rules refuse: the URI is read as the URI rules read it, whatever the index holds
    def edit(models: dict[str, Any]) -> None:
        models[_MODEL]["aliases"][alias] = models[_MODEL]["aliases"]["champion"]  # a version the top level holds

    location = _sharded_with(repo, tmp_path, edit)
    fast = _outcome(f"models:/{_MODEL}@{alias}", serving.open_source(location), False)
    assert fast == _outcome(f"models:/{_MODEL}@{alias}", _General(serving.open_source(location)), False)
    assert fast != _outcome(f"models:/{_MODEL}@champion", serving.open_source(location), False)


def test_a_resolved_model_built_fast_is_the_dataclass(repo: RegistryRepo, tmp_path: Path) -> None:
    write_sharded(build_sharded(repo.root, "main"), tmp_path / "idx")
    got = serving.resolve("models:/search-ranker@champion", serving.open_source(tmp_path / "idx" / "index.json"))
    values = {f.name: getattr(got, f.name) for f in dataclasses.fields(serving.ResolvedModel)}
    assert vars(got) == values  # every field set, nothing else
    assert got == serving.ResolvedModel(**values) and repr(got) == repr(serving.ResolvedModel(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.version = 9  # type: ignore[misc]


def test_a_version_number_past_the_rules_is_refused_as_the_general_rules_refuse_it(
    repo: RegistryRepo, tmp_path: Path
) -> None:
    def edit(models: dict[str, Any]) -> None:
        entry = models[_MODEL]
        entry["versions"]["10000000000"] = entry["versions"][str(entry["aliases"]["champion"])]
        entry["aliases"]["champion"] = 10_000_000_000

    location = _sharded_with(repo, tmp_path, edit)
    fast = _outcome(f"models:/{_MODEL}@champion", serving.open_source(location), False)
    assert fast == _outcome(f"models:/{_MODEL}@champion", _General(serving.open_source(location)), False)
    assert isinstance(fast, tuple) and "is not a valid mlgate index" in fast[1]


@pytest.mark.parametrize("signed", [False, True])
def test_a_header_changed_under_the_same_payload_is_read_again(
    repo: RegistryRepo, tmp_path: Path, signed: bool
) -> None:
    # the poll token is the payload's sha256; a header altered alone (a wrong digest, a garbled signature) must
    # still be read and refused, as a fresh start would refuse it, and the index accepted before kept
    key = generate_key(tmp_path / "key")
    folder = tmp_path / "idx"
    write_sharded(build_sharded(repo.root, "main", key=load_signing_key(key.private) if signed else None), folder)
    location = folder / "index.json"
    source = serving.open_source(location, trusted_keys=[key.public] if signed else None, state_file=False)
    split = split_envelope(location.read_bytes())
    assert split is not None
    if signed:  # the same payload, its signature garbled
        location.write_bytes(envelope_bytes(split[1], [{"keyid": split[0]["signatures"][0]["keyid"], "sig": "AAAA"}]))
        refused: type[serving.ServingError] = serving.IndexBadSignature
    else:  # the same payload under a header naming another digest
        location.write_bytes(location.read_bytes().replace(split[0]["digest"].encode(), b"0" * 64, 1))
        refused = serving.IndexDigestMismatch
    with pytest.raises(refused):
        serving.open_source(location, trusted_keys=[key.public] if signed else None, state_file=False)
    with pytest.raises(refused):
        source.token()
    assert serving.resolve(f"models:/{_MODEL}@champion", source).name == _MODEL  # the last good index kept
