"""Benchmark suite entry point.

    python -m tests.benchmarks --sizes 1000,10000 --out bench.json [--peers gto,mlflow] [--runs 5] [--mlflow-plugin]
    python -m tests.benchmarks --sizes 1000,10000 --only catalog     # just `mlgate catalog` and its page sizes
    python -m tests.benchmarks --sizes 10000,100000 --only floor     # issue 18's paths beside the floor, targets

For each size N (total versions), builds a synthetic registry of N/10 models x 10 versions with a history
of N promotions merged as pull requests (deterministic from --seed), then times whole processes, the way
a user or a CI job feels them, and prints a Markdown table. Times are medians of --runs runs.
--mlflow-plugin adds MLflow's client through the mlgate plugin next to MLflow's SQLite registry (needs
mlgate[mlflow] and the full mlflow in this interpreter; see mlflow_plugin.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .synth import Synthetic, build

ROOT = Path(__file__).resolve().parents[2]


def _mlgate_cmd(*args: str) -> list[str]:
    # the installed package when there is one, else the source tree
    code = "import sys; from mlgate.cli import main; sys.exit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def _env() -> dict[str, str]:
    """The child processes import the same mlgate as this one (installed, or the source tree)."""
    import os

    try:
        import mlgate

        where = str(Path(mlgate.__file__).resolve().parent.parent)
    except ImportError:
        where = str(ROOT / "scripts")
    env = {**os.environ, "PYTHONPATH": where}
    # timed as an installed mlgate runs: pip compiles its modules to bytecode once, at install; with
    # PYTHONDONTWRITEBYTECODE set (some CI images do) every run would compile them again (a third of a start)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_process(cmd: list[str], cwd: Path, runs: int, ok_codes: tuple[int, ...] = (0,), setup=None) -> dict:
    """Median wall time of a whole process, every run's time, and the median CPU time (user + system) the
    process and the processes it started used: on a shared machine, wall time grows with the load, CPU time
    much less."""
    import resource

    times, cpu = [], []
    for _ in range(runs):
        if setup:
            setup()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True)
        times.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        if proc.returncode not in ok_codes:
            raise RuntimeError(f"{' '.join(cmd[:6])} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return {"median_s": statistics.median(times), "runs_s": times, "cpu_s": statistics.median(cpu)}


#: the issue's targets (seconds, whole processes, no commit-graph), per row, and the sizes they hold at
#: (issue 18: pull-request paths at 10,000 and 100,000 versions; history cold at 10,000)
TARGETS: dict[str, tuple[float, tuple[int, ...]]] = {
    "validate PR moving one alias": (0.25, (10_000, 100_000)),
    "validate PR rolling one alias back (git revert)": (0.25, (10_000, 100_000)),
    "register one version": (0.3, (10_000, 100_000)),
    "promote one alias": (0.3, (10_000, 100_000)),
    "history of the whole registry (cold)": (1.0, (10_000,)),
    "history of the whole registry, repeat run (cache)": (0.2, (10_000,)),
}

#: the git walk ``mlgate history`` runs (audit.history through GitRepo.log_segments), for the floor row
HISTORY_LOG = [
    "git",
    "log",
    "--first-parent",
    "--diff-merges=first-parent",
    "--raw",
    "--no-abbrev",
    "--no-renames",
    "--no-color",
    "--reverse",
    "--format=%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%cn%x1f%cI%x1f%s%x1f%b%x1d",
    "main",
]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def floor_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """What no mlgate command can beat: python starting, mlgate starting, and git's own walk of the history."""
    repo = syn.path
    return {
        "floor: python start (python -c pass)": time_process([sys.executable, "-c", "pass"], repo, runs),
        "floor: mlgate start (mlgate --help)": time_process(_mlgate_cmd("--help"), repo, runs),
        "floor: git's own history walk (the git log history runs)": time_process(HISTORY_LOG, repo, runs),
    }


def pull_request_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """The pull-request paths: validate a PR (a promotion, and a rollback by git revert), promote, register."""
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    results: dict[str, dict] = {}
    for stale in ("bench-promote", "bench-revert"):  # left by an earlier run over a --reuse'd registry
        subprocess.run(["git", "branch", "-D", stale], cwd=repo, capture_output=True)
    # a pull request that moves one alias
    current = syn.champions[m]
    target = 1 if current != 1 else 2
    _git(repo, "switch", "--quiet", "-c", "bench-promote")
    alias = repo / f"registry/models/{m}/aliases/challenger.yaml"
    alias.write_text(
        alias.read_text().replace("version: 2", f"version: {target}")
        if target != 2
        else alias.read_text().replace("version: 2", "version: 3")
    )
    _git(repo, "commit", "--quiet", "-am", "bench: move one alias")
    # a pull request reverting the last promotion merged (git revert names it: proven in O(1))
    _git(repo, "switch", "--quiet", "-c", "bench-revert", "main")
    _git(repo, "revert", "--no-edit", "-m", "1", "HEAD")
    _git(repo, "switch", "--quiet", "main")
    results["validate PR moving one alias"] = time_process(
        _mlgate_cmd("validate", "--base", "main", "--head", "bench-promote"), repo, runs, ok_codes=(0, 1)
    )
    results["validate PR rolling one alias back (git revert)"] = time_process(
        _mlgate_cmd("validate", "--base", "main", "--head", "bench-revert"), repo, runs, ok_codes=(0, 1)
    )
    artifact = repo.parent / "artifact.bin"
    artifact.write_bytes(b"\0" * 4096)
    (repo.parent / "eval.yaml").write_text("dataset: {name: h, sha256: " + "a" * 64 + "}\nmetrics: {auc: 0.9}\n")
    (repo.parent / "card.md").write_text("# card\n\nx\n")

    def drop_branch() -> None:
        subprocess.run(
            ["git", "branch", "-D", f"mlgate/register-{m}-v{syn.versions + 1}"], cwd=repo, capture_output=True
        )

    promote_branch = f"mlgate/promote-{m}-challenger-v3"  # challenger holds 2 in every synthetic model

    def drop_promotion() -> None:
        subprocess.run(["git", "branch", "-D", promote_branch], cwd=repo, capture_output=True)

    results["promote one alias"] = time_process(
        _mlgate_cmd("promote", m, "3", "--alias", "challenger", "--no-pr", "--force", "--as", "bench"),
        repo,
        runs,
        setup=drop_promotion,
    )
    drop_promotion()
    results["register one version"] = time_process(
        _mlgate_cmd(
            "register",
            m,
            "--artifact",
            str(artifact),
            "--eval",
            str(repo.parent / "eval.yaml"),
            "--card",
            str(repo.parent / "card.md"),
            "--run-id",
            "r",
            "--git-sha",
            "a" * 40,
            "--code-repo",
            "https://x.test/y",
            "--dataset-uri",
            "s3://d/x",
            "--dataset-sha256",
            "b" * 64,
            "--no-pr",
            "--as",
            "bench",
        ),
        repo,
        runs,
        setup=drop_branch,
    )
    drop_branch()
    return results


def history_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """History cold (its cache removed before each run) and repeated (through the cache under .git/mlgate/)."""
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    cache = repo / ".git/mlgate/cache"

    def no_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    results = {
        "history of one model (cold)": time_process(
            _mlgate_cmd("history", m, "--format", "jsonl"), repo, runs, setup=no_cache
        ),
        "history of the whole registry (cold)": time_process(
            _mlgate_cmd("history", "--format", "jsonl"), repo, runs, setup=no_cache
        ),
    }
    results["history of the whole registry, repeat run (cache)"] = time_process(
        _mlgate_cmd("history", "--format", "jsonl"), repo, runs
    )
    results["history of one model, repeat run (cache)"] = time_process(
        _mlgate_cmd("history", m, "--format", "jsonl"), repo, runs
    )
    results.update(notify_rows(syn, runs))
    return results


def notify_rows(syn: Synthetic, runs: int) -> dict[str, dict]:
    """`mlgate notify --since` of a push of one commit, as publish.yml runs it: in a fresh clone (no history cache
    under .git/mlgate/), dry run (nothing posted). A promotion to a version the alias never held is the costliest
    (history reads that alias file's own history back to its first commit, to know it is not a move back); a
    revert proves its move back in O(1)."""
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    work = Path(tempfile.mkdtemp(prefix="notify-", dir=repo.parent))
    clone = work / "clone"
    try:
        _git(work, "clone", "--quiet", "--local", "--branch", "main", str(repo), str(clone))
        who = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
        (clone / "registry/notifications.yaml").write_text(
            "apiVersion: mlgate/v1\nkind: Notifications\nsubscribers:\n"
            "  - url: http://127.0.0.1:9/events\n    secret_env: BENCH_SECRET\n"
        )
        _git(clone, "add", "registry/notifications.yaml")
        _git(clone, *who, "commit", "--quiet", "-m", "Subscribers")
        last = _git(clone, "log", "--first-parent", "-1", "--format=%H %P", "main", "--", "registry/models").split()
        challenger = clone / f"registry/models/{m}/aliases/challenger.yaml"  # challenger holds 2 in every model
        challenger.write_text(challenger.read_text().replace("version: 2", "version: 3"))
        _git(clone, *who, "commit", "--quiet", "-am", f"Promote {m} v3 to challenger")

        def fresh() -> None:
            shutil.rmtree(clone / ".git/mlgate", ignore_errors=True)

        notify = _mlgate_cmd("notify", "--since", "HEAD~1", "--dry-run")
        rows = {
            "notify --since, one promotion to a version never held (fresh clone)": time_process(
                notify, clone, runs, setup=fresh
            )
        }
        _git(clone, *who, "revert", "--no-edit", *(["-m", "1"] if len(last) > 2 else []), last[0])
        rows["notify --since, one git revert of a promotion (fresh clone)"] = time_process(
            notify, clone, runs, setup=fresh
        )
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """Reading the registry: the serving index and cold start, a warm look-up, list, full validation, resolve."""
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    results: dict[str, dict] = {}
    index = repo.parent / f"index-{syn.models}.json"
    results["build the serving index"] = time_process(_mlgate_cmd("index", "--ref", "main", "-o", str(index)), repo, 1)
    cold = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
        "print(sum(1 for m in s.model_names() if serving.resolve(f'models:/{m}@champion', s)))"
    )
    results["serving cold start: every champion (fresh process)"] = time_process(
        [sys.executable, "-c", cold, str(index)], repo, runs
    )
    warm = (
        "import sys, time, statistics; from mlgate import serving; s = serving.open_source(sys.argv[1]); ts = []\n"
        "for _ in range(200):\n t = time.perf_counter(); serving.resolve(sys.argv[2], s); ts.append(time.perf_counter() - t)\n"
        "print(statistics.median(ts))"
    )
    out = subprocess.run(
        [sys.executable, "-c", warm, str(index), f"models:/{m}@champion"],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    results["alias look-up in a warm process"] = {"median_s": float(out.split()[-1]), "runs_s": []}
    results["show the whole registry"] = time_process(_mlgate_cmd("list", "--ref", "main"), repo, runs)
    results["validate whole registry"] = time_process(_mlgate_cmd("validate"), repo, max(1, runs // 2))
    results["resolve one alias (fresh process)"] = time_process(
        _mlgate_cmd("resolve", f"models:/{m}@champion", "--ref", "main"), repo, runs
    )
    return results


def commit_graph_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """The same path-limited reads with git's changed-path Bloom filters (git commit-graph write
    --changed-paths), then the commit-graph removed again (every other row runs without one)."""
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    results: dict[str, dict] = {}
    t = time.perf_counter()
    _git(repo, "commit-graph", "write", "--reachable", "--changed-paths")
    results["(write the commit-graph once)"] = {"median_s": time.perf_counter() - t, "runs_s": []}
    results["validate PR moving one alias, with commit-graph"] = time_process(
        _mlgate_cmd("validate", "--base", "main", "--head", "bench-promote"), repo, runs, ok_codes=(0, 1)
    )
    shutil.rmtree(repo / ".git/mlgate/cache", ignore_errors=True)
    results["history of one model, with commit-graph (cold)"] = time_process(
        _mlgate_cmd("history", m, "--format", "jsonl"), repo, runs
    )
    subprocess.run(
        ["rm", "-rf", str(repo / ".git/objects/info/commit-graph"), str(repo / ".git/objects/info/commit-graphs")]
    )
    return results


def mlgate_suite(syn: Synthetic, runs: int, *, commit_graph: bool = True) -> dict[str, dict]:
    """Every mlgate row, one function per area (each returns its rows; a new area is one more function here)."""
    results: dict[str, dict] = {}
    results.update(floor_suite(syn, runs))
    results.update(pull_request_suite(syn, runs))
    results.update(history_suite(syn, runs))
    results.update(read_suite(syn, runs))
    if commit_graph:
        results.update(commit_graph_suite(syn, runs))
    for branch in ("bench-promote", "bench-revert"):
        subprocess.run(["git", "branch", "-D", branch], cwd=syn.path, capture_output=True)
    return results


def target_lines(entry: dict) -> list[str]:
    """Each target of issue 18 that applies at this size: met or not, beside the floor."""
    total = entry["total_versions"]
    rows = entry["mlgate"]
    lines = []
    for op, (limit, sizes) in TARGETS.items():
        if total not in sizes or op not in rows:
            continue
        got, cpu = rows[op]["median_s"], rows[op].get("cpu_s")
        verdict = "met" if got <= limit else "**NOT MET**"
        if got > limit and cpu is not None and cpu <= limit:
            verdict += " in wall time; its CPU time is under the target (a busy machine?)"
        spent = f", CPU {_fmt(cpu)}" if cpu is not None else ""
        lines.append(f"- {op}: {_fmt(got)}{spent} (target <= {limit:g} s): {verdict}")
    if lines:
        floor = [
            f"{op.split(': ', 1)[1]} {_fmt(r['median_s'])} (CPU {_fmt(r.get('cpu_s', 0.0))})"
            for op, r in rows.items()
            if op.startswith("floor: ")
        ]
        lines = [f"targets at {total:,} versions (floor: {'; '.join(floor)}):", *lines, ""]
    return lines


#: what the catalog must stay under at 10,000 versions (issue 16)
CATALOG_LIMITS = {"build_s": 10.0, "home_bytes": 1_000_000, "model_page_bytes": 200_000}


def serving_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """The serving fleet's rows: the sharded index (built, then incrementally after one promotion), cold starts
    from it, and what an unchanged poll over HTTP transfers. Works on a branch of its own (main is untouched)."""
    import re
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    repo, results = syn.path, {}
    m = syn.model_names[len(syn.model_names) // 2]
    folder, single = repo.parent / f"sharded-{syn.models}", repo.parent / f"single-{syn.models}.json"

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout

    git("branch", "--force", "bench-serving", "main")
    shutil.rmtree(folder, ignore_errors=True)
    build = ("index", "--ref", "bench-serving")
    results["build the sharded serving index (from scratch)"] = time_process(
        _mlgate_cmd(*build, "--sharded", "-o", str(folder)), repo, 1
    )
    time_process(_mlgate_cmd(*build, "-o", str(single)), repo, 1)
    promoted = [0]

    def promote_one() -> None:  # one merged promotion on the branch, not timed
        promoted[0] += 1
        tree = git("rev-parse", "bench-serving^{tree}").strip()
        alias = f"registry/models/{m}/aliases/challenger.yaml"
        text = git("show", f"bench-serving:{alias}")
        text = re.sub(r"(?m)^version: \d+", f"version: {2 + promoted[0] % (syn.versions - 1)}", text)
        blob = subprocess.run(
            ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text, capture_output=True, text=True, check=True
        ).stdout.strip()
        env = {"GIT_INDEX_FILE": str(repo.parent / "bench-serving.index")}
        subprocess.run(["git", "read-tree", tree], cwd=repo, check=True, env={**_env(), **env})
        subprocess.run(
            ["git", "update-index", "--cacheinfo", f"100644,{blob},{alias}"],
            cwd=repo,
            check=True,
            env={**_env(), **env},
        )
        new_tree = subprocess.run(
            ["git", "write-tree"], cwd=repo, check=True, env={**_env(), **env}, capture_output=True, text=True
        ).stdout.strip()
        commit = git("commit-tree", new_tree, "-p", "bench-serving", "-m", "bench: promote").strip()
        git("update-ref", "refs/heads/bench-serving", commit)

    results["incremental index after one promotion (sharded)"] = time_process(
        _mlgate_cmd(*build, "--sharded", "--previous", str(folder / "index.json"), "-o", str(folder)),
        repo,
        runs,
        setup=promote_one,
    )
    results["incremental index after one promotion (single file)"] = time_process(
        _mlgate_cmd(*build, "--previous", str(single), "-o", str(single)), repo, max(1, runs // 2), setup=promote_one
    )
    cold = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
        "print(sum(1 for m in s.model_names() if serving.resolve(f'models:/{m}@champion', s)))"
    )
    results["serving cold start: every champion, sharded index (fresh process)"] = time_process(
        [sys.executable, "-c", cold, str(folder / "index.json")], repo, runs
    )
    one = (
        "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1], models=[sys.argv[2]]); "
        "serving.resolve(f'models:/{sys.argv[2]}@champion', s); print(len(s.versions(sys.argv[2])))"
    )
    results["serving cold start: one model's shard (fresh process)"] = time_process(
        [sys.executable, "-c", one, str(folder / "index.json"), m], repo, runs
    )

    sent = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = (folder / "index.json").read_bytes()
            etag = '"' + __import__("hashlib").sha256(body).hexdigest()[:32] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                body = b""
            else:
                self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            sent[0] += len(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    poll = (
        "import sys, time, statistics; from mlgate import serving; s = serving.open_source(sys.argv[1]); ts = []\n"
        "for _ in range(20):\n t = time.perf_counter(); s.token(); ts.append(time.perf_counter() - t)\n"
        "print(statistics.median(ts))"
    )
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.json"
        out = subprocess.run([sys.executable, "-c", poll, url], env=_env(), capture_output=True, text=True, check=True)
        first = (folder / "index.json").stat().st_size
        results[f"unchanged poll over HTTP ({sent[0] - first} index bytes in 20 polls; index {first:,} bytes)"] = {
            "median_s": float(out.stdout.split()[-1]),
            "runs_s": [],
        }
    finally:
        server.shutdown()
        server.server_close()
    return results


def catalog_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """``mlgate catalog`` of the whole registry (its audit trail too) into an empty folder, then over the previous
    catalog after one promotion merged on main (what publish.yml does on each merge), and the page sizes."""
    import os
    import re

    site = syn.path.parent / f"catalog-{syn.models}"
    cmd = _mlgate_cmd("catalog", "--ref", "main", "-o", str(site))
    empty = time_process(cmd, syn.path, runs, setup=lambda: shutil.rmtree(site, ignore_errors=True))

    def git(*args: str, env: dict | None = None, data: str | None = None) -> str:
        return subprocess.run(
            ["git", *args], cwd=syn.path, check=True, capture_output=True, text=True, env=env, input=data
        ).stdout.strip()

    promoted = [0]

    def promote() -> None:
        """One more promotion on main (plumbing: the working tree and its branch are left alone)."""
        promoted[0] += 1
        m = syn.model_names[(promoted[0] * 7) % len(syn.model_names)]
        path = f"registry/models/{m}/aliases/champion.yaml"
        text = git("show", f"main:{path}") + "\n"
        now = int(re.search(r"version: (\d+)", text).group(1))  # type: ignore[union-attr]
        to = now % syn.versions + 1
        blob = git("hash-object", "-w", "--stdin", data=text.replace(f"version: {now}", f"version: {to}"))
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            git("read-tree", "main", env=env)
            git("update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = git("write-tree", env=env)
        commit = git("commit-tree", tree, "-p", "main", "-m", f"Promote {m} v{to} to champion (#{90000 + promoted[0]})")
        git("update-ref", "refs/heads/main", commit)

    again = time_process(cmd, syn.path, runs, setup=promote)
    models = list((site / "models").iterdir())
    pages = [m / "index.html" for m in models]
    empty["home_bytes"] = (site / "index.html").stat().st_size
    empty["largest_model_page_bytes"] = max(p.stat().st_size for p in pages)
    empty["largest_version_page_bytes"] = max(p.stat().st_size for p in site.glob("models/*/versions/*/index.html"))
    empty["pages"] = sum(1 for _ in site.rglob("index.html"))
    empty["site_bytes"] = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    shutil.rmtree(site, ignore_errors=True)
    return {
        "build the catalog (mlgate catalog)": empty,
        "rebuild the catalog after one promotion": again,
    }


def catalog_lines(entry: dict) -> list[str]:
    c = entry["mlgate"].get("build the catalog (mlgate catalog)")
    if not c:
        return []
    ok = entry["total_versions"] < 10_000 or (
        c["median_s"] < CATALOG_LIMITS["build_s"]
        and c["home_bytes"] < CATALOG_LIMITS["home_bytes"]
        and c["largest_model_page_bytes"] < CATALOG_LIMITS["model_page_bytes"]
    )
    return [
        f"catalog: {c['pages']:,} pages, {c['site_bytes'] / 1e6:.1f} MB in all; home page {c['home_bytes'] / 1e3:.0f} kB, "
        f"largest model page {c['largest_model_page_bytes'] / 1e3:.1f} kB, largest version page "
        f"{c['largest_version_page_bytes'] / 1e3:.1f} kB; built in {_fmt(c['median_s'])} (median of "
        f"{len(c['runs_s'])})" + ("" if ok else f"  ** over the limits {CATALOG_LIMITS} **"),
        "",
    ]


def _fmt(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1000:.2f} ms" if seconds < 0.01 else f"{seconds:.3f} s"


def table(report: dict) -> str:
    lines = []
    for size in report["sizes"]:
        peers = [p for p in report["peers"] if p in size.get("peers", {})]
        lines += [
            f"#### {size['models']} models x {size['versions']} versions ({size['total_versions']:,} versions, "
            f"{size['promotions']:,} promotion PRs)",
            "",
            "| operation | mlgate | " + "".join(f"{p} | " for p in peers) + "fastest peer / mlgate |",
            "|---|---|" + "---|" * len(peers) + "---|",
        ]
        ops = list(size["mlgate"]) + [op for p in peers for op in size["peers"][p] if op not in size["mlgate"]]
        for op in dict.fromkeys(ops):
            mine = size["mlgate"].get(op)
            theirs = [size["peers"][p].get(op) for p in peers]
            cells = [_fmt(x["median_s"]) if x else "n/a" for x in theirs]
            known = [x["median_s"] for x in theirs if x]
            ratio = f"{min(known) / mine['median_s']:.0f}x" if known and mine else "-"
            cell = "n/a" if not mine else _fmt(mine["median_s"])
            if mine and mine.get("cpu_s") is not None:
                cell += f" (CPU {_fmt(mine['cpu_s'])})"
            lines.append(f"| {op} | {cell} | " + "".join(f"{c} | " for c in cells) + f"{ratio} |")
        lines.append("")
    return "\n".join(lines)


def _record(syn: Synthetic) -> None:
    """What a later --reuse needs to know of a built registry, beside it."""
    fields = {k: getattr(syn, k) for k in ("models", "versions", "promotions", "seed", "champions")}
    syn.path.with_suffix(".json").write_text(json.dumps(fields))


def _reused(path: Path, models: int, versions: int, promotions: int, seed: int) -> Synthetic | None:
    try:
        fields = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if [fields.get(k) for k in ("models", "versions", "promotions", "seed")] != [models, versions, promotions, seed]:
        return None
    if not (path / ".git").is_dir():
        return None
    from .synth import model_name

    names = tuple(model_name(i) for i in range(models))
    print(f"reusing {path}", file=sys.stderr)
    return Synthetic(path, models, versions, promotions, seed, names, fields["champions"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000,10000", help="total versions per synthetic registry, comma-separated")
    ap.add_argument("--versions", type=int, default=10, help="versions per model")
    ap.add_argument("--promotions", type=int, default=None, help="promotion PRs in the history (default: = size)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", default="", help="comma-separated: gto, mlflow")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument("--keep", default=None, help="build the registries in this folder and keep them")
    ap.add_argument(
        "--peer-max-versions", type=int, default=10_000, help="run peers only on registries up to this many versions"
    )
    ap.add_argument(
        "--peer-budget",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="time per peer and size (0: no limit); MLflow populates what fits in part of it (its client takes many "
        "minutes for 10,000 versions) and extrapolates whole-registry figures, saying so in the table",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: use a registry an earlier run built there with the same sizes and seed (building "
        "100,000 versions takes minutes)",
    )
    ap.add_argument("--peers-venv", default=None, help="reuse (or create) the peers' virtualenv here")
    ap.add_argument(
        "--mlflow-plugin",
        action="store_true",
        help="also time MLflow's client through the mlgate plugin and through MLflow's SQLite registry",
    )
    ap.add_argument(
        "--only",
        choices=["all", "catalog", "floor", "serving"],
        default="all",
        help="run every benchmark, the catalog's, issue 18's pull-request paths and history beside the floor "
        "(what --sizes 10000,100000 measures in minutes), or the serving fleet's (sharded index, incremental "
        "index, cold starts, an unchanged poll)",
    )
    args = ap.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    report = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
            "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
            "load_average_at_start": __import__("os").getloadavg(),
        },
        "runs": args.runs,
        "seed": args.seed,
        "peers": peers + (["mlflow-sqlite"] if args.mlflow_plugin else []),
        "sizes": [],
    }
    try:
        for size in [int(x) for x in args.sizes.split(",")]:
            models = max(1, size // args.versions)
            promotions = args.promotions if args.promotions is not None else size
            path = work / f"registry-{size}"
            syn = _reused(path, models, args.versions, promotions, args.seed) if args.reuse else None
            if syn is None:
                if path.exists():
                    shutil.rmtree(path)
                t = time.perf_counter()
                syn = build(path, models, args.versions, promotions, args.seed)
                print(
                    f"built {models} models x {args.versions} versions, {promotions} promotions in {time.perf_counter() - t:.1f} s",
                    file=sys.stderr,
                )
                _record(syn)
            entry = {
                "models": models,
                "versions": args.versions,
                "total_versions": models * args.versions,
                "promotions": promotions,
                "load_average": __import__("os").getloadavg(),
                "mlgate": {},
                "peers": {},
            }
            if args.only == "floor":
                entry["mlgate"] = floor_suite(syn, args.runs)
                entry["mlgate"].update(pull_request_suite(syn, args.runs))
                entry["mlgate"].update(history_suite(syn, args.runs))
            elif args.only == "all":
                entry["mlgate"] = mlgate_suite(syn, args.runs)
            if args.only in ("all", "serving"):
                entry["mlgate"].update(serving_suite(syn, args.runs))
            if args.only in ("all", "catalog"):
                entry["mlgate"].update(catalog_suite(syn, max(1, args.runs // 2) if args.only == "all" else args.runs))
            if peers and models * args.versions <= args.peer_max_versions:
                from .peers import run_peers

                entry["peers"] = run_peers(
                    peers,
                    syn,
                    work,
                    args.runs,
                    Path(args.peers_venv) if args.peers_venv else None,
                    args.peer_budget or None,
                )
                entry["peers_load"] = __import__("os").getloadavg()
            if args.mlflow_plugin:
                from .mlflow_plugin import plugin_suite

                mine, sqlite = plugin_suite(syn, work, args.runs)
                entry["mlgate"].update(mine)
                entry["peers"]["mlflow-sqlite"] = sqlite
            report["sizes"].append(entry)
            entry["load_average_after"] = __import__("os").getloadavg()
            print(table({**report, "sizes": [entry]}))
            print(f"load average: {entry['load_average']} before, {entry['load_average_after']} after\n")
            print("\n".join(target_lines(entry)))
            print("\n".join(catalog_lines(entry)))
            if entry["peers"]:
                from .peers import peer_lines

                print("\n".join(peer_lines(entry, ", ".join(f"{x:.2f}" for x in entry.get("peers_load", ())))))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
