"""Benchmark suite entry point.

    python -m tests.benchmarks --sizes 1000,10000 --out bench.json [--peers gto,mlflow] [--runs 5] [--mlflow-plugin]
    python -m tests.benchmarks --sizes 1000,10000 --only catalog     # just `mlgate catalog` and its page sizes

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
    return {**os.environ, "PYTHONPATH": where}


def time_process(cmd: list[str], cwd: Path, runs: int, ok_codes: tuple[int, ...] = (0,), setup=None) -> dict:
    """Median wall time of a whole process, and every run's time."""
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True)
        times.append(time.perf_counter() - t)
        if proc.returncode not in ok_codes:
            raise RuntimeError(f"{' '.join(cmd[:6])} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
    return {"median_s": statistics.median(times), "runs_s": times}


def mlgate_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    repo = syn.path
    m = syn.model_names[len(syn.model_names) // 2]
    results: dict[str, dict] = {}

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout

    # a pull request that moves one alias
    current = syn.champions[m]
    target = 1 if current != 1 else 2
    git("switch", "--quiet", "-c", "bench-promote")
    alias = repo / f"registry/models/{m}/aliases/challenger.yaml"
    alias.write_text(
        alias.read_text().replace("version: 2", f"version: {target}")
        if target != 2
        else alias.read_text().replace("version: 2", "version: 3")
    )
    git("commit", "--quiet", "-am", "bench: move one alias")
    git("switch", "--quiet", "main")

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
    results["validate PR moving one alias"] = time_process(
        _mlgate_cmd("validate", "--base", "main", "--head", "bench-promote"), repo, runs, ok_codes=(0, 1)
    )
    results["resolve one alias (fresh process)"] = time_process(
        _mlgate_cmd("resolve", f"models:/{m}@champion", "--ref", "main"), repo, runs
    )
    results["history of one model"] = time_process(_mlgate_cmd("history", m, "--format", "jsonl"), repo, runs)
    results["history of the whole registry"] = time_process(_mlgate_cmd("history", "--format", "jsonl"), repo, runs)

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
    # the same path-limited reads with git's changed-path Bloom filters (git commit-graph write --changed-paths)
    t = time.perf_counter()
    git("commit-graph", "write", "--reachable", "--changed-paths")
    results["(write the commit-graph once)"] = {"median_s": time.perf_counter() - t, "runs_s": []}
    results["validate PR moving one alias, with commit-graph"] = time_process(
        _mlgate_cmd("validate", "--base", "main", "--head", "bench-promote"), repo, runs, ok_codes=(0, 1)
    )
    results["history of one model, with commit-graph"] = time_process(
        _mlgate_cmd("history", m, "--format", "jsonl"), repo, runs
    )
    subprocess.run(
        ["rm", "-rf", str(repo / ".git/objects/info/commit-graph"), str(repo / ".git/objects/info/commit-graphs")]
    )
    git("branch", "-D", "bench-promote")
    return results


#: what the catalog must stay under at 10,000 versions (issue 16)
CATALOG_LIMITS = {"build_s": 10.0, "home_bytes": 1_000_000, "model_page_bytes": 200_000}


def catalog_suite(syn: Synthetic, runs: int) -> dict[str, dict]:
    """``mlgate catalog`` of the whole registry (its audit trail too), and the sizes of the pages it writes."""
    site = syn.path.parent / f"catalog-{syn.models}"
    result = time_process(_mlgate_cmd("catalog", "--ref", "main", "-o", str(site)), syn.path, runs)
    models = list((site / "models").iterdir())
    pages = [m / "index.html" for m in models]
    result["home_bytes"] = (site / "index.html").stat().st_size
    result["largest_model_page_bytes"] = max(p.stat().st_size for p in pages)
    result["largest_version_page_bytes"] = max(p.stat().st_size for p in site.glob("models/*/versions/*/index.html"))
    result["pages"] = sum(1 for _ in site.rglob("index.html"))
    result["site_bytes"] = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    shutil.rmtree(site, ignore_errors=True)
    return {"build the catalog (mlgate catalog)": result}


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
            lines.append(
                f"| {op} | {_fmt(mine['median_s']) if mine else 'n/a'} | "
                + "".join(f"{c} | " for c in cells)
                + f"{ratio} |"
            )
        lines.append("")
    return "\n".join(lines)


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
    ap.add_argument("--peers-venv", default=None, help="reuse (or create) the peers' virtualenv here")
    ap.add_argument(
        "--mlflow-plugin",
        action="store_true",
        help="also time MLflow's client through the mlgate plugin and through MLflow's SQLite registry",
    )
    ap.add_argument("--only", choices=["all", "catalog"], default="all", help="run every benchmark, or the catalog's")
    args = ap.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    report = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
            "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
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
            if path.exists():
                shutil.rmtree(path)
            t = time.perf_counter()
            syn = build(path, models, args.versions, promotions, args.seed)
            print(
                f"built {models} models x {args.versions} versions, {promotions} promotions in {time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
            entry = {
                "models": models,
                "versions": args.versions,
                "total_versions": models * args.versions,
                "promotions": promotions,
                "mlgate": {} if args.only == "catalog" else mlgate_suite(syn, args.runs),
                "peers": {},
            }
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
            print(table({**report, "sizes": [entry]}))
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
