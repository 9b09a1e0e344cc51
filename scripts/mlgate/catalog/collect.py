"""One model's pages, from the registry's own views: what the build runs for each model (in a worker process
when the registry is large) and what it keeps for the home page and the search index."""

from __future__ import annotations

import os
import weakref
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlgate.audit.compare import compare, metric_directions, metric_rows
from mlgate.catalog import card, compare_site, pages
from mlgate.catalog.prefetch import open_registry
from mlgate.check.gates import Judge
from mlgate.check.run import load_policy
from mlgate.core import layout
from mlgate.core.rules import FAIL
from mlgate.errors import InputError, MlgateError
from mlgate.registry.names import resolve_target
from mlgate.registry.snapshot import Registry, describe_model, describe_version

ALIAS_KINDS = ("promotion", "rollback", "removal")
#: the metrics shown for a champion on the home page when no gate names any
KEY_METRICS = 3
CARD_LIMIT = 4 * 1024 * 1024


#: the folders this process has made (a site has tens of thousands of files in a few thousand folders)
_made: set[Path] = set()
#: a new file of the site: created (never followed through a link), written, closed: three system calls
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


class _Site:
    """Where :func:`write` puts files: ``stage``, the folder being built; ``live``, the catalog it will update
    in place (None: ``stage`` becomes the catalog whole). ``written``: every file of the new site, relative to
    ``stage``; ``changed``: those written into ``stage`` because ``live`` had other bytes (or nothing) there."""

    stage: str = ""
    live: Path | None = None
    written: list[str] = []
    changed: list[str] = []


def new_site(stage: Path | None = None, live: Path | None = None) -> None:
    """Start a site in ``stage`` (None: the paths :func:`write` is given are the site's), updating ``live`` in
    place when given: then a file whose bytes ``live`` already holds is not written again."""
    _made.clear()
    _Site.stage = str(stage) + os.sep if stage is not None else ""
    _Site.live = live
    _Site.written = []
    _Site.changed = []


def written() -> tuple[list[str], list[str]]:
    """Every file of the site this process wrote (relative to the stage), and those whose bytes changed."""
    return list(_Site.written), list(_Site.changed)


def _same(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) holding exactly ``data``."""
    try:
        fd = os.open(path, _READ)
    except OSError:
        return False
    try:
        return os.read(fd, len(data) + 1) == data if data else os.read(fd, 1) == b""
    except OSError:  # a folder, or unreadable: written again
        return False
    finally:
        os.close(fd)


def write(path: Path, text: str) -> None:
    """Write a file of the site (its folder made once), here and now; when updating a live catalog, only if
    its bytes differ from the live file's (the rest of the update is :mod:`mlgate.catalog.build`'s).

    Not in threads: a page is a few kB, its write a few microseconds in the kernel, and writer threads cost more
    than that in the interpreter lock they take back from the thread making the pages (profiled: a third of a
    worker's time went into handing the lock back after each ``mkdir``).
    """
    data = text.encode("utf-8")
    if _Site.stage:
        rel = str(path)[len(_Site.stage) :]
        _Site.written.append(rel)
        if _Site.live is not None:
            if _same(_Site.live / rel, data):
                return
            _Site.changed.append(rel)
    parent = path.parent
    if parent not in _made:
        parent.mkdir(parents=True, exist_ok=True)
        _made.add(parent)
    fd = os.open(path, _FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def flush() -> None:
    """Kept for callers of the threaded writer: every :func:`write` is done when it returns."""


def _markdown(reg: Registry, path: str) -> str | None:
    entry = reg.tree.entry(path)
    if entry is None or entry.kind != "file":
        return None
    try:
        return card.render(reg.tree.read(path, limit=CARD_LIMIT).decode("utf-8", errors="replace"))
    except InputError:
        return None


def _pairs(versions: list[int], aliases: dict[str, int], champion: int | None) -> list[tuple[int, int]]:
    """The comparisons a reviewer asks for: every alias holder and the latest version against the champion
    (without a champion: against the newest version, and the newest against the one before it)."""
    if len(versions) < 2:
        return []
    base = champion if champion is not None else versions[-1]
    wanted = [(base, v) for v in [*aliases.values(), versions[-1]] if v != base]
    if champion is None:
        wanted.append((versions[-2], versions[-1]))
    return list(dict.fromkeys((a, b) for a, b in wanted if a != b))


#: one judge per registry snapshot (it caches what it reads)
_judges: weakref.WeakKeyDictionary[Registry, Judge] = weakref.WeakKeyDictionary()


def _judge(reg: Registry) -> Judge:
    """The validator's judge of ``reg`` against its own policy, made once per registry snapshot."""
    judge = _judges.get(reg)
    if judge is None:
        shared = getattr(reg, "documents", None)  # the manifests the registry has parsed already
        judge = Judge(head=reg.tree, base=reg.tree, policy=load_policy(reg.tree)[0])
        if shared is not None:
            judge = replace(judge, load=shared)
        _judges[reg] = judge
    return judge


def _health(reg: Registry, name: str, aliases: dict[str, int]) -> dict[str, list[str]]:
    """For each alias whose version would fail today's policy (a deprecated version, missing evidence, a metric
    out of bounds, a card section missing): the failing gates, judged by the validator's own gate as if the
    alias were set to its version now (approvals aside: they belong to a pull request)."""
    judge = _judge(reg)
    found = {}
    for alias, version in aliases.items():
        change = judge.alias_change(name, alias, version, version)
        failed = [f"{c.gate}: {c.reason}" for c in change.checks if c.status == FAIL]
        if failed:
            found[alias] = failed
    return found


def model_site(reg: Registry, name: str, out: Path) -> dict[str, Any]:
    """Write a model's version and compare pages under ``out``; return what its model page, the home page and
    the search index need (the model page waits for the history: :func:`model_page`)."""
    view = describe_model(reg, name)
    directions = metric_directions(reg, name, _judge(reg))
    aliases = {a: info["version"] for a, info in view["aliases"].items()}
    champion = aliases.get("champion")
    numbers = [v["version"] for v in view["versions"]]
    metrics_of = {v["version"]: v["metrics"] or {} for v in view["versions"]}
    base = metrics_of.get(champion, {}) if champion is not None else {}
    deltas = {
        n: {r["name"]: r for r in metric_rows(base, m, directions)} if champion is not None else {}
        for n, m in metrics_of.items()
    }
    folder = out / "models" / name
    pairs = _pairs(numbers, aliases, champion)
    compare_href = {(a, b): f"compare/{a}-{b}/" for a, b in pairs}
    for (a, b), href in compare_href.items():
        named_a, named_b = resolve_target(reg, f"{name}/{a}"), resolve_target(reg, f"{name}/{b}")
        view_ab = compare(reg, named_a, named_b, directions=directions)
        write(folder / href / "index.html", pages.compare(view_ab))
    search = [
        {
            "k": "model",
            "n": name,
            "s": " ".join([name, view["description"], *view["owners"], *(f"{k}:{v}" for k, v in view["tags"].items())]),
            "u": f"models/{name}/",
        }
    ]
    described: dict[int, dict[str, Any]] = {}
    for n in numbers:
        v = described[n] = describe_version(reg, name, n)
        evidence_html = {}
        for key, file in v["evidence"].items():
            if file and key not in ("eval", "card") and str(file).endswith(".md"):
                html = _markdown(reg, f"{layout.version_dir(name, n)}/{file}")
                if html is not None:
                    evidence_html[key] = html
        link = compare_href.get((champion, n)) if champion is not None else None
        detail = {
            "champion": champion,
            "deltas": deltas.get(n, {}) if n != champion else {},
            "card_html": _markdown(reg, layout.card_path(name, n)),
            "evidence_html": evidence_html,
            "compare_link": f"../../{link}" if link else None,
        }
        write(folder / "versions" / str(n) / "index.html", pages.version(v, detail))
        text = " ".join(
            [
                f"{name} v{n}",
                v["description"],
                v["created_by"],
                *v["aliases"],
                *(f"{k}:{t}" for k, t in v["tags"].items()),
            ]
        )
        search.append({"k": "version", "n": f"{name} v{n}", "s": text, "u": f"models/{name}/versions/{n}/"})
    compare_site.write_model(reg, view, directions, compare_href, folder, write, described=described)
    held: dict[int, list[str]] = {}
    for a, v in aliases.items():
        held.setdefault(v, []).append(a)
    series = {
        m: [
            (n, float(metrics_of[n][m]), held.get(n, []))
            for n in numbers
            if isinstance(metrics_of[n].get(m), (int, float))
        ]
        for m in view["metrics"]
    }
    unhealthy = _health(reg, name, aliases)
    detail = {
        "champion": champion,
        "unhealthy": unhealthy,
        "directions": directions,
        "deltas": deltas,
        "series": series,
        "compare_links": [(f"v{a} vs v{b}", href) for (a, b), href in compare_href.items()],
    }
    champ = base if champion is not None else {}
    keys = [m for m in directions if m in champ] or list(champ)[:KEY_METRICS]
    summary = {
        "name": name,
        "description": view["description"],
        "owners": view["owners"],
        "tags": view["tags"],
        "aliases": aliases,
        "unhealthy": unhealthy,
        "key_metrics": {m: champ[m] for m in keys},
        "last_promotion": None,
        "count": len(numbers),
        "latest": numbers[-1] if numbers else None,
    }
    pages_made = 2 + len(numbers) + len(compare_href)  # the model page (written later), compare/, versions, pairs
    return {"summary": summary, "search": search, "view": view, "detail": detail, "pages": pages_made}


def model_page(parts: dict[str, Any], events: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """Write ``models/NAME/index.html`` once the history is known (its alias timeline); return the model's
    summary for the home page, with its last promotion."""
    view, detail = parts["view"], dict(parts["detail"])
    timeline = [ev for ev in events if ev["kind"] in ALIAS_KINDS]
    last_move: dict[str, dict[str, Any]] = {}
    for ev in timeline:  # latest first: the first seen is the last move
        if ev.get("alias") and ev["alias"] not in last_move:
            last_move[ev["alias"]] = ev
    detail.update(timeline=timeline, last_move=last_move)
    write(out / "models" / view["name"] / "index.html", pages.model(view, detail))
    promotions = [ev for ev in events if ev["kind"] in ("promotion", "rollback")]
    return {**parts["summary"], "last_promotion": promotions[0] if promotions else None}


def worker() -> None:
    """A worker process (:mod:`mlgate.catalog.build`): :func:`model_site` for each model named on stdin."""
    import pickle
    import sys

    _stop_with_parent()
    repo, ref, names, out, live = pickle.loads(sys.stdin.buffer.read())
    new_site(Path(out), None if live is None else Path(live))
    try:
        reg = open_registry(repo, ref, names)
        answer: tuple[str, Any] = ("ok", ([model_site(reg, n, Path(out)) for n in names], written()))
    except MlgateError as e:
        answer = ("error", str(e))
    except Exception as e:  # a bug: the parent says so, as an internal error
        answer = ("bug", f"{type(e).__name__}: {e}")
    sys.stdout.buffer.write(pickle.dumps(answer))
    sys.stdout.buffer.flush()


#: the worker's parent process id, for the worker to stop with it (:func:`_stop_with_parent`)
PARENT_VARIABLE = "MLGATE_CATALOG_PARENT"


def _stop_with_parent() -> None:
    """On Linux, have the kernel send this worker SIGTERM when the catalog process that started it dies, however
    it dies (``kill -9``, a crash: a SIGTERM it handles itself by stopping its workers), and stop now if it is
    gone already. Elsewhere a worker left alone still ends by itself when its pages are made."""
    import signal
    import sys

    parent = os.environ.get(PARENT_VARIABLE, "")
    if not sys.platform.startswith("linux") or not parent.isdigit():
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(parent):  # it died before the line above
        os._exit(1)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
