"""``mlgate catalog``: a new site is built in a temporary folder beside DIR, then renamed into place, so a reader
(or a web server) never sees half a catalog. A catalog mlgate built before is updated in place instead: only the
pages whose bytes changed are written (in the temporary folder, then each renamed over its live page, so a reader
sees the old page or the new one, never half of one), then the pages no longer in the site are removed. Nothing
in the live catalog changes before every page has been made, so a build that fails leaves it as it was."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mlgate.catalog import assets, pages
from mlgate.catalog.collect import PARENT_VARIABLE, cpu_count, model_page, model_site, new_site, write, written
from mlgate.catalog.prefetch import open_registry
from mlgate.errors import GitError, InputError, UsageError
from mlgate.registry.snapshot import Registry

#: the file that marks a folder as a catalog mlgate built (only such a folder is ever replaced)
MARKER = ".mlgate-catalog"
#: events per audit page (a page of the whole history of a large registry would be megabytes)
AUDIT_PAGE = 2000
#: below this many versions one process is quicker than starting workers
PARALLEL_FROM = 2000


@dataclass
class CatalogResult:
    out: Path
    models: int
    versions: int
    pages: int
    events: int
    warnings: list[str] = field(default_factory=list)


def _mark_unverified(events: list[dict[str, Any]]) -> None:
    """Give each review the gate did not count its ``unverified`` flag (what the pages and the audit filters
    read): the audit trail's own when it carries one, else the sign-off count's, recognised by the exact reason
    :func:`mlgate.core.signoff.count_approvals` gives an unverified approval."""
    from mlgate.core.signoff import unverified_reason

    for ev in events:
        for n in ev["not_counted"] if isinstance(ev.get("not_counted"), list) else ():
            if "unverified" not in n:
                n["unverified"] = unverified_reason(str(n.get("reason", "")))


def _history(repo: str, ref: str | None, forge: Any, warnings: list[str]) -> list[dict[str, Any]]:
    from mlgate.audit.history import history

    try:
        found = history(repo, ref=ref or "HEAD", forge=forge)
    except GitError as e:
        warnings.append(f"no audit trail: {e}")
        return []
    warnings.extend(found.warnings)
    events = [ev.to_dict() for ev in found.events]
    _mark_unverified(events)
    if forge is not None:  # approvers unknown though a forge was asked: it could not answer (the warnings say why)
        for ev in events:
            if ev["approvers"] == "unknown":
                ev["approvers_unknown"] = "the forge could not be read"
    return events


def _check_output(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise UsageError(
            f"{out} exists and is not a catalog mlgate built: give a new or empty folder (mlgate replaces only "
            "its own catalogs)"
        )


def _swap(tmp: Path, out: Path) -> None:
    """``tmp`` becomes ``out``; an earlier catalog there is removed only once the new one is in place."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / "site")
    os.replace(tmp, out)
    if old is not None:
        _remove(old)


#: processes removing an old catalog at once (each unlink waits on the file system, not on the CPU)
REMOVERS = 4


def _remove(folder: Path) -> None:
    """Remove an old catalog (tens of thousands of files): its model folders split between a few ``rm -rf``
    processes, which on ext4 takes half the time of one (Python threads would hand the interpreter lock back
    and forth on every unlink); only real folders are given, never a link. Without ``rm``: one thread."""
    rm = shutil.which("rm") if os.name == "posix" else None
    models = folder / "site" / "models"
    try:
        with os.scandir(models) as it:
            parts = sorted(e.path for e in it if e.is_dir(follow_symlinks=False))
    except OSError:
        parts = []
    if rm is not None and len(parts) > 1:
        procs = []
        try:
            for i in range(min(REMOVERS, len(parts))):
                procs.append(subprocess.Popen([rm, "-rf", "--", *parts[i::REMOVERS]], stderr=subprocess.DEVNULL))
        except OSError:
            pass  # what is left is removed below
        for p in procs:
            p.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _listing(site: Path) -> tuple[set[str], list[str]] | None:
    """The files and folders of an earlier catalog (relative paths), or None when it holds anything else (a link,
    a device): such a catalog is replaced whole, never updated through what it holds."""
    files: set[str] = set()
    folders: list[str] = []
    pending = [""]
    while pending:
        rel = pending.pop()
        try:
            with os.scandir(site / rel if rel else site) as it:
                for entry in it:
                    name = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(name)
                        pending.append(name)
                    elif entry.is_file(follow_symlinks=False):
                        files.add(name)
                    else:
                        return None
        except OSError:
            return None
    return files, folders


class _Lister:
    """:func:`_listing` of a catalog, made by GNU find in its own process while the pages are being made (a
    catalog of 10,000 versions has some 15,000 folders: half a second of Python), else by :func:`_listing`."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.proc: subprocess.Popen[bytes] | None = None
        find = shutil.which("find") if os.name == "posix" else None
        if find is not None:
            try:
                self.proc = subprocess.Popen(
                    # each entry: d (folder), f (regular file) or x (anything else), its path, a NUL
                    [find, str(site), "-mindepth", "1", "(", "-type", "d", "-printf", r"d%P\0", ")", "-o",
                     "(", "-type", "f", "-printf", r"f%P\0", ")", "-o", "-printf", r"x%P\0"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except OSError:
                self.proc = None

    def result(self) -> tuple[set[str], list[str]] | None:
        if self.proc is None:
            return _listing(self.site)
        out, _ = self.proc.communicate()
        if self.proc.returncode != 0:  # not GNU find, or the folder changed under it
            return _listing(self.site)
        files: set[str] = set()
        folders: list[str] = []
        for item in out.split(b"\0"):
            if not item:
                continue
            kind, rel = item[:1], os.fsdecode(item[1:])
            if kind == b"f":
                files.add(rel)
            elif kind == b"d":
                folders.append(rel)
            else:
                return None
        return files, folders

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def _update(stage: Path, live: Path, files: list[str], changed: list[str], before: tuple[set[str], list[str]]) -> None:
    """Bring the catalog ``live`` to the site whose files are ``files``: each changed file (written in ``stage``)
    renamed over its live one, then the files no longer in the site removed, then the folders left empty.
    A reader of ``live`` sees each page whole, old or new, never half-written."""
    made: set[Path] = set()
    for rel in changed:
        dest = live / rel
        if dest.parent not in made:
            dest.parent.mkdir(parents=True, exist_ok=True)
            made.add(dest.parent)
        try:
            os.replace(stage / rel, dest)
        except IsADirectoryError:  # a folder of the old site where the new one has a file
            shutil.rmtree(dest)
            os.replace(stage / rel, dest)
    old_files, old_folders = before
    gone = old_files.difference(files)
    for rel in sorted(gone):
        try:
            os.unlink(live / rel)
        except FileNotFoundError:
            pass
    kept: set[str] = set()  # every folder of the new site
    for rel in files:
        folder = rel.rpartition("/")[0]
        while folder and folder not in kept:
            kept.add(folder)
            folder = folder.rpartition("/")[0]
    for folder in sorted(old_folders, key=len, reverse=True):  # the deepest first
        if folder not in kept:
            try:
                os.rmdir(live / folder)
            except OSError:  # not empty (something was added since it was listed): left alone
                pass


def _models(
    repo: str,
    ref: str | None,
    reg: Registry,
    tmp: Path,
    history: Callable[[], None],
    workers: int | None,
    live: Path | None,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Every model's version and compare pages (in worker processes when the registry is large and there are
    CPUs to share, while ``history`` runs here), and the files the workers wrote and changed."""
    names = reg.model_names()
    if workers is None:
        total = sum(len(reg.version_numbers(n)) for n in names)
        workers = min(cpu_count(), 8) if total >= PARALLEL_FROM else 1
    workers = min(workers, max(1, len(names)))
    if workers < 2:
        history()
        reg = open_registry(repo, ref)
        return [model_site(reg, n, tmp) for n in names], [], []
    chunks = [names[i::workers] for i in range(workers)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for chunk in chunks:  # started inside the try: a SIGTERM between two starts still stops the first
            procs.append(_worker(repo, ref, chunk, tmp, live))
        history()
        answers = [_answer(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout is not None:
                p.stdout.close()
    done = {r["summary"]["name"]: r for found, _ in answers for r in found}
    files = [rel for _, (wrote, _) in answers for rel in wrote]
    changed = [rel for _, (_, changes) in answers for rel in changes]
    return [done[n] for n in names], files, changed


class _Termination:
    """SIGTERM (``kill PID``, a CI job cancelled, a container stopped) while the catalog is built, in the main
    thread: raised as ``SystemExit(143)`` where stopping is safe, so every ``finally`` runs (the workers are
    killed and waited for, the staging folder removed) instead of the process vanishing and leaving its workers
    running; while the live site is updated, held until the update is whole (a reader never sees half of one).
    Elsewhere (another thread: signals reach only the main one) it does nothing."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.installed = False
        self.holding = False
        self.pending = False

    def install(self) -> None:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._stop)
            self.installed = True

    def restore(self) -> None:
        """The handler there was before :meth:`install`."""
        import signal

        if self.installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if self.previous is None else self.previous)
            self.installed = False

    def _stop(self, signum: int, frame: Any) -> None:
        if self.holding:
            self.pending = True
            return
        raise SystemExit(128 + signum)

    def hold(self) -> _Held:
        return _Held(self)


class _Held:
    def __init__(self, term: _Termination) -> None:
        self.term = term

    def __enter__(self) -> None:
        self.term.holding = True

    def __exit__(self, *exc: object) -> None:
        import signal

        self.term.holding = False
        if self.term.pending:
            raise SystemExit(128 + signal.SIGTERM)


#: what a worker runs: its task (pickled) on stdin, its pages under the site, its results (pickled) on stdout
WORKER = "from mlgate.catalog.collect import worker; worker()"


def _worker(repo: str, ref: str | None, names: list[str], tmp: Path, live: Path | None) -> subprocess.Popen[bytes]:
    """A worker process for ``names``: a fresh interpreter running :func:`mlgate.catalog.collect.worker` (not
    multiprocessing, which would import the caller's ``__main__`` again in each worker)."""
    import mlgate

    here = str(Path(mlgate.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p),
        PARENT_VARIABLE: str(os.getpid()),  # the worker stops when this process is gone (collect.worker)
    }
    proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps((repo, ref, names, str(tmp), None if live is None else str(live))))
    proc.stdin.close()
    return proc


def _answer(proc: subprocess.Popen[bytes]) -> tuple[list[dict[str, Any]], tuple[list[str], list[str]]]:
    assert proc.stdout is not None
    data = proc.stdout.read()
    code = proc.wait()
    if not data:
        raise RuntimeError(f"a catalog worker exited {code} without an answer")
    status, value = pickle.loads(data)
    if status == "ok":
        found: tuple[list[dict[str, Any]], tuple[list[str], list[str]]] = value
        return found
    if status == "error":  # a problem with the registry, said as the worker's error said it
        raise InputError(value)
    raise RuntimeError(value)


def build_catalog(
    repo: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    ref: str | None = None,
    forge: Any = None,
    workers: int | None = None,
    _whole: bool = False,
) -> CatalogResult:
    """Build the catalog of the registry at ``ref`` (the working tree when None) into ``out``.

    ``forge``: where the audit trail's approvers come from (None: "unknown"). ``workers``: processes that make
    the model pages (None: one per CPU from 2,000 versions on, else this process alone). Called in the main
    thread, a SIGTERM meanwhile ends the build as ``SystemExit(143)`` once its workers are stopped and its
    staging folder removed (the handler there before is restored when the build ends).
    """
    repo, target = str(repo), Path(out).absolute()
    _check_output(target)
    lister = _Lister(target) if (target / MARKER).is_file() and not target.is_symlink() and not _whole else None
    live = target if lister is not None else None
    warnings: list[str] = []
    reg = open_registry(repo, ref, [])  # the listing only: the manifests are read where the pages are made
    events: list[dict[str, Any]] = []

    def history() -> None:
        events.extend(_history(repo, ref, forge, warnings))
        doubtful = sum(len(pages.unverified(ev)) for ev in events)
        if doubtful:
            warnings.append(
                f"{doubtful} approval(s) could not be verified: the forge token cannot read a team's members or a "
                "reviewer's permission (a team needs a token with read:org); they are shown as not verified, "
                "never as approvals"
            )
        # the pages made from the history alone, written while the workers are still making the models' pages
        parts = max(1, -(-len(events) // AUDIT_PAGE))
        values = pages.facets(events)
        for i in range(parts):
            chunk = events[i * AUDIT_PAGE : (i + 1) * AUDIT_PAGE]
            where = tmp / "audit" / ("" if i == 0 else str(i + 1)) / "index.html"
            write(where, pages.audit(chunk, i, parts, len(events), warnings, values))
        audit_pages.append(parts)
        write(tmp / "audit" / "history.js", pages.history_script(events))  # the audit filters' data
        write(
            tmp / "audit" / "history.json", json.dumps({"events": events, "warnings": warnings}, separators=(",", ":"))
        )

    audit_pages: list[int] = []
    target.parent.mkdir(parents=True, exist_ok=True)
    term = _Termination()
    term.install()  # restored in the finally below
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    new_site(tmp, live)
    try:
        results, files, changed = _models(repo, ref, reg, tmp, history, workers, live)
        by_model: dict[str, list[dict[str, Any]]] = {}
        for ev in events:
            if ev.get("model"):
                by_model.setdefault(ev["model"], []).append(ev)
        summaries = [model_page(r, by_model.get(r["summary"]["name"], []), tmp) for r in results]
        write(tmp / "index.html", pages.home(summaries, {"source": reg.tree.label}))
        search = [entry for r in results for entry in r["search"]]
        index = json.dumps(search, separators=(",", ":")).replace("</", "<\\/")
        write(tmp / "assets" / "search-index.js", f"window.MLGATE_SEARCH = {index};\n")
        write(tmp / "assets" / "site.css", assets.CSS)
        write(tmp / "assets" / "site.js", assets.JS)
        write(tmp / MARKER, "built by mlgate catalog\n")
        mine, mine_changed = written()
        count = 1 + audit_pages[0] + sum(r["pages"] for r in results)
        before = lister.result() if lister is not None else None
        if live is not None and before is not None:
            with term.hold():
                _update(tmp, live, files + mine, changed + mine_changed, before)
        elif live is not None:  # the catalog holds a link: built again whole, then swapped in
            new_site(tmp)
            shutil.rmtree(tmp)
            return build_catalog(repo, out, ref=ref, forge=forge, workers=workers, _whole=True)
        else:
            os.chmod(tmp, 0o755)
            with term.hold():
                _swap(tmp, target)
    finally:
        if lister is not None:
            lister.stop()
        new_site()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        term.restore()
    return CatalogResult(target, len(results), sum(s["count"] for s in summaries), count, len(events), warnings)
