"""notify --since in a fresh clone (no history cache, as CI's notify job runs): it walks the pushed range alone
and sends exactly what the whole history says about those commits, rollbacks included (an alias back to a
version it held long before the range, a revert, a claim that does not hold)."""

from __future__ import annotations

import subprocess

import pytest

from mlgate.audit.history import history
from mlgate.notify import RetryPolicy, notify
from mlgate.testing import RegistryRepo
from tests.notify.conftest import CHALLENGER, CHAMPION, Receiver, promote, subscribe

FAST = RetryPolicy(attempts=1, backoff=0, max_delay=0, timeout=5)


def as_dicts(events) -> list[dict]:
    return [{**e.to_dict(), "gate_kind": e.gate_kind} for e in events]


@pytest.mark.parametrize("cut", range(6))
def test_a_fresh_clone_sends_what_the_whole_history_says_of_the_range(
    repo: RegistryRepo, receiver: Receiver, secret_env: str, tmp_path, processes: list, cut: int
) -> None:
    subscribe(repo, {"url": receiver.url(), "secret_env": secret_env})
    promote(repo, CHAMPION, 3, "Promote fraud-detector v3 to champion")
    promote(repo, CHALLENGER, 1, "Point search-ranker challenger at v1")
    promote(repo, CHAMPION, 2, "Back to v2")  # a version champion held before any cut below
    subprocess.run(["git", "revert", "--no-edit", "HEAD"], cwd=repo.root, check=True, capture_output=True)
    promote(repo, CHALLENGER, 2, f"Roll back\n\nMlgate-Rollback-Held-At: {repo.rev('HEAD~4')}")  # false claim
    promote(repo, CHAMPION, 1, "Promote fraud-detector v1 to champion")
    chain = repo.git.git("rev-list", "--first-parent", "main").split()
    since = chain[cut]
    after = set(repo.git.git("rev-list", "--first-parent", "main", f"^{since}").split())
    whole = [e for e in reversed(history(repo.root).events) if e.commit in after]  # oldest first, as notify
    clone = RegistryRepo.clone(repo.root, tmp_path / "clone")  # no .git/mlgate: nothing cached
    processes.clear()
    result = notify(clone.root, since=since, dry_run=True, policy=FAST)
    assert as_dicts(result.events) == as_dicts(whole)
    logs = [p for p in processes if p[:2] == ["git", "log"] and "--raw" in p]  # history's walks of diffs
    walks = [p for p in logs if "--" not in p]
    assert [w[-1] for w in walks] == ([f"^{since}"] if after else [])  # the range alone (or nothing after the tip)
    for other in logs:  # else only an alias file's own history, for a move to a version not held just before
        assert other in walks or all("/aliases/" in a for a in other[other.index("--") + 1 :])
    clone.close()
