"""History's incremental cache under ``.git/mlgate/cache/``, and the fast path that prints from it.

Light on purpose (json, hashlib and the git plumbing): a repeat ``mlgate history --format jsonl`` reads the
cache, checks it, filters its lines and prints them, without importing the history walk at all; only when the
branch moved on (or there is no usable cache) is :mod:`mlgate.audit.history` imported to walk what is new.

The file: the sha256 of the rest, then a JSON header (format, the first-parent tip walked to), one line per
event, oldest first: ``gate_kind TAB kind TAB model TAB alias TAB time TAB <the event's JSON, as history
--format jsonl prints it without a forge>`` (JSON escapes every tab and newline, and names allow none), the
state to continue the walk from (each event's commit's first parent, the versions each alias held), and last
the number of events (known once the walk ends: the file is written as the walk goes).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Collection

from mlgate.core.times import parse_iso
from mlgate.errors import UsageError
from mlgate.infra.git import GitRepo

#: the cache's format: bumped whenever what an event holds, or how it is derived, changes
CACHE_FORMAT = "mlgate-history/6"


def parse_when(text: str) -> datetime:
    """A date or date-time from the command line (``2026-05-01``, ``2026-05-01T12:00:00Z``)."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cache_path(git: GitRepo) -> Path:
    # one slot per repository (worktrees share it); what makes it valid is its tip commit, not its name
    return git.common_dir() / "mlgate" / "cache" / "history-v2.jsonl"


@dataclass
class Cached:
    """What the cache holds (see the module's docstring). ``parents`` and ``held`` are read from the file's last
    line only when asked for (printing needs neither)."""

    tip: str
    _parents: dict[str, str] | None
    _held: dict[str, list[int]] | None
    lines: list[str]
    _state: str | None = None

    def _load_state(self) -> None:
        data = json.loads(self._state or "{}")
        self._parents = {_str(k): _str(v) for k, v in data["parents"].items()}
        self._held = {_str(k): [_int(v) for v in vs] for k, vs in data["held"].items()}

    @property
    def parents(self) -> dict[str, str]:
        if self._parents is None:
            self._load_state()
        assert self._parents is not None
        return self._parents

    @property
    def held(self) -> dict[str, list[int]]:
        if self._held is None:
            self._load_state()
        assert self._held is not None
        return self._held


def _str(x: Any) -> str:
    if not isinstance(x, str):
        raise TypeError(x)
    return x


def _int(x: Any) -> int:
    if not isinstance(x, int) or isinstance(x, bool):
        raise TypeError(x)
    return x


def read_cache(path: Path, *, lazy: bool = False) -> Cached | None:
    """The cache at ``path``, or None when there is none or it is not exactly one this code wrote (damaged,
    truncated, another format): it is then rebuilt, never trusted."""
    try:
        raw = path.read_bytes()
        digest, _, body = raw.partition(b"\n")
        if hashlib.sha256(body).hexdigest().encode() != digest:
            return None
        text = body.decode("utf-8")
        header, _, rest = text.partition("\n")
        data = json.loads(header)
        if data.get("format") != CACHE_FORMAT:
            return None
        *lines, state, trailer, end = rest.split("\n")
        if end or len(lines) != _int(json.loads(trailer)["events"]) or any(line.count("\t") < 5 for line in lines):
            return None
        cached = Cached(_str(data["tip"]), None, None, lines, state)
        if not lazy:
            cached._load_state()
        return cached
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


class CacheBody:
    """The cache file, built while the walk goes: each segment's lines encoded and hashed as they come (while
    git still walks), so that writing the file at the end costs little more than the disk."""

    def __init__(self, tip: str) -> None:
        self.tip = tip
        self._digest = hashlib.sha256()
        self._parts: list[bytes] = []
        self._events = 0
        self._add(json.dumps({"format": CACHE_FORMAT, "tip": tip}) + "\n")

    def _add(self, text: str) -> None:
        part = text.encode("utf-8", "surrogatepass")
        self._digest.update(part)
        self._parts.append(part)

    def add(self, lines: list[str]) -> None:
        """The next events' lines, oldest first."""
        if lines:
            self._add("\n".join(lines) + "\n")
            self._events += len(lines)

    def write(self, path: Path, parents: dict[str, str], held: dict[str, list[int]]) -> None:
        """Write the file (a temporary file renamed over the old one); a read-only repository keeps none."""
        from mlgate.infra.files import atomic_output

        self._add(json.dumps({"parents": parents, "held": held}, separators=(",", ":")) + "\n")
        self._add(json.dumps({"events": self._events}) + "\n")
        try:
            with atomic_output(path, durable=False) as out:
                out.write(self._digest.hexdigest().encode() + b"\n")
                for part in self._parts:
                    out.write(part)
        except OSError:
            pass  # read-only: every run walks (the output is the same)


def write_cache(path: Path, cache: Cached) -> None:
    """Write the cache (a temporary file renamed over the old one); a read-only repository keeps none."""
    body = CacheBody(cache.tip)
    body.add(cache.lines)
    body.write(path, cache.parents, cache.held)


def cached_jsonl(
    repo_path: str | os.PathLike[str] = ".",
    *,
    ref: str = "main",
    model: str | None = None,
    alias: str | None = None,
    since: datetime | None = None,
    kinds: Collection[str] | None = None,
) -> str | None:
    """What ``mlgate history --format jsonl`` prints without a forge (latest first), straight from the cache's
    lines when the cache is at ``ref``'s commit: no event is rebuilt to be printed. None when the cache cannot
    answer alone (none, stale, or no event of the model asked for): :func:`mlgate.audit.history.history_jsonl`
    then walks what is new."""
    if alias and not model:
        raise UsageError("--alias needs a MODEL")
    git = GitRepo(repo_path)
    try:
        head = git.resolve(ref)
        cache = read_cache(cache_path(git), lazy=True)
    finally:
        git.close()
    if cache is None or cache.tip != head:
        return None
    return select(cache, model=model, alias=alias, since=since, kinds=kinds)


def select(
    cache: Cached,
    *,
    model: str | None = None,
    alias: str | None = None,
    since: datetime | None = None,
    kinds: Collection[str] | None = None,
) -> str | None:
    """The cache's event lines for these filters, latest first (None: a model with no event at all, for
    :func:`mlgate.audit.history.history` to say exactly why)."""
    out = []
    for line in reversed(cache.lines):
        _, kind, m, a, time_, raw = line.split("\t", 5)
        if (model and m != model) or (alias and a != alias) or (kinds is not None and kind not in kinds):
            continue
        if since is not None and (parse_iso(time_) or since) < since:
            continue
        out.append(raw + "\n")
    if model and not out and kinds is None and since is None:
        return None
    return "".join(out)
