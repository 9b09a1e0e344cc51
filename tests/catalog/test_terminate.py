"""``mlgate catalog`` stopped by a signal takes its worker processes with it: a real ``mlgate catalog`` process
on a registry large enough for workers, the signal sent once its workers run, their survival read from /proc."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.benchmarks.synth import build as synthetic

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")

WORKER_MARK = "mlgate.catalog.collect import worker"


def _workers_of(parent: int) -> set[int]:
    """The catalog workers ``parent`` runs now (its children whose command line is the worker's)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent and WORKER_MARK in cmdline:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _until(condition, seconds: float, step: float = 0.005):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = condition()
        if got:
            return got
        time.sleep(step)  # a poll interval, bounded by the deadline
    return condition()


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6,000 versions: past the size from which the catalog makes its pages in worker processes, and enough work
    that a worker left alone would run on for a while."""
    return synthetic(tmp_path_factory.mktemp("catalog") / "registry", models=300, versions=20, promotions=20).path


def _start(repo: Path, site: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlgate", "-C", str(repo), "catalog", "--ref", "main", "-o", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _running_workers(proc: subprocess.Popen[bytes]) -> set[int]:
    workers = _until(lambda: _workers_of(proc.pid) if proc.poll() is None else {-1}, 60)
    assert workers and workers != {-1}, "the catalog ran no workers (or ended before they were seen)"
    return workers


def test_sigterm_stops_the_workers_and_leaves_no_site(large: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    proc = _start(large, site)
    workers = _running_workers(proc)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)  # not communicate(): a worker left running would hold stderr open and make it wait
    # the catalog killed and waited for its workers before it exited: none is left, not even for a moment
    assert [pid for pid in workers if _alive(pid)] == []
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"Traceback" not in err
    assert not site.exists() and list(tmp_path.iterdir()) == []  # nothing half-built left behind


def test_a_killed_catalog_takes_its_workers_with_it(large: Path, tmp_path: Path) -> None:
    proc = _start(large, tmp_path / "site")
    workers = _running_workers(proc)
    proc.kill()  # no handler runs: the kernel tells the workers (PR_SET_PDEATHSIG)
    proc.wait(timeout=60)
    assert _until(lambda: not any(_alive(pid) for pid in workers), 0.5), "workers outlived a killed catalog"
    proc.communicate(timeout=60)


def test_the_same_build_left_alone_completes(large: Path, tmp_path: Path) -> None:
    """The registry of the tests above does make the catalog run workers, and they run longer than the 0.5 s
    the kill test allows (so that test fails if the workers are not taken down)."""
    proc = _start(large, tmp_path / "site")
    workers = _running_workers(proc)
    seen = time.monotonic()
    assert _until(lambda: not any(_alive(pid) for pid in workers), 300)
    assert time.monotonic() - seen > 1.5  # the workers' own work: three times what the kill test waits
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert b"catalog of 300 models, 6000 versions" in out
    assert [p.name for p in tmp_path.iterdir()] == ["site"]
