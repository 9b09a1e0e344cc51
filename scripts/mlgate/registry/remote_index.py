"""Writing the serving index to an object store (``mlgate index -o s3://...``, or any fsspec URL the artifact
store accepts: gs://, az://, memory://...), in the order that keeps every poller safe.

A replica polling the index while it is published never sees half an index, nor a top level naming a shard
that is not there yet:

1. each object is written whole (:func:`mlgate.infra.store.write_whole`: on S3 one PUT, or past 100 MB a
   multipart upload completed only when whole; elsewhere a temporary name renamed into place);
2. the sharded layout's shards go up first, many at once (content-addressed: a new shard never replaces one a
   replica is reading; one already there is not sent again), the shards of unchanged models are checked present
   (one listing) or copied from the previous index's location, and ``index.json`` goes up last, once every shard
   is up;
3. only then are the shards removed that neither the new ``index.json`` nor the one it replaced names (a replica
   that read the replaced one still finds its shards until the next publication).

A failure at any step (no such bucket, access denied, a dropped connection) stops there: the top level in
place is the previous one, and every shard it names is still there. No bucket is ever created.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from mlgate.core.indexfmt import SHARDS_DIR, TOP_LEVEL, shard_path, split_envelope
from mlgate.errors import StoreError, UsageError
from mlgate.infra.store import bounded, object_sizes, open_uri, remove_objects, write_objects, write_whole

#: a shard's path under the index's folder: what pruning may remove (nothing else under the prefix is touched)
_SHARD = re.compile(rf"{SHARDS_DIR}/([^/]+)/[0-9a-f]{{64}}\.json")
MAX_TOP_LEVEL = 1 << 30


def folder_of(url: str) -> str:
    """The folder a sharded index is written into: ``-o s3://b/p`` or ``-o s3://b/p/index.json`` (what serving
    opens) both mean ``s3://b/p``."""
    url = url.rstrip("/")
    return url[: -len(TOP_LEVEL) - 1] if url.endswith(f"/{TOP_LEVEL}") else url


def put_single(data: bytes, url: str) -> None:
    """The single-file index written whole as the object ``url``."""
    if url.endswith("/"):
        raise UsageError(f"-o {url}: name the object the index is written as (e.g. {url}registry-index.json)")
    write_whole(url, data, "the index")


def put_sharded(index: Any, url: str) -> None:
    """The sharded index (a :class:`mlgate.registry.index.ShardedIndex`, which imports this module) written into
    the folder ``url`` (see the module's docstring for the order)."""
    base = folder_of(url)
    present = object_sizes(f"{base}/{SHARDS_DIR}", "the index's shards")
    present = {f"{SHARDS_DIR}/{k}": v for k, v in present.items()}
    same = index.previous_base is not None and folder_of(index.previous_base) == base
    replaced = _names(index.previous_payload) if same else _names_at(f"{base}/{TOP_LEVEL}")
    uploads: dict[str, bytes] = {}
    for name, shard in index.shards.items():
        path = shard_path(name, index.models[name]["shard"]["sha256"])
        if present.get(path) != len(shard):
            uploads[f"{base}/{path}"] = shard
    for name, entry in index.models.items():
        if name in index.shards:
            continue
        path = shard_path(name, entry["shard"]["sha256"])
        if present.get(path) == entry["shard"]["size"]:
            continue
        if index.previous_base is None or same:
            raise UsageError(
                f"--previous: the shard of model {name!r} the previous index names is missing at {base}/{path}; "
                "build without --previous to write every shard again"
            )
        uploads[f"{base}/{path}"] = read_shard(index.previous_base, name, entry["shard"])
    write_objects(uploads, "the index's shards")  # all of them up before the top level that names them
    write_whole(f"{base}/{TOP_LEVEL}", index.envelope, "the index")
    keep = {shard_path(n, e["shard"]["sha256"]) for n, e in index.models.items()} | replaced
    remove_objects(
        [f"{base}/{p}" for p in sorted(present) if p not in keep and _SHARD.fullmatch(p)], "the replaced shards"
    )


def read_shard(previous_base: str, name: str, shard: dict[str, Any]) -> bytes:
    """A model's shard from the previous index's folder (a path or URL), refused unless it is the one named."""
    where = f"{folder_of(previous_base)}/{shard_path(name, shard['sha256'])}"
    try:
        with open_uri(where) as stream:
            data = b"".join(bounded(stream, shard["size"] + 1))
    except OSError as e:
        raise UsageError(f"--previous: cannot read the shard {where}: {e.strerror or e}") from None
    if hashlib.sha256(data).hexdigest() != shard["sha256"]:
        raise UsageError(f"--previous: the shard {where} does not match its sha256; refusing it")
    return data


def _names(payload: dict[str, Any] | None) -> set[str]:
    """The shard paths a top-level payload names (nothing if it is not one)."""
    try:
        return {shard_path(m, e["shard"]["sha256"]) for m, e in (payload or {}).get("models", {}).items()}
    except (AttributeError, KeyError, TypeError):
        return set()


def _names_at(url: str) -> set[str]:
    """The shard paths the index.json at ``url`` names: nothing when there is none or it is not one; a store
    error (access denied...) stops the publication before anything is written."""
    try:
        with open_uri(url) as stream:
            raw = b"".join(bounded(stream, MAX_TOP_LEVEL))
    except FileNotFoundError:
        return set()
    except OSError as e:
        raise StoreError(f"cannot read the index in place at {url}: {e.strerror or e}") from None
    split = split_envelope(raw)
    try:
        return _names(json.loads(split[1])) if split is not None else set()
    except (ValueError, RecursionError):
        return set()
