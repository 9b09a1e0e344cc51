"""Audit history: who registered, promoted, rolled back, deprecated or rolled out what, when, approved by whom.

Built from the first-parent history of the target branch with one ``git log --reverse`` process (raw diffs),
whose commits are turned into events a segment at a time while git walks on; the objects they need through one
``git cat-file --batch`` (an alias file in mlgate's plain form is known by its git id, not read); and, when a
forge is configured, the approvers of each pull request, fetched once per pull request and cached on disk. The
events since a commit (what ``mlgate notify`` sends) are read from the cache, or from a walk of those commits
alone.

Progressive rollouts (the alias file's ``rollout:`` block) are events of their own: ``rollout-start``,
``rollout-step`` (up, or down when a step's merge is reverted), ``rollout-complete`` (one event: the alias
moves from the holder to the candidate, so it is also the promotion), ``rollout-abort`` (the block removed
with the version kept: an abort, or a ``git revert`` of the start, which names the start in ``reverts``)
and ``rollout-evidence`` (an OnlineEvaluation written for the rollout's current step). Alias files in
mlgate's plain form still go through the alias reader's fast path; only files with a rollout block (or
anything else the fast path is unsure of) are parsed in full.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Collection, Iterable, Iterator, Mapping, TypedDict

from mlgate.audit.cache import CacheBody, Cached, cache_path, read_cache, select, write_cache
from mlgate.audit.cache import parse_when as parse_when  # re-exported: the command line's dates
from mlgate.core import layout
from mlgate.core.events import (
    DEPRECATION,
    POLICY_CHANGE,
    PROMOTION,
    REGISTRATION,
    REJECTED,
    REMOVAL,
    ROLLBACK,
    ROLLOUT_ABORT,
    ROLLOUT_COMPLETE,
    ROLLOUT_EVIDENCE,
    ROLLOUT_START,
    ROLLOUT_STEP,
    UNDEPRECATION,
    VERSION_REMOVED,
    EventKind,
    GateKind,
)
from mlgate.core.layout import LayoutError
from mlgate.core.rollout import RolloutChange
from mlgate.core.rollout import classify as classify_rollout
from mlgate.core.times import normalize, parse_iso
from mlgate.errors import GitError, ManifestError, MlgateError, NotFoundError, UnknownAlias, UnknownModel, UsageError
from mlgate.infra.git import BatchReader, Commit, GitRepo, GitTree

if TYPE_CHECKING:  # imported where they are used: history's common path needs none of them (nor PyYAML)
    from mlgate.check.rollback import Claim, RollbackProver
    from mlgate.core.model import Rollout
    from mlgate.core.signoff import ApprovalCount, PullRequest

UNKNOWN = "unknown"

_MERGE = re.compile(r"^Merge pull request #(\d+) from ")
_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
_REVERT = re.compile(r"^This reverts commit ([0-9a-f]{7,40})", re.M)


@dataclass(frozen=True)
class Approver:
    login: str
    at: str


@dataclass(frozen=True)
class NotCounted:
    """A reviewer whose review the gate did not count, and why (stale, the author, a bot, not allowed...)."""

    login: str
    reason: str


@dataclass(frozen=True)
class Evidence:
    """What an OnlineEvaluation said: the holder, the window, requests and live metrics per arm. Fields the
    file does not state well are None (or empty): history shows what is on the branch, the validator judges it."""

    holder: int | None
    window_start: str | None
    window_end: str | None
    requests_candidate: int | None
    requests_holder: int | None
    metrics_candidate: Mapping[str, float]
    metrics_holder: Mapping[str, float]
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "window": {"start": self.window_start, "end": self.window_end},
            "requests": {"candidate": self.requests_candidate, "holder": self.requests_holder},
            "metrics": {"candidate": dict(self.metrics_candidate), "holder": dict(self.metrics_holder)},
            "source": self.source,
        }


@dataclass(frozen=True)
class RolloutInfo:
    """The rollout a rollout event starts, steps, completes, aborts or brings evidence for.

    ``from_percent``/``to_percent`` are the candidate's share before and after the change (None: no rollout,
    so a start has no ``from_percent`` and a completion or abort no ``to_percent``; evidence changes no share,
    so both are the step it was collected at). ``problem`` says why the change is not one well-formed rollout
    change (core.rollout's words), None when it is.
    """

    candidate: int
    mode: str
    from_percent: float | None
    to_percent: float | None
    problem: str | None = None
    evidence: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "mode": self.mode,
            "from_percent": self.from_percent,
            "to_percent": self.to_percent,
            "problem": self.problem,
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }


@dataclass(frozen=True)
class Event:
    """One change to the registry on the target branch."""

    time: str
    kind: EventKind
    model: str | None
    alias: str | None
    from_version: int | None
    to_version: int | None
    commit: str
    pr: int | None
    author: str
    merger: str | None
    approvers: tuple[Approver, ...] | None  # None: unknown (no forge, or it could not be reached)
    subject: str
    reverts: str | None = None
    not_counted: tuple[NotCounted, ...] | None = None  # reviews the gate did not count; None: unknown
    #: the kind the gate judged the change as (a revert trailer makes a "rollback" event, but the gate's
    #: rollback rule applies only to a return to a version the alias held before; a rollout step down is
    #: judged as "rollout-step-down")
    gate_kind: str | None = field(default=None, repr=False, compare=False)
    #: the rollout a rollout event is about (also set on a promotion or rollback that ends or resumes one)
    rollout: RolloutInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "kind": self.kind,
            "model": self.model,
            "alias": self.alias,
            "from": self.from_version,
            "to": self.to_version,
            "commit": self.commit,
            "pr": self.pr,
            "author": self.author,
            "merger": self.merger,
            "approvers": UNKNOWN
            if self.approvers is None
            else [{"login": a.login, "at": a.at} for a in self.approvers],
            "not_counted": UNKNOWN
            if self.not_counted is None
            else [{"login": n.login, "reason": n.reason} for n in self.not_counted],
            "subject": self.subject,
            "reverts": self.reverts,
            "rollout": None if self.rollout is None else self.rollout.to_dict(),
        }


@dataclass
class History:
    """Events, latest first, and anything that kept the history from being complete."""

    ref: str
    commit: str
    events: list[Event]
    warnings: list[str] = field(default_factory=list)


_UTC_ALREADY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00")


def _utc(iso: str) -> str:
    if _UTC_ALREADY.fullmatch(iso):  # git's %cI of a UTC commit: only the suffix differs (most commits)
        return iso[:19] + "Z"
    return normalize(iso)


def pr_number(commit: Commit) -> int | None:
    """The pull request a commit on the target branch came from, by GitHub's merge and squash messages."""
    m = _MERGE.match(commit.subject) or _SQUASH.search(commit.subject)
    return int(m.group(1)) if m else None


def _deprecated(blob: bytes | None, path: str) -> set[int]:
    if blob is None or (b"deprecated" not in blob and b"\\" not in blob):
        # no key can spell "deprecated" without the word or an escape: skip parsing (most model.yaml files)
        return set()
    from mlgate.registry.readers import deprecations

    try:
        return set(deprecations(blob, path))
    except ManifestError:
        return set()


def _author_and_message(raw_commit: bytes) -> tuple[str | None, str]:
    """The author name and message of a raw commit object."""
    header, _, message = raw_commit.partition(b"\n\n")
    at = header.rfind(b"\nauthor ")  # a commit's header has one author line, after its tree and parents
    if at < 0:
        return None, message.decode(errors="replace")
    end = header.find(b"\n", at + 1)
    line = header[at + 8 : end if end >= 0 else len(header)]
    return line.rsplit(b" <", 1)[0].decode(errors="replace"), message.decode(errors="replace")


def _never_existed(git: GitRepo, head: str, ref: str, model: str, alias: str | None) -> NotFoundError:
    """No commit of ``ref`` ever touched this model (or alias): a typo, never an empty history."""
    from mlgate.core.uris import unknown

    tree = git.tree(head)
    if alias:
        models = tree.listdir(layout.model_dir(model)) is not None
        if models:
            known = layout.alias_names(tree.listdir(f"{layout.model_dir(model)}/aliases") or {})
            return UnknownAlias(unknown("alias", alias, known, where=f"of model {model!r} was ever on {ref}"))
    known = sorted(n for n in (tree.listdir(layout.MODELS) or {}) if layout.is_name(n))
    return UnknownModel(unknown("model", model, known, where=f"was ever on {ref}"))


def history(
    repo_path: str | os.PathLike[str] = ".",
    *,
    ref: str = "main",
    model: str | None = None,
    alias: str | None = None,
    since: datetime | None = None,
    forge: Any = None,
    include_rejected: bool = False,
    kinds: Collection[str] | None = None,
    since_commit: str | None = None,
) -> History:
    """The registry's events on ``ref``'s first-parent history, latest first.

    With a forge, a commit whose subject names no pull request (a rebase merge, a direct push) is looked
    up with the forge; with ``include_rejected``, pull requests closed without merge are events too; with
    ``kinds``, only events of those kinds. With ``since_commit``, only the events of the first-parent commits
    after it, exactly as the whole history has them, at the cost of those commits (see :func:`_range_events`).
    """
    if alias and not model:
        raise UsageError("--alias needs a MODEL")
    if include_rejected and forge is None:
        raise UsageError("--include-rejected needs a forge: pass --forge github (or local)")
    git = GitRepo(repo_path)
    try:
        head = git.resolve(ref)
        if model:
            pathspec = (
                [layout.alias_path(model, alias), f"{layout.model_dir(model)}/{layout.ONLINE}/{alias}/"]
                if alias
                else [layout.model_dir(model) + "/"]
            )
        else:
            pathspec = [layout.REGISTRY + "/"]
        cached = (
            _range_events(git, head, since_commit, pathspec, model, alias)
            if since_commit is not None
            else _registry_events(git, head, build=model is None)
        )
        events: list[Event] = []
        if cached is not None:
            events, parents = cached
            if model:
                events = [e for e in events if e.model == model and (not alias or e.alias == alias)]
        if since_commit is None and (cached is None or (model and not events)):
            # a model's own history, no cache at hand: a path-limited walk (and an exact "never existed")
            segments, reader = _log(git, head, pathspec)
            try:
                commits = [c for segment in segments for c in segment]
            except BaseException:
                reader.close()
                raise
            if model and not commits:
                reader.close()
                raise _never_existed(git, head, ref, model, alias)
            events, parents, _ = _walk(git, [commits], reader, model, alias, {})
        if kinds is not None:
            events = [e for e in events if e.kind in kinds]  # before the forge is asked about any of them
        result = History(ref, head, [])
        asked: set[str] = set()
        if forge is not None:
            unnamed = sorted({e.commit for e in events if e.pr is None})
            found = _pulls_of_commits(repo_path, forge, unnamed, result.warnings)
            asked = set(found)
            events = [replace(e, pr=found[e.commit]) if e.commit in found else e for e in events]
        info = (
            _forge_info(repo_path, forge, {e.pr for e in events if e.pr is not None}, result.warnings) if forge else {}
        )
        counter = _Counter(git, forge) if forge else None
        final = [] if forge is not None else list(events)  # no forge: the events as the walk found them
        for e in events if forge is not None else ():
            author, merger = e.author, e.merger
            approvers: tuple[Approver, ...] | None = None
            not_counted: tuple[NotCounted, ...] | None = None
            pr = e.pr
            if (
                pr is not None
                and e.commit not in asked
                and pr in info
                and info[pr].get("merge_commit") not in (None, e.commit)
            ):
                # the subject says "(#N)" or "Merge pull request #N", but the forge merged #N as another
                # commit: anyone can write such a subject, so this commit is not credited to #N
                result.warnings.append(
                    f"{e.commit[:12]} names #{pr}, which the forge merged as "
                    f"{str(info[pr]['merge_commit'])[:12]}: not credited to #{pr}"
                )
                pr = None
            if pr is not None and pr in info and counter is not None:
                pull = _pull_request(pr, info[pr])
                author = pull.author or author
                merger = pull.merged_by or merger
                count = counter.count(e, pull, parents.get(e.commit))
                # when each counted approval was given: the reviewer's latest APPROVED review, not a later comment
                at = {r.user.lower(): r.submitted_at for r in pull.reviews if r.user and r.state == "APPROVED"}
                approvers = tuple(Approver(u, at.get(u.lower(), "")) for u in count.counted)
                not_counted = tuple(NotCounted(u, why) for u, why in count.ignored)
            elif forge is not None and pr is None:
                approvers, not_counted = (), ()  # no pull request: nobody approved it
            # built field by field, not with dataclasses.replace: this loop runs once per event (tens of thousands)
            final.append(
                Event(
                    e.time,
                    e.kind,
                    e.model,
                    e.alias,
                    e.from_version,
                    e.to_version,
                    e.commit,
                    pr,
                    author,
                    merger,
                    approvers,
                    e.subject,
                    e.reverts,
                    not_counted,
                    rollout=e.rollout,
                )
            )
        if include_rejected and (kinds is None or REJECTED in kinds):
            final += _rejected(forge, ref, model, alias, counter, head)
    finally:
        git.close()
    if since is not None:
        final = [e for e in final if (parse_iso(e.time) or since) >= since]
    result.events = sorted(final, key=lambda e: e.time, reverse=True) if include_rejected else list(reversed(final))
    return result


# --- the walk, and its incremental cache under .git/mlgate/ -----------------------------------------------


def _log(
    git: GitRepo, head: str, pathspec: list[str], exclude: str | None = None, *, size: int = 500
) -> tuple[Iterator[list[Commit]], BatchReader]:
    """The first-parent commits of ``head`` touching ``pathspec`` (after ``exclude``), in segments of ``size``
    commits oldest first (:meth:`GitRepo.log_segments`), and an object reader already reading each merged
    branch's head commit (asked for as soon as git has written it). Close the reader (:func:`_walk` does)."""
    reader = git.batch_reader()

    def prefetch(commits: list[Commit]) -> None:
        # each merged branch's head: the change's author, and a revert trailer if it is a revert
        reader.ask([c.parents[1] for c in commits if len(c.parents) > 1])

    # only YAML files make events (a version's card and evidence files are left out as git's output is read)
    segments = git.log_segments(
        head, pathspec, exclude=exclude, on_commits=prefetch, suffix=".yaml", skip="/eval.yaml", size=size
    )
    return segments, reader


def _walk(
    git: GitRepo,
    segments: Iterable[list[Commit]],
    reader: BatchReader,
    model: str | None,
    alias: str | None,
    held: dict[str, list[int]],
    *,
    lines: list[str] | None = None,
    body: CacheBody | None = None,
    plain: bool = True,
) -> tuple[list[Event], dict[str, str], dict[str, list[int]]]:
    """The events of the commits of ``segments`` (oldest first; authors of merged branches resolved), each
    event's commit's first parent, and ``held`` brought up to date; with ``lines``, their cache lines added
    to it (and to ``body``, the cache file being built). Each segment's events are built as soon as git has written it (while it walks the next ones);
    ``reader`` (from :func:`_log`) reads the blobs too, and is closed. Without ``plain``, every alias file is
    read and parsed (the general path, which the tests hold the short cut to)."""
    memo = _Memo(plain)
    out: list[Event] = []
    parents: dict[str, str] = {}
    try:
        for commits in segments:
            # alias files in mlgate's own form are known by their ids alone; every other blob is read
            wanted = memo.learn(commits, git.id_width)
            merges = [c for c in commits if len(c.parents) > 1 and c.files]
            reader.ask([c.parents[1] for c in merges])  # asked already while git walked: each is read once
            reader.ask(wanted)
            objects = reader.answers()
            merged_heads = {c.sha: _author_and_message(objects.get(c.parents[1], b"")) for c in merges}
            events = _events(
                commits,
                objects,
                model,
                alias,
                {sha: msg for sha, (_, msg) in merged_heads.items()},
                held,
                {sha: author for sha, (author, _) in merged_heads.items()},
                memo,
                proofs=_Proofs(git, objects),
            )
            firsts = {e.commit for e in events}
            parents.update((c.sha, c.parents[0]) for c in commits if c.parents and c.sha in firsts)
            out += events
            if lines is not None:
                more = _lines(events)
                lines += more
                if body is not None:
                    body.add(more)
    finally:
        reader.close()
    return out, parents, held


def _range_events(
    git: GitRepo, head: str, since: str, pathspec: list[str], model: str | None, alias: str | None
) -> tuple[list[Event], dict[str, str]]:
    """The events of ``head``'s first-parent commits after ``since`` (and each one's first parent), exactly as
    the whole history has them: from the cache when it is at hand, else from a walk of those commits alone.

    What an event of the range says can depend on what came before it: a move of an alias to a version it
    held before is a rollback. The walk starts from what each alias it sees changed held just before the
    range (read from that commit's tree: one ``ls-tree``), and a move back that the pull request proves (the
    validator's proof) needs nothing more; a move to another version, not held earlier in the range, is
    settled by the alias file's own history (a path-limited ``git log`` of those alias files alone).
    """
    try:
        start = git.resolve(since)
    except GitError:
        raise UsageError(f"since_commit {since!r} is not a commit of this repository") from None
    in_range = set(git.git("rev-list", "--first-parent", head, f"^{start}").split())
    if not in_range:
        return [], {}
    cached = _registry_events(git, head, build=False, commits=in_range)  # a cache at hand: nothing to walk
    if cached is not None:
        events, parents = cached
        return [e for e in events if (not model or e.model == model) and (not alias or e.alias == alias)], parents
    segments, reader = _log(git, head, pathspec, exclude=start)
    try:
        commits = [c for segment in segments for c in segment]
        boundary = commits[0].parents[0] if commits and commits[0].parents else None
        memo = _Memo()
        wanted = memo.learn(commits, git.id_width)
        merges = [c for c in commits if len(c.parents) > 1 and c.files]
        reader.ask([c.parents[1] for c in merges])
        reader.ask(wanted)
        before = _tree_blobs(git, boundary, sorted({f.path for c in commits for f in c.files if "/aliases/" in f.path}))
        reader.ask(before.values())
        objects = reader.answers()
    finally:
        reader.close()
    merged_heads = {c.sha: _author_and_message(objects.get(c.parents[1], b"")) for c in merges}
    messages = {sha: msg for sha, (_, msg) in merged_heads.items()}
    authors = {sha: author for sha, (author, _) in merged_heads.items()}
    proofs = _Proofs(git, objects)
    seed: dict[str, set[int]] = {}
    for path, oid in before.items():
        version, _ = _alias_state(objects.get(oid), path)
        if version is not None:
            seed[path] = {version}

    def run(held_before: dict[str, set[int]]) -> tuple[list[Event], set[tuple[str, int]]]:
        unsure: set[tuple[str, int]] = set()
        held = {path: sorted(versions) for path, versions in held_before.items()}
        events = _events(commits, objects, model, alias, messages, held, authors, memo, unsure, proofs)
        return events, unsure

    events, unsure = run(seed)
    if unsure and boundary is not None:
        found = _held_before(git, boundary, unsure)
        if found:
            for path, version in found:
                seed.setdefault(path, set()).add(version)
            events, _ = run(seed)
    firsts = {e.commit for e in events}
    return events, {c.sha: c.parents[0] for c in commits if c.parents and c.sha in firsts}


def _tree_blobs(git: GitRepo, commit: str | None, paths: list[str]) -> dict[str, str]:
    """The blob at each of ``paths`` in ``commit``'s tree (paths with no file there are left out)."""
    if commit is None or not paths:
        return {}
    found: dict[str, str] = {}
    for record in git.git("ls-tree", "-z", "--full-tree", commit, "--", *paths).split("\0"):
        meta, _, path = record.partition("\t")
        if meta.count(" ") == 2 and meta.split(" ")[1] == "blob":
            found[path] = meta.split(" ")[2]
    return found


def _held_before(git: GitRepo, commit: str, pairs: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of ``pairs`` (alias path, version) the alias held at ``commit`` or at a first-parent commit before
    it: the alias files' own history (a path-limited walk, cut into a run per CPU when it is long)."""
    wanted = set(pairs)
    paths = sorted({path for path, _ in wanted})
    plain: dict[str, int] = {}  # the ids of the wanted versions' plain files: no read for those
    digest = hashlib.sha1 if git.id_width == 20 else hashlib.sha256
    for path, version in wanted:
        parts = path.split("/")
        if len(parts) == 5 and layout.is_name(parts[2]) and layout.is_name(parts[4][:-5]):
            text = plain_alias_text(parts[2], parts[4][:-5], version)
            plain[digest(b"blob %d\0%s" % (len(text), text)).hexdigest()] = version
    changes = [(f.path, f.new) for c in git.log_changes(commit, paths) for f in c.files if f.new and f.path in paths]
    reader = git.batch_reader()
    try:
        reader.ask(oid for _, oid in changes if oid not in plain)
        blobs = reader.answers()
    finally:
        reader.close()
    found: set[tuple[str, int]] = set()
    for path, oid in changes:
        held = plain[oid] if oid in plain else _alias_state(blobs.get(oid), path)[0]
        if held is not None and (path, held) in wanted:
            found.add((path, held))
    return found


def _registry_cache(git: GitRepo, head: str, *, build: bool) -> tuple[Cached, list[Event] | None] | None:
    """Every event of the registry on ``head``'s first-parent history, through the cache: the cached events up
    to a commit ``T`` are reused only when ``T`` is ``head`` or on ``head``'s first-parent chain (checked by git:
    the oldest commit it lists after ``T`` has ``T`` as its first parent), so a rewritten or foreign history
    is walked again. Without a usable cache: None, unless ``build`` (then the whole walk, and the cache
    written). With the cache, the events when they were just walked (None: read them from the cache's lines)."""
    path = cache_path(git)
    cache = read_cache(path)
    if cache is not None:
        if cache.tip == head:
            return cache, None
        segments, reader = _log(git, head, [layout.REGISTRY + "/"], exclude=cache.tip)
        try:
            new = [c for segment in segments for c in segment]
        except GitError:
            new = []  # the tip is no commit here (a foreign cache): walk it all
        if new and new[0].parents and new[0].parents[0] == cache.tip:
            extended = list(cache.lines)
            _, more_parents, held = _walk(git, [new], reader, None, None, cache.held, lines=extended)
            cache = Cached(head, {**cache.parents, **more_parents}, held, extended)
            write_cache(path, cache)
            return cache, None
        reader.close()
    if not build:
        return None
    segments, reader = _log(git, head, [layout.REGISTRY + "/"])
    lines: list[str] = []
    body = CacheBody(head)
    events, parents, held = _walk(git, segments, reader, None, None, {}, lines=lines, body=body)
    body.write(path, parents, held)
    return Cached(head, parents, held, lines), events


def history_jsonl(
    repo_path: str | os.PathLike[str] = ".",
    *,
    ref: str = "main",
    model: str | None = None,
    alias: str | None = None,
    since: datetime | None = None,
    kinds: Collection[str] | None = None,
) -> str | None:
    """:func:`mlgate.audit.cache.cached_jsonl` after walking what the cache lacks (and updating it); None when
    this path cannot answer (a model's history with no cache, or no event of it: :func:`history` then says
    exactly why)."""
    if alias and not model:
        raise UsageError("--alias needs a MODEL")
    git = GitRepo(repo_path)
    try:
        found = _registry_cache(git, git.resolve(ref), build=model is None)
    finally:
        git.close()
    return None if found is None else select(found[0], model=model, alias=alias, since=since, kinds=kinds)


def _registry_events(
    git: GitRepo, head: str, *, build: bool, commits: Collection[str] | None = None
) -> tuple[list[Event], dict[str, str]] | None:
    """:func:`_registry_cache`'s events (with ``commits``, only those of these commits; read back from the
    cache's lines, only the lines that name one of them are parsed)."""
    found = _registry_cache(git, head, build=build)
    if found is None:
        return None
    cache, walked = found
    if walked is None:
        lines = cache.lines
        if commits is not None:  # only the lines of these commits are parsed (the JSON names its commit once)
            lines = [line for line in lines if _line_commit(line) in commits]
        events = [_event_from_line(line) for line in lines]
        if commits is not None:
            events = [e for e in events if e.commit in commits]
        return events, cache.parents
    # just walked: the events as their cache lines would give them back (a metric of online evidence is read
    # back as a float), without reading back every line
    events = [
        _event_from_line(line) if e.rollout is not None and e.rollout.evidence is not None else e
        for e, line in zip(walked, cache.lines, strict=True)
    ]
    return [e for e in events if commits is None or e.commit in commits], cache.parents


_COMMIT_KEY = '"commit": "'


def _line_commit(line: str) -> str:
    """The commit a cache line's event names (JSON escapes every quote inside a string, so the key's first
    occurrence is the key; the fields before it are names, kinds and a time)."""
    at = line.find(_COMMIT_KEY) + len(_COMMIT_KEY)
    return line[at : line.find('"', at)]


def _lines(events: list[Event]) -> list[str]:
    """The cache's line of each event (see :mod:`mlgate.audit.cache`): its JSON as ``json`` writes
    ``Event.to_dict()``, built from parts, the fields an event shares with its commit's other events written
    once per commit (a property test holds this to ``json`` on generated events)."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    text = json.encoder.encode_basestring  # how that encoder writes a string

    def opt(x: Any) -> str:
        return "null" if x is None else text(x)

    def num(x: Any) -> str:
        return "null" if x is None else str(x)

    out: list[str] = []
    key: tuple[Any, ...] | None = None
    shared = ""
    for e in events:
        prefix = f"{e.gate_kind or ''}\t{e.kind}\t{e.model or ''}\t{e.alias or ''}\t{e.time}\t"
        if not _plain_fields(e):
            out.append(prefix + encode(e.to_dict()))
            continue
        if key is None or key != (e.commit, e.pr, e.author, e.merger, e.subject, e.reverts):
            key = (e.commit, e.pr, e.author, e.merger, e.subject, e.reverts)
            shared = (
                f', "commit": {text(e.commit)}, "pr": {num(e.pr)}, "author": {text(e.author)}, '
                f'"merger": {opt(e.merger)}, "approvers": "unknown", "not_counted": "unknown", '
                f'"subject": {text(e.subject)}, "reverts": {opt(e.reverts)}, "rollout": '
            )
        out.append(
            f'{prefix}{{"time": {text(e.time)}, "kind": {text(e.kind)}, "model": {opt(e.model)}, '
            f'"alias": {opt(e.alias)}, "from": {num(e.from_version)}, "to": {num(e.to_version)}{shared}'
            f"{'null' if e.rollout is None else encode(e.rollout.to_dict())}}}"
        )
    return out


_STR = frozenset((str,))
_STR_OR_NONE = frozenset((str, type(None)))
_INT_OR_NONE = frozenset((int, type(None)))


def _plain_fields(e: Event) -> bool:
    """Whether every field of ``e`` but its rollout is a plain string, int or None where it should be (and
    no approvers: a cached event holds none), so that :func:`_lines` may write it from parts."""
    return (
        e.approvers is None
        and e.not_counted is None
        and {type(e.time), type(e.kind), type(e.commit), type(e.author), type(e.subject)} <= _STR
        and {type(e.model), type(e.alias), type(e.merger), type(e.reverts)} <= _STR_OR_NONE
        and {type(e.from_version), type(e.to_version), type(e.pr)} <= _INT_OR_NONE
    )


def _str(x: Any) -> str:
    if not isinstance(x, str):
        raise TypeError(x)
    return x


def _opt(x: Any, kind: type | tuple[type, ...]) -> Any:
    if x is not None and (not isinstance(x, kind) or isinstance(x, bool)):
        raise TypeError(x)
    return x


def _rollout_from(d: Any) -> RolloutInfo | None:
    if d is None:
        return None
    ev = d["evidence"]
    evidence = None
    if ev is not None:
        evidence = Evidence(
            holder=_opt(ev["holder"], int),
            window_start=_opt(ev["window"]["start"], str),
            window_end=_opt(ev["window"]["end"], str),
            requests_candidate=_opt(ev["requests"]["candidate"], int),
            requests_holder=_opt(ev["requests"]["holder"], int),
            metrics_candidate={_str(k): float(v) for k, v in ev["metrics"]["candidate"].items()},
            metrics_holder={_str(k): float(v) for k, v in ev["metrics"]["holder"].items()},
            source=_opt(ev["source"], str),
        )
    return RolloutInfo(
        candidate=d["candidate"],
        mode=_str(d["mode"]),
        from_percent=_opt(d["from_percent"], (int, float)),
        to_percent=_opt(d["to_percent"], (int, float)),
        problem=_opt(d["problem"], str),
        evidence=evidence,
    )


def _event_from_line(line: str) -> Event:
    gate_kind, _, _, _, _, raw = line.split("\t", 5)
    d = json.loads(raw)
    if d["approvers"] != UNKNOWN or d["not_counted"] != UNKNOWN:
        raise ValueError("a cached event holds no approvers")
    return Event(
        _str(d["time"]),
        _str(d["kind"]),  # type: ignore[arg-type]
        _opt(d["model"], str),
        _opt(d["alias"], str),
        _opt(d["from"], int),
        _opt(d["to"], int),
        _str(d["commit"]),
        _opt(d["pr"], int),
        _str(d["author"]),
        _opt(d["merger"], str),
        None,
        _str(d["subject"]),
        _opt(d["reverts"], str),
        None,
        gate_kind or None,
        _rollout_from(d["rollout"]),
    )


_TITLES = [
    (re.compile(r"^(?:Promote|Roll back) (?P<model>\S+) v(?P<to>\d+) to (?P<alias>\S+)$"), PROMOTION),
    (re.compile(r"^Roll back (?P<model>[^@\s]+)@(?P<alias>\S+) to v(?P<to>\d+)$"), ROLLBACK),
    (re.compile(r"^Register (?P<model>\S+) v(?P<to>\d+)$"), REGISTRATION),
]


def _rejected(forge: Any, ref: str, model: str | None, alias: str | None, counter: Any, head: str) -> list[Event]:
    """Pull requests into ``ref`` closed without merge: the registry's "Rejected" status, for auditors.

    What each asked for is read from the title mlgate gave it; who requested changes is in ``not_counted``.
    """
    from mlgate.core.policy import Approvals
    from mlgate.core.signoff import count_approvals

    out = []
    for pull in forge.rejected_pull_requests(ref):
        m_model = m_alias = m_to = None
        for pattern, _kind in _TITLES:
            m = pattern.match(pull.title)
            if m:
                m_model, m_alias, m_to = m["model"], m.groupdict().get("alias"), int(m["to"])
                break
        if (model and m_model != model) or (alias and m_alias != alias):
            continue
        reasons = count_approvals(Approvals(min=0), pull, counter.members) if counter else None
        out.append(
            Event(
                time=pull.closed_at or "",
                kind=REJECTED,
                model=m_model,
                alias=m_alias,
                from_version=None,
                to_version=m_to,
                commit=pull.head_sha,
                pr=pull.number,
                author=pull.requester or pull.author,
                merger=None,
                approvers=tuple(Approver(u, "") for u in reasons.counted) if reasons else (),
                subject=pull.title,
                not_counted=tuple(NotCounted(u, why) for u, why in reasons.ignored) if reasons else (),
            )
        )
    return out


def _pulls_of_commits(
    repo_path: str | os.PathLike[str], forge: Any, shas: list[str], warnings: list[str]
) -> dict[str, int]:
    """For commits whose subject names no pull request: the one the forge says merged each (cached on disk)."""
    if not shas:
        return {}
    path = _cache_file(repo_path, forge).with_name(
        _cache_file(repo_path, forge).name.replace("reviews-v3-", "commit-pulls-v1-")
    )
    try:
        cache = {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, list)}
    except (OSError, ValueError, AttributeError):
        cache = {}
    fresh: dict[str, list[int]] = {}
    for sha in shas:
        if sha in cache:
            continue
        try:
            fresh[sha] = [n for n in forge.pull_requests_for_commit(sha) if isinstance(n, int)]
        except MlgateError as e:
            warnings.append(f"pull request of {sha[:12]} unknown: {e}")
    if fresh:
        _write_cache(path, {**cache, **fresh})
    merged = {**cache, **fresh}
    return {sha: merged[sha][0] for sha in shas if merged.get(sha)}


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    from mlgate.infra.files import write_json

    write_json(path, data, durable=False)


class _Counter:
    """Counts a pull request's approvals for one event with the gate's own rule and code.

    The rule is the one the validator applied: the policy (and the model's own gate) on the commit the
    change was merged onto, for the alias and kind of change; a governance change needs the admins. The
    counting is :func:`mlgate.reviews.count_approvals`, so history's approvers are exactly the ones the
    gate counted, and the others are listed with the gate's reason.
    """

    def __init__(self, git: GitRepo, forge: Any) -> None:
        from mlgate.forge import ForgeReviews

        self.git = git
        self.forge = forge
        self.members = ForgeReviews(forge, 0)  # membership answers, cached for the whole history
        self.judges: dict[str, Any] = {}

    def _judge(self, base: str, head: str) -> Any:
        from mlgate.check.gates import Judge
        from mlgate.check.run import load_policy

        if base not in self.judges:
            tree = GitTree(self.git, base)
            policy, _ = load_policy(tree)
            self.judges[base] = (tree, policy)
        tree, policy = self.judges[base]
        return Judge(GitTree(self.git, head), tree, policy)

    def count(self, event: Event, pull: PullRequest, base: str | None) -> ApprovalCount:
        from mlgate.core.policy import Approvals
        from mlgate.core.signoff import count_approvals

        rule = None
        if base is not None:
            judge = self._judge(base, event.commit)
            if event.kind == POLICY_CHANGE:
                rule = judge.admin_rule()
            elif event.alias is not None and event.model is not None:
                rule = judge.approval_rule(event.model, event.alias, event.gate_kind or event.kind)
        # no gate asked for approvals (a registration, a deprecation): the rules every approval obeys still apply
        return count_approvals(rule or Approvals(min=0), pull, self.members)


def _pull_request(number: int, data: dict[str, Any]) -> PullRequest:
    from mlgate.core.signoff import PullRequest, Review

    reviews = tuple(
        Review(r.get("user"), r["state"], r.get("commit") or "", r.get("submitted_at") or "")
        for r in data.get("reviews", [])
    )
    return PullRequest(
        number=number,
        author=data.get("author") or "",
        head_sha=data.get("head_sha") or "",
        reviews=reviews,
        state=data.get("state") or "",
        merged_by=data.get("merged_by"),
        requester=data.get("requester"),
        pushers=tuple(data.get("pushers") or ()),
        body=data.get("body") or "",
        requested_by=tuple(data.get("requested_by") or ()),
    )


_ONLINE_DIR = f"/{layout.ONLINE}/"


def plain_alias_text(model: str, alias: str, version: int) -> bytes:
    """An alias file as ``mlgate promote`` writes it when it carries no note and no rollout (its plain form)."""
    return f"apiVersion: mlgate/v1\nkind: Alias\nmodel: {model}\nalias: {alias}\nversion: {version}\n".encode()


#: the most versions of one model whose plain alias files history recognises by id (past it, they are read)
_PLAIN_VERSIONS = 1000


class _Memo:
    """What the walk has learnt so far, kept from one segment of the history to the next: each path's place,
    each blob's reading, and the ids of the plain alias files (:func:`plain_alias_text`) the alias files may
    hold, each with its version.

    A git id is the hash of the file's bytes, so a blob with one of these ids *is* that text, whose version
    the alias reader reads as the number written (a property test holds the two equal): the walk reads only
    the alias files that say something else (a note, a rollout, a hand edit, a version it has not seen).
    """

    def __init__(self, plain: bool = True) -> None:
        self.plain = plain
        self.places: dict[str, layout.Place | None] = {}
        self.models: dict[str, bool] = {}
        self.states: dict[str | None, tuple[int | None, Rollout | None]] = {None: (None, None)}
        self.deprecated: dict[str | None, set[int]] = {None: set()}
        self.known: dict[str, int] = {}
        self._top: dict[str, int] = {}  # model -> the highest version folder the walk has named
        self._hashed: dict[tuple[str, str], int] = {}  # (model, alias) -> versions hashed so far

    def learn(self, commits: list[Commit], id_width: int) -> list[str]:
        """Take in the version folders ``commits`` name, and hash the plain alias files of every alias they
        change, for every version of its model named so far. Returns the blobs the events of ``commits`` are
        read from (but the alias files now known by their ids)."""
        top = self._top
        pairs: set[tuple[str, str]] = set()
        wanted: list[str] = []
        models = layout.MODELS + "/"
        for c in commits:
            for f in c.files:
                path = f.path
                if path.endswith("/version.yaml") and path.startswith(models):
                    model, _, rest = path[len(models) :].partition("/")
                    if rest.startswith("versions/"):  # registry/models/<model>/versions/<n>/version.yaml
                        n = rest[9:-13]
                        if layout.VERSION_RE.match(n) and int(n) > top.get(model, 0):
                            top[model] = int(n)
                        continue
                if not path.endswith(".yaml"):
                    continue
                if "/aliases/" in path:
                    parts = path.split("/")
                    if len(parts) == 5 and parts[3] == "aliases":
                        pairs.add((parts[2], parts[4][:-5]))
                    wanted += [x for x in (f.old, f.new) if x]
                elif path.endswith("/model.yaml"):
                    wanted += [x for x in (f.old, f.new) if x]
                elif _ONLINE_DIR in path and f.new:
                    wanted.append(f.new)  # online evidence: what it says now
        digest = hashlib.sha1 if id_width == 20 else hashlib.sha256
        known = self.known
        for model, alias in pairs if self.plain else ():
            first = self._hashed.get((model, alias), 0) + 1
            last = min(top.get(model, 0), _PLAIN_VERSIONS)
            if last < first or not (layout.is_name(model) and layout.is_name(alias)):
                continue  # nothing new, or not mlgate's plain form: read
            self._hashed[model, alias] = last
            head = plain_alias_text(model, alias, 1)[:-2]  # all but the version and the newline after it
            for width in range(len(str(first)), len(str(last)) + 1):
                # the object's header and the text up to the version, hashed once per width of the version
                prefix = digest(b"blob %d\0%s" % (len(head) + width + 1, head))
                for v in range(max(first, 10 ** (width - 1)), min(last, 10**width - 1) + 1):
                    h = prefix.copy()
                    h.update(b"%d\n" % v)
                    known[h.hexdigest()] = v
        return [oid for oid in wanted if oid not in known]


_ROLLOUT_KINDS: dict[str, EventKind] = {
    "start": ROLLOUT_START,
    "step": ROLLOUT_STEP,
    "complete": ROLLOUT_COMPLETE,
    "abort": ROLLOUT_ABORT,
}


def _rollout_gate_kind(change: RolloutChange) -> str:
    """The kind of change the gate judges a rollout change as, and counts its approvals for: a step down
    (the revert of a step) is "rollout-step-down", which the gate treats like an abort, as a rollback."""
    return "rollout-step-down" if change.is_step_down else _ROLLOUT_KINDS[change.kind]


def _alias_state(raw: bytes | None, path: str) -> tuple[int | None, Rollout | None]:
    """The version an alias file points at and its rollout (None, None for no file or an unreadable one).

    mlgate's plain form takes the alias reader's fast path; a rollout block that is not well formed leaves
    the version readable and no rollout (history shows what the branch says; the validator refuses it)."""
    if raw is None:
        return None, None
    from mlgate.registry.readers import alias_state, alias_version_or_none

    try:
        version, block = alias_state(raw, path)
    except ManifestError:
        return alias_version_or_none(raw, path), None
    if block is None:
        return version, None
    from mlgate.core.model import Rollout

    return version, Rollout.from_manifest(block)


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _field(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _metrics(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and _number(v) is not None}


def _evidence_event(place: layout.Place, raw: bytes | None, path: str, base: _CommitFields) -> Event | None:
    """The rollout-evidence event of an OnlineEvaluation written on the branch (None: not one at all)."""
    if raw is None or place.alias is None or place.version is None:
        return None
    from mlgate.infra.yamlio import YamlError, load
    from mlgate.registry.readers import version_number

    try:
        data = load(raw, path).data
    except YamlError:
        return None
    if not isinstance(data, dict) or data.get("kind") != "OnlineEvaluation":
        return None
    window, requests, metrics = _field(data, "window"), _field(data, "requests"), _field(data, "metrics")
    percent = _number(data.get("percent"))
    holder = version_number(data.get("holder"))
    evidence = Evidence(
        holder=holder,
        window_start=_text(window.get("start")),
        window_end=_text(window.get("end")),
        requests_candidate=_count(requests.get("candidate")),
        requests_holder=_count(requests.get("holder")),
        metrics_candidate=_metrics(metrics.get("candidate")),
        metrics_holder=_metrics(metrics.get("holder")),
        source=_text(data.get("source")),
    )
    mode = data.get("mode")
    return Event(
        kind=ROLLOUT_EVIDENCE,
        model=place.model,
        alias=place.alias,
        from_version=holder,
        to_version=holder,
        gate_kind=ROLLOUT_EVIDENCE,
        rollout=RolloutInfo(
            place.version, mode if isinstance(mode, str) else "unknown", percent, percent, evidence=evidence
        ),
        **base,
    )


def _classify(path: str) -> layout.Place | None:
    try:
        return layout.classify(path)
    except LayoutError:
        return None


def _place(path: str, models: dict[str, bool]) -> layout.Place | None:
    """:func:`mlgate.core.layout.classify` (None for a path with no place), with a short cut for the file of a
    registration, which a long history holds tens of thousands of: ``registry/models/<model>/versions/<n>/
    version.yaml`` is a version wherever ``<model>`` names a model (asked once per model; a property test holds
    the two equal)."""
    parts = path.split("/")
    if (
        len(parts) == 6
        and parts[5] == "version.yaml"
        and parts[3] == "versions"
        and parts[1] == "models"
        and parts[0] == layout.REGISTRY
        and layout.VERSION_RE.match(parts[4])
    ):
        model = parts[2]
        if model not in models:
            models[model] = _classify(layout.model_path(model)) is not None
        if models[model]:
            return layout.Place("version", "ModelVersion", model, version=int(parts[4]))
    return _classify(path)


#: what every rollback claim's line starts with (check.rollback's patterns; a test holds the two together)
CLAIM_WORDS = ("This reverts commit ", "Mlgate-Rollback-Held-At:")


def _claims_in(message: str) -> list[Claim]:
    """:func:`mlgate.check.rollback.claims_in` of one message, which is not even imported (nor PyYAML with it)
    for a message that cannot hold a claim (most)."""
    if not any(word in message for word in CLAIM_WORDS):
        return []
    from mlgate.check.rollback import claims_in

    return claims_in([message])


class _Proofs:
    """Whether a commit's move of an alias back to a former holder is a rollback the gate proved: the claims of
    the pull request's commits (as the validator read them), verified with the validator's own
    :class:`mlgate.check.rollback.RollbackProver` against the commit the change was merged onto."""

    def __init__(self, git: GitRepo, objects: Mapping[str, bytes]) -> None:
        self.git = git
        self.objects = objects  # each merged branch's head commit, raw
        self.provers: dict[str, RollbackProver | None] = {}  # None: the pull request claims nothing

    def _claims(self, c: Commit, message: str) -> list[Claim]:
        if len(c.parents) < 2:
            return _claims_in(f"{c.subject}\n\n{c.body}")  # a squash or a direct push: its own message
        raw = self.objects.get(c.parents[1], b"")
        header = raw[: raw.find(b"\n\n")]
        if header.count(b"\nparent ") == 1 and f"\nparent {c.parents[0]}\n".encode() in header:
            return _claims_in(message)  # a pull request of one commit: its message is all the validator read
        from mlgate.check.rollback import pull_request_claims

        return pull_request_claims(self.git, c.parents[0], c.parents[1])()  # every commit of the pull request

    def holds(self, c: Commit, message: str, place: layout.Place, before: int | None, after: int | None) -> bool:
        if not c.parents or place.model is None or place.alias is None:
            return False
        if c.sha not in self.provers:
            claims = self._claims(c, message)
            self.provers[c.sha] = None
            if claims:
                from mlgate.check.rollback import RollbackProver

                self.provers[c.sha] = RollbackProver(self.git, c.parents[0], claims)
        prover = self.provers[c.sha]
        return prover is not None and prover(place.model, place.alias, before, after) is not None


class _CommitFields(TypedDict):
    """The fields every event of one commit shares."""

    time: str
    commit: str
    pr: int | None
    author: str
    merger: str | None
    approvers: tuple[Approver, ...] | None
    subject: str
    reverts: str | None


def _fields(base: tuple[str, str, int | None, str, str | None, str, str | None]) -> _CommitFields:
    """The fields every event of one commit shares, from (time, commit, pr, author, merger, subject, reverts)."""
    time, commit, pr, author, merger, subject, reverts = base
    return _CommitFields(
        time=time, commit=commit, pr=pr, author=author, merger=merger, approvers=None, subject=subject, reverts=reverts
    )


def _events(
    commits: list[Commit],
    blobs: dict[str, bytes],
    model: str | None,
    alias: str | None,
    merged_messages: dict[str, str],
    held: dict[str, list[int]],
    merged_authors: Mapping[str, str | None] | None = None,
    memo: _Memo | None = None,
    unsure: set[tuple[str, int]] | None = None,
    proofs: _Proofs | None = None,
) -> list[Event]:
    """Events oldest first (approvers not yet known). ``held`` (alias path -> the versions it pointed at, in
    order) is the state before ``commits``, and is brought up to date (a cache continues from it); ``memo``
    keeps what was learnt for the next commits; ``proofs`` judges moves back as the gate did (without it, none
    is a proven rollback). With ``unsure``, every move to a version ``held`` did not
    hold is added to it (alias path, version): a walk that knows only part of what came before settles them
    (:func:`_range_events`)."""
    events: list[Event] = []
    memo = memo or _Memo()
    places, models, states, deprecated, known = memo.places, memo.models, memo.states, memo.deprecated, memo.known

    def place_of(path: str) -> layout.Place | None:
        if path not in places:
            places[path] = _place(path, models)
        return places[path]

    def state(oid: str | None, path: str) -> tuple[int | None, Rollout | None]:
        if oid not in states:  # the same alias bytes recur often: each blob is read once
            v = known.get(oid) if oid else None  # a plain alias file: its version, and no rollout
            states[oid] = (v, None) if v is not None else _alias_state(blobs.get(oid) if oid else None, path)
        return states[oid]

    def deprecated_in(oid: str | None, path: str) -> set[int]:
        if oid not in deprecated:
            deprecated[oid] = _deprecated(blobs.get(oid) if oid else None, path)
        return deprecated[oid]

    for c in commits:
        pr = pr_number(c)
        merger = c.author if len(c.parents) > 1 else (c.committer if c.committer != c.author else None)
        message = merged_messages.get(c.sha, "")
        reverted = _REVERT.search(c.body) or _REVERT.search(message)
        time = _utc(c.date)
        author = (merged_authors.get(c.sha) if merged_authors else None) or c.author
        reverts = reverted.group(1) if reverted else None
        base = (time, c.sha, pr, author, merger, c.subject, reverts)  # see _fields()
        for f in c.files:
            if not f.path.endswith(".yaml") or f.path.endswith("/eval.yaml"):
                continue  # eval.yaml, card.md, evidence: no event of their own
            if f.path == layout.POLICY:
                if not model:
                    events.append(
                        Event(
                            kind=POLICY_CHANGE,
                            model=None,
                            alias=None,
                            from_version=None,
                            to_version=None,
                            **_fields(base),
                        )
                    )
                continue
            place = places[f.path] if f.path in places else place_of(f.path)
            if place is None:
                continue
            if (model and place.model != model) or (alias and place.alias != alias):
                continue
            role = place.role
            if role == "version":
                kind: EventKind | None = (
                    REGISTRATION if f.status == "A" else VERSION_REMOVED if f.status == "D" else None
                )
                if kind:  # positional: tens of thousands of registrations in a long history
                    events.append(
                        Event(
                            time,
                            kind,
                            place.model,
                            None,
                            None,
                            place.version,
                            c.sha,
                            pr,
                            author,
                            merger,
                            None,
                            c.subject,
                            reverts,
                        )
                    )
            elif role == "online":
                if f.new and f.status != "D":  # a deletion of old evidence is housekeeping, not an event
                    event = _evidence_event(place, blobs.get(f.new), f.path, _fields(base))
                    if event is not None:
                        events.append(event)
            elif role == "alias":
                before, rollout_before = states[f.old] if f.old in states else state(f.old, f.path)
                after, rollout_after = states[f.new] if f.new in states else state(f.new, f.path)
                seen = held.setdefault(f.path, [])
                change = (
                    None
                    if after is None or (rollout_before is None and rollout_after is None)
                    else classify_rollout(before, rollout_before, after, rollout_after)
                )
                if change is not None and (after == before or (change.kind == "complete" and not change.problem)):
                    # a rollout event: the holder stays (start, step, abort) or the candidate takes over (complete)
                    if change.kind == "complete" and after is not None and after not in seen:
                        seen.append(after)
                    events.append(
                        Event(
                            kind=_ROLLOUT_KINDS[change.kind],
                            model=place.model,
                            alias=place.alias,
                            from_version=before,
                            to_version=after,
                            gate_kind=_rollout_gate_kind(change),
                            rollout=RolloutInfo(
                                change.candidate, change.mode, change.before, change.after, change.problem
                            ),
                            **_fields(base),
                        )
                    )
                    continue
                if before == after:
                    continue  # only the note changed
                gate_kind: GateKind
                if after is None and f.status == "D":
                    kind = gate_kind = REMOVAL
                elif after is None:
                    continue  # unreadable alias file: nothing to say about versions
                else:
                    # the gate judged a move back as a rollback only when the pull request's commits proved it
                    # (check.rollback's proof, verified here the same way): a return to a former holder without
                    # a proof that holds was a promotion. A proof shows the alias held the version before, so a
                    # proven move is a move back even where the walk does not know the history before it
                    back = after != before and after in seen  # each version once in seen: it stays short
                    proven = (
                        (back or unsure is not None)
                        and proofs is not None
                        and proofs.holds(c, message, place, before, after)
                    )
                    back = back or proven
                    if unsure is not None and not back:
                        unsure.add((f.path, after))
                    gate_kind = ROLLBACK if proven else PROMOTION
                    kind = ROLLBACK if reverted or back else PROMOTION  # the event says what happened
                    if after not in seen:
                        seen.append(after)
                assert kind is not None
                # the version moved: a plain promotion, rollback or removal; or a move no rollout change
                # explains (a revert of a completion, which resumes the rollout; a hand edit), where the move
                # is the event and the rollout rides along (positional: tens of thousands of these)
                events.append(
                    Event(
                        time,
                        kind,
                        place.model,
                        place.alias,
                        before,
                        after,
                        c.sha,
                        pr,
                        author,
                        merger,
                        None,
                        c.subject,
                        reverts,
                        None,
                        gate_kind,
                        None
                        if change is None
                        else RolloutInfo(
                            change.candidate,
                            change.mode,
                            change.before,
                            change.after,
                            None if reverted else change.problem,
                        ),
                    )
                )
            elif role == "model" and not alias:
                old = deprecated_in(f.old, f.path)
                new = deprecated_in(f.new, f.path)
                for v in sorted(new - old):
                    events.append(
                        Event(
                            kind=DEPRECATION,
                            model=place.model,
                            alias=None,
                            from_version=None,
                            to_version=v,
                            **_fields(base),
                        )
                    )
                for v in sorted(old - new):
                    events.append(
                        Event(
                            kind=UNDEPRECATION,
                            model=place.model,
                            alias=None,
                            from_version=None,
                            to_version=v,
                            **_fields(base),
                        )
                    )
    return events


# --- approvers from the forge, cached on disk -----------------------------------------------------


def _cache_file(repo_path: str | os.PathLike[str], forge: Any) -> Path:
    key = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{forge.name}-{getattr(forge, 'repo_name', 'local')}")
    # v2: the reviews as the forge reported them (counted at read time), not approvers counted on the way in
    return GitRepo(repo_path).git_dir() / "mlgate" / "cache" / f"reviews-v3-{key}.json"


def _reviews(pr: Any) -> list[dict[str, str]]:
    return [{"user": r.user, "state": r.state, "commit": r.commit, "submitted_at": r.submitted_at} for r in pr.reviews]


def _forge_info(
    repo_path: str | os.PathLike[str], forge: Any, numbers: Iterable[int], warnings: list[str]
) -> dict[int, dict[str, Any]]:
    """Author, merger and approvers per pull request: from the cache, else fetched (in parallel) and cached."""
    path = _cache_file(repo_path, forge)
    try:
        raw = json.loads(path.read_text())
        cache = {int(k): v for k, v in raw.items() if isinstance(v, dict) and isinstance(v.get("reviews"), list)}
    except (OSError, ValueError, AttributeError):
        cache = {}  # no cache, or a damaged one: ask the forge again
    missing = sorted(set(numbers) - set(cache))

    def fetch(n: int) -> tuple[int, dict[str, Any] | None, str | None]:
        try:
            pr = forge.pull_request(n)
        except MlgateError as e:
            return n, None, str(e)
        return (
            n,
            {
                "author": pr.author,
                "merged_by": pr.merged_by,
                "state": pr.state,
                "head_sha": pr.head_sha,
                "merge_commit": pr.merge_commit,
                "requester": pr.requester,
                "pushers": list(pr.pushers),
                "body": pr.body,
                "requested_by": list(pr.requested_by),
                "reviews": _reviews(pr),
            },
            None,
        )

    fresh: dict[int, dict[str, Any]] = {}
    if missing:
        from concurrent.futures import ThreadPoolExecutor

        # in parallel where the forge allows it (a local forge); one at a time where it asks for that (GitHub)
        workers = max(1, int(getattr(forge, "concurrent_requests", 8)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for n, data, error in pool.map(fetch, missing):
                if data is None:
                    warnings.append(f"approvers of #{n} unknown: {error}")
                else:
                    fresh[n] = data
    final = {n: d for n, d in fresh.items() if d["state"] in ("merged", "closed")}  # merged PRs never change
    if final:
        from mlgate.infra.files import write_json

        write_json(path, {str(k): v for k, v in {**cache, **final}.items()}, durable=False)
    return {**cache, **fresh}


@dataclass(frozen=True)
class Share:
    """One version's share of an alias's requests: served (it answers them) or mirrored (shadow: it receives
    a copy and answers none)."""

    version: int
    role: str  # "holder" or "candidate"
    percent: float
    traffic: str  # "served" or "mirrored"

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "role": self.role, "percent": self.percent, "traffic": self.traffic}


@dataclass(frozen=True)
class AliasAt:
    """What an alias was at a point in time: the version holding it and the rollout under way, if any."""

    model: str
    alias: str
    commit: str
    version: int | None
    rollout: Rollout | None = None

    @property
    def shares(self) -> tuple[Share, ...]:
        """Who got the alias's requests: the holder alone (100%); during a canary the holder 100 - percent and
        the candidate percent; during a shadow the holder 100 and the candidate a mirrored percent."""
        if self.version is None:
            return ()
        r = self.rollout
        if r is None:
            return (Share(self.version, "holder", 100, "served"),)
        if r.mode == "shadow":
            return (
                Share(self.version, "holder", 100, "served"),
                Share(r.candidate, "candidate", r.percent, "mirrored"),
            )
        return (
            Share(self.version, "holder", 100 - r.percent, "served"),
            Share(r.candidate, "candidate", r.percent, "served"),
        )

    def rollout_dict(self) -> dict[str, Any] | None:
        """whois --json's ``rollout`` object (None: no rollout under way)."""
        if self.rollout is None:
            return None
        return {**self.rollout.to_manifest(), "shares": [s.to_dict() for s in self.shares]}


def alias_at(repo_path: str | os.PathLike[str], model: str, alias: str, *, ref: str = "main", at: str) -> AliasAt:
    """What ``model@alias`` was at a date (on ``ref``'s first-parent history) or at a commit: its version and,
    during a rollout, the candidate and its share."""
    git = GitRepo(repo_path)
    try:
        try:
            when = parse_when(at)
        except UsageError:
            when = None
        if when is None:
            commit = git.resolve(at)
        else:
            out = git.git("rev-list", "-1", "--first-parent", f"--before={when.isoformat()}", git.resolve(ref)).strip()
            if not out:
                raise UsageError(f"{ref} has no commit before {at}")
            commit = out
        tree = git.tree(commit)
        path = layout.alias_path(model, alias)
        entry = tree.entry(path)
        if entry is None or entry.kind != "file":
            return AliasAt(model, alias, commit, None)
        version, rollout = _alias_state(tree.read(path), path)
        return AliasAt(model, alias, commit, version, rollout if version is not None else None)
    finally:
        git.close()


def holder_at(
    repo_path: str | os.PathLike[str], model: str, alias: str, *, ref: str = "main", at: str
) -> tuple[int | None, str]:
    """Which version held ``model@alias`` at a date (on ``ref``'s first-parent history) or at a commit."""
    state = alias_at(repo_path, model, alias, ref=ref, at=at)
    return state.version, state.commit
