"""History's incremental cache under .git/mlgate/: a repeat run reads no history, a later one only the new
commits, and a cache that does not match the history (rewritten, foreign, damaged) is never trusted."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlgate.audit.history import history
from mlgate.testing import RegistryRepo
from tests.audit.test_history import CHAMPION, audited  # noqa: F401  (the fixture)

CACHE = Path(".git/mlgate/cache/history-v1.json")


def events(root: Path, **kw) -> list[dict]:
    return [e.to_dict() for e in history(root, **kw).events]


def cold(root: Path, **kw) -> list[dict]:
    """The history walked from scratch (the cache set aside, then put back as it was)."""
    cache = root / CACHE
    saved = cache.read_bytes() if cache.exists() else None
    cache.unlink(missing_ok=True)
    try:
        return events(root, **kw)
    finally:
        cache.unlink(missing_ok=True)
        if saved is not None:
            cache.write_bytes(saved)


def logs(processes: list[list[str]]) -> list[list[str]]:
    return [p for p in processes if p[:2] == ["git", "log"]]


def test_a_repeat_run_reads_no_history_and_says_the_same(audited: RegistryRepo, processes: list) -> None:  # noqa: F811
    first = events(audited.root)
    assert (audited.root / CACHE).is_file()
    processes.clear()
    assert events(audited.root) == first
    assert logs(processes) == []  # the cache's tip is main: nothing to walk
    for kw in ({"model": "fraud-detector"}, {"model": "fraud-detector", "alias": "champion"}):
        assert events(audited.root, **kw) == cold(audited.root, **kw)


def test_new_commits_are_walked_alone_and_appended(audited: RegistryRepo, processes: list) -> None:  # noqa: F811
    events(audited.root)
    tip = audited.rev("main")
    for i in range(3):
        audited.edit_yaml(CHAMPION, version=3 - i % 2)
        audited.commit(f"flip {i}")
    processes.clear()
    got = events(audited.root)
    (log,) = logs(processes)
    assert f"^{tip}" in log  # only what came after the cached tip
    assert got == cold(audited.root) and len(got) == len(cold(audited.root))


def test_a_rewritten_history_is_walked_again(audited: RegistryRepo) -> None:  # noqa: F811
    before = events(audited.root)
    # main is reset three commits back and takes another way: the cached tip is no longer on its history
    subprocess.run(["git", "reset", "--quiet", "--hard", "HEAD~3"], cwd=audited.root, check=True)
    audited.edit_yaml(CHAMPION, version=1)
    audited.commit("another past")
    got = events(audited.root)
    assert got == cold(audited.root) and got != before
    assert got[0]["subject"] == "another past" and got[0]["to"] == 1


def test_a_cache_of_another_branch_is_not_used_for_this_one(audited: RegistryRepo) -> None:  # noqa: F811
    audited.branch("other")
    audited.edit_yaml(CHAMPION, version=1)
    audited.commit("only on other")
    assert events(audited.root, ref="other")[0]["subject"] == "only on other"  # the cache's tip is on other
    got = events(audited.root, ref="main")
    assert got == cold(audited.root, ref="main") and "only on other" not in {e["subject"] for e in got}


def _body(root: Path) -> dict:
    return json.loads((root / CACHE).read_bytes().partition(b"\n")[2])


def _write(root: Path, body: dict) -> None:
    raw = json.dumps(body).encode()
    (root / CACHE).write_bytes(hashlib.sha256(raw).hexdigest().encode() + b"\n" + raw)


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "garbage",
        "empty",
        "edited without its digest",
        "another format",
        "a wrong type",
        "a foreign tip",
    ],
)
def test_a_damaged_or_foreign_cache_is_ignored_and_rebuilt(audited: RegistryRepo, damage: str) -> None:  # noqa: F811
    truth = events(audited.root)
    root, cache = audited.root, audited.root / CACHE
    raw = cache.read_bytes()
    body = _body(root)
    if damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        cache.write_bytes(b"\x00\xff not json")
    elif damage == "empty":
        cache.write_bytes(b"")
    elif damage == "edited without its digest":
        cache.write_bytes(raw.replace(b'"promotion"', b'"rollback"'))
    elif damage == "another format":
        _write(root, {**body, "format": "mlgate-history/0"})
    elif damage == "a wrong type":
        body["events"][0][4] = "two"
        _write(root, body)
    else:  # a cache copied from another repository: its tip is no commit here
        _write(root, {**body, "tip": "0" * 40})
    assert events(root) == truth
    assert _body(root)["tip"] == audited.rev("main")  # rebuilt


def test_an_unwritable_cache_folder_only_costs_the_walk(audited: RegistryRepo) -> None:  # noqa: F811
    truth = cold(audited.root)
    shutil.rmtree(audited.root / ".git/mlgate", ignore_errors=True)
    (audited.root / ".git/mlgate").write_text("not a folder")  # nothing can be written under it
    assert events(audited.root) == truth
    assert events(audited.root) == truth


def test_worktrees_share_one_cache(audited: RegistryRepo, tmp_path: Path) -> None:  # noqa: F811
    events(audited.root)
    other = tmp_path / "wt"
    subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(other), "main"], cwd=audited.root, check=True)
    assert events(other) == events(audited.root)
    assert not (other / ".git").is_dir()  # a worktree's .git is a file: the cache is in the shared folder
