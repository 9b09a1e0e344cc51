"""History's walk on random histories in real git repositories: the short cuts (alias files known by their git
ids, the history built in segments while git still writes the next ones) say exactly what the general path says,
and a history since a commit says exactly what the whole history says about the commits after it, in a fresh
clone (no cache) as with the cache; and the short cuts' pieces on generated input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.audit.history import (
    Approver,
    Event,
    RolloutInfo,
    _alias_state,
    _lines,
    _log,
    _Memo,
    _place,
    _walk,
    history,
    plain_alias_text,
)
from mlgate.core import layout
from mlgate.core.layout import LayoutError
from mlgate.errors import UsageError
from mlgate.infra.git import Commit, FileChange, GitRepo
from mlgate.infra.yamlio import dump
from mlgate.testing import RegistryRepo

MODELS = ("alpha", "beta")
ALIASES = ("champion", "challenger")
CACHE = Path(".git/mlgate/cache/history-v2.jsonl")

op = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(MODELS)),
    # a move: model, alias, version (maybe never registered), a note, merged as a pull request or pushed
    st.tuples(st.just("promote"), st.sampled_from(MODELS), st.sampled_from(ALIASES), st.integers(1, 5), st.booleans()),
    st.tuples(st.just("merge"), st.sampled_from(MODELS), st.sampled_from(ALIASES), st.integers(1, 5)),
    st.tuples(st.just("revert")),
    st.tuples(st.just("remove"), st.sampled_from(MODELS), st.sampled_from(ALIASES)),
    st.tuples(st.just("deprecate"), st.sampled_from(MODELS), st.integers(1, 3)),
    # a move that claims the alias held the version at an earlier commit (true or not)
    st.tuples(
        st.just("held-at"), st.sampled_from(MODELS), st.sampled_from(ALIASES), st.integers(1, 5), st.integers(0, 9)
    ),
)


def alias_doc(model: str, alias: str, version: int, note: str | None = None) -> dict:
    doc = {"apiVersion": "mlgate/v1", "kind": "Alias", "model": model, "alias": alias, "version": version}
    return {**doc, "note": note} if note else doc


def version_doc(model: str, version: int) -> dict:
    return {"apiVersion": "mlgate/v1", "kind": "ModelVersion", "model": model, "version": version}


def build(root: Path, ops: list[tuple]) -> RegistryRepo:
    """A registry repository whose main branch went through ``ops`` (dates one minute apart)."""
    repo = RegistryRepo.create(root, example=False)
    clock = iter(f"2026-04-01T{h:02d}:{m:02d}:00+00:00" for h in range(24) for m in range(60))
    registered = {m: 2 for m in MODELS}
    for m in MODELS:
        repo.write(layout.model_path(m), {"apiVersion": "mlgate/v1", "kind": "Model", "name": m})
        for v in (1, 2):
            repo.write(layout.version_path(m, v), version_doc(m, v))
        repo.write(layout.alias_path(m, "champion"), alias_doc(m, "champion", 1))
        repo.write(layout.alias_path(m, "challenger"), alias_doc(m, "challenger", 2))
    repo.commit("Initial registry", date=next(clock))
    for n, (kind, *args) in enumerate(ops, start=1):
        date = next(clock)
        if kind == "register":
            (m,) = args
            registered[m] += 1
            repo.write(layout.version_path(m, registered[m]), version_doc(m, registered[m]))
            repo.commit(f"Register {m} v{registered[m]}", date=date)
        elif kind in ("promote", "held-at"):
            m, a, v = args[:3]
            repo.write(
                layout.alias_path(m, a), alias_doc(m, a, v, f"why {n}" if kind == "promote" and args[3] else None)
            )
            message = f"Promote {m} v{v} to {a}"
            if kind == "held-at":
                chain = repo.git.git("rev-list", "--first-parent", "HEAD").split()
                message += f"\n\nMlgate-Rollback-Held-At: {chain[min(args[3], len(chain) - 1)]}"
            repo.commit(message, date=date)
        elif kind == "merge":
            m, a, v = args
            repo.branch(f"pr-{n}")
            repo.write(layout.alias_path(m, a), alias_doc(m, a, v))
            repo.commit(f"Promote {m} v{v} to {a}", author="alice <alice@acme.test>", date=date)
            repo.merge(f"pr-{n}", message=f"Merge pull request #{n} from acme/pr-{n}", date=date)
        elif kind == "revert":
            head = repo.git.git("rev-list", "--max-count=1", "--parents", "HEAD").split()
            if len(head) < 2:
                continue  # the initial commit: nothing to revert to
            env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
            args_ = ["git", "revert", "--no-edit", *(["-m", "1"] if len(head) > 2 else []), "HEAD"]
            if subprocess.run(args_, cwd=root, env=env, capture_output=True).returncode:
                # a revert of a change that changed nothing: nothing to commit
                subprocess.run(["git", "revert", "--abort"], cwd=root, capture_output=True)
        elif kind == "remove":
            m, a = args
            if repo.path(layout.alias_path(m, a)).exists():
                repo.delete(layout.alias_path(m, a))
                repo.commit(f"Remove {m}@{a}", date=date)
        elif kind == "deprecate":
            m, v = args
            repo.write(
                layout.model_path(m),
                {"apiVersion": "mlgate/v1", "kind": "Model", "name": m, "deprecated": [{"version": v, "reason": "x"}]},
            )
            repo.commit(f"Deprecate {m} v{v}", date=date)
    return repo


def as_dicts(events: list[Event]) -> list[dict]:
    return [{**e.to_dict(), "gate_kind": e.gate_kind} for e in events]


def cold(root: Path, **kw) -> list[dict]:
    shutil.rmtree(root / ".git/mlgate", ignore_errors=True)
    try:
        return as_dicts(history(root, **kw).events)
    finally:
        shutil.rmtree(root / ".git/mlgate", ignore_errors=True)


def walked(root: Path, *, size: int = 1000, plain: bool = True) -> list[dict]:
    """The whole registry's events, oldest first, through the walk itself (no cache)."""
    git = GitRepo(root)
    try:
        segments, reader = _log(git, git.resolve("main"), [layout.REGISTRY + "/"], size=size)
        events, _, _ = _walk(git, segments, reader, None, None, {}, plain=plain)
    finally:
        git.close()
    return as_dicts(events)


HISTORIES = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HISTORIES
@given(ops=st.lists(op, min_size=1, max_size=14), cut=st.integers(0, 20))
def test_random_histories_every_path_says_the_same(tmp_path_factory, ops, cut) -> None:
    root = tmp_path_factory.mktemp("random")
    repo = build(root / "repo", ops)
    try:
        general = walked(repo.root, plain=False)  # every alias file read and parsed
        assert walked(repo.root) == general  # alias files known by their ids
        assert walked(repo.root, size=1) == general  # one segment per commit, each built as git writes the next
        whole = cold(repo.root)
        assert whole == list(reversed(general))
        chain = repo.git.git("rev-list", "--first-parent", "main").split()
        since = chain[min(cut, len(chain) - 1)]
        after = set(repo.git.git("rev-list", "--first-parent", "main", f"^{since}").split())
        expected = [e for e in whole if e["commit"] in after]
        assert cold(repo.root, since_commit=since) == expected  # a fresh clone: the range walked alone
        history(repo.root)  # the cache written
        assert as_dicts(history(repo.root, since_commit=since).events) == expected  # from the cache
        for m in MODELS:
            assert cold(repo.root, since_commit=since, model=m) == [e for e in expected if e["model"] == m]
    finally:
        repo.close()


def test_a_range_reads_the_range_and_what_it_moved_back_to(tmp_path, processes) -> None:
    """A fresh clone's history since a commit: one git log of the range, one ls-tree of the aliases it moves;
    a move back to a version held long before is settled by that alias file's history alone."""
    repo = build(tmp_path / "repo", [("register", "alpha"), ("merge", "alpha", "champion", 3)] * 3)
    since = repo.rev()
    repo.write(layout.alias_path("alpha", "champion"), alias_doc("alpha", "champion", 1))  # held at the start
    repo.commit("Promote alpha v1 to champion")
    processes.clear()
    events = history(repo.root, since_commit=since).events
    assert [(e.kind, e.from_version, e.to_version) for e in events] == [("rollback", 3, 1)]
    logs = [p for p in processes if p[:2] == ["git", "log"]]
    assert len(logs) == 2 and logs[0][-1] == f"^{since}"  # the range; then alpha@champion's own history
    assert logs[1][-2:] == ["--", layout.alias_path("alpha", "champion")]
    assert as_dicts(events) == [e for e in cold(repo.root) if e["commit"] == repo.rev()]
    processes.clear()
    repo.write(layout.alias_path("alpha", "challenger"), alias_doc("alpha", "challenger", 3))  # never held
    repo.commit("Promote alpha v3 to challenger")
    assert [e.kind for e in history(repo.root, since_commit=repo.rev("HEAD~1")).events] == ["promotion"]
    repo.close()


# --- the short cuts' pieces ------------------------------------------------------------------------------


def test_the_claim_words_are_the_validators() -> None:
    """History reads a message for rollback claims only when it holds what each claim's line starts with."""
    from mlgate.audit.history import CLAIM_WORDS
    from mlgate.check.rollback import HELD_AT, Claim, claims_in

    sha = "a" * 40
    for claim in (Claim("revert", sha), Claim("held", sha)):
        assert claims_in([claim.trailer()]) == [claim] and any(claim.trailer().startswith(w) for w in CLAIM_WORDS)
    assert f"{HELD_AT}:" in CLAIM_WORDS


names = st.from_regex(layout.NAME_RE, fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(model=names, alias=names, version=st.integers(1, 999_999_999))
def test_a_plain_alias_file_is_what_promote_writes_and_reads_as_its_version(model, alias, version) -> None:
    text = plain_alias_text(model, alias, version)
    written = dump(alias_doc(model, alias, version)).encode()
    # the bytes mlgate promote writes (but for a name YAML would read as another type, which it quotes: such a
    # file's id is not the plain one, and it is read like any other)
    assert written == text or written.count(b"'") >= 2
    path = layout.alias_path(model, alias)
    assert _alias_state(text, path) == (version, None)  # what the general reader says of the plain bytes


def test_plain_ids_are_gits_ids(tmp_path) -> None:
    repo = RegistryRepo.create(tmp_path / "repo", example=False)
    files = [
        FileChange(layout.version_path("m-1", 12), "A", None, "x"),
        FileChange(layout.alias_path("m-1", "prod"), "M", "y", "z"),
    ]
    memo = _Memo()
    memo.learn([Commit("c", (), "", "", "", "", "", "", tuple(files))], repo.git.id_width)
    assert len(memo.known) == 12
    for oid, version in memo.known.items():
        text = plain_alias_text("m-1", "prod", version)
        assert (
            subprocess.run(
                ["git", "hash-object", "--stdin"], input=text, capture_output=True, cwd=repo.root, check=True
            )
            .stdout.decode()
            .strip()
            == oid
        )
    repo.close()


segment = st.one_of(
    st.sampled_from(["registry", "models", "versions", "aliases", "online", "version.yaml", "model.yaml", ".gitkeep"]),
    st.sampled_from(
        ["1", "01", "0", "12", "1234567890", "m", "M", "a.b", ".x", "latest", "v2", "é", "x\u200b", "e\u0301"]
    ),
    st.text(min_size=0, max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(middle=st.lists(segment, min_size=0, max_size=5), model=segment, version=segment)
def test_a_path_is_placed_as_classify_places_it(middle, model, version) -> None:
    for path in (
        "/".join(["registry", "models", model, "versions", version, "version.yaml"]),
        "/".join(["registry", *middle]),
        "/".join(["registry", "models", model, *middle]),
    ):
        try:
            expected = layout.classify(path)
        except LayoutError:
            expected = None
        assert _place(path, {}) == expected


text = st.text(max_size=12)
opt_text = st.none() | text
opt_int = st.none() | st.integers(-(10**12), 10**12)
rollouts = st.none() | st.builds(
    RolloutInfo,
    st.integers(1, 99),
    text,
    st.none() | st.floats(0, 100, allow_nan=False) | st.integers(0, 100),
    st.none() | st.floats(0, 100, allow_nan=False),
    opt_text,
)
events = st.builds(
    Event,
    text,
    text,
    opt_text,
    opt_text,
    opt_int,
    opt_int,
    st.sampled_from(["a" * 40, "b" * 40]),
    opt_int,
    text,
    opt_text,
    st.none() | st.just((Approver("x", ""),)),
    text,
    opt_text,
    st.none(),
    opt_text,
    rollouts,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(events, max_size=6))
def test_cache_lines_are_the_events_json(evs) -> None:
    encode = json.JSONEncoder(ensure_ascii=False).encode
    assert _lines(evs) == [
        f"{e.gate_kind or ''}\t{e.kind}\t{e.model or ''}\t{e.alias or ''}\t{e.time}\t{encode(e.to_dict())}" for e in evs
    ]


@pytest.mark.parametrize("bad", ["0" * 40, "no-such-ref"])
def test_since_commit_must_be_a_commit(tmp_path, bad) -> None:
    repo = build(tmp_path / "repo", [("register", "alpha")])
    with pytest.raises(UsageError, match="is not a commit of this repository"):
        history(repo.root, since_commit=bad)
    assert history(repo.root, since_commit=repo.rev()).events == []  # nothing after the tip
    repo.close()
