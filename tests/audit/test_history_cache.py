"""History's incremental cache under .git/mlgate/: a repeat run reads no history, a later one only the new
commits, and a cache that does not match the history (rewritten, foreign, damaged) is never trusted."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.audit.history import history
from mlgate.testing import RegistryRepo
from tests.audit.test_history import CHAMPION, audited  # noqa: F401  (the fixture)

CACHE = Path(".git/mlgate/cache/history-v2.jsonl")


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


def jsonl(root: Path, *args: str) -> list[str]:
    """What `mlgate history --format jsonl` prints (the cache's own lines when it has them)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from mlgate.cli import main; sys.exit(main(sys.argv[1:]))",
            "-C",
            str(root),
            "history",
            "--format",
            "jsonl",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.splitlines()


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


def _parts(root: Path) -> tuple[dict, list[str]]:
    """The cache's header and lines (its last line, the walk's state, included)."""
    body = (root / CACHE).read_bytes().partition(b"\n")[2].decode()
    header, _, rest = body.partition("\n")
    return json.loads(header), rest.split("\n")[:-1]


def _write(root: Path, header: dict, lines: list[str]) -> None:
    raw = "".join([json.dumps(header), "\n", *(line + "\n" for line in lines)]).encode()
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
        "a line of another shape",
        "a line missing",
        "a foreign tip",
    ],
)
def test_a_damaged_or_foreign_cache_is_ignored_and_rebuilt(audited: RegistryRepo, damage: str) -> None:  # noqa: F811
    truth = events(audited.root)
    root, cache = audited.root, audited.root / CACHE
    raw = cache.read_bytes()
    header, lines = _parts(root)
    if damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        cache.write_bytes(b"\x00\xff not json")
    elif damage == "empty":
        cache.write_bytes(b"")
    elif damage == "edited without its digest":
        cache.write_bytes(raw.replace(b'"promotion"', b'"rollback"'))
    elif damage == "another format":
        _write(root, {**header, "format": "mlgate-history/1"}, lines)
    elif damage == "a wrong type":
        _write(root, header, [lines[0].replace('"to": 2', '"to": "two"'), *lines[1:]])
    elif damage == "a line missing":
        _write(root, header, lines[1:])
    elif damage == "a line of another shape":
        _write(root, header, ["promotion\tfraud-detector", *lines[1:]])
    else:  # a cache copied from another repository: its tip is no commit here
        _write(root, {**header, "tip": "0" * 40}, lines)
    assert events(root) == truth
    assert jsonl(root) == [json.dumps(e, ensure_ascii=False) for e in truth]
    assert _parts(root)[0]["tip"] == audited.rev("main")  # rebuilt


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


def test_the_printed_lines_are_the_events_cold_and_cached(audited: RegistryRepo) -> None:  # noqa: F811
    truth = [json.dumps(e, ensure_ascii=False) for e in cold(audited.root)]
    assert jsonl(audited.root) == truth  # cold: walked, cached, printed
    assert jsonl(audited.root) == truth  # from the cache
    only = [json.dumps(e, ensure_ascii=False) for e in cold(audited.root, model="fraud-detector", alias="champion")]
    assert jsonl(audited.root, "fraud-detector@champion") == only
    kinds = [json.dumps(e, ensure_ascii=False) for e in cold(audited.root, kinds={"rollback"})]
    assert jsonl(audited.root, "--kind", "rollback") == kinds and kinds
