"""GTO and MLflow's registry on the same logical registry as mlgate, timed the same way.

Both are installed by the suite into their own virtualenv (never into the project's, never vendored):
gto==1.10.1 and mlflow==3.17.2 with a SQLite store. A peer's registry is built once per size, then every
operation runs as a whole process with the peer's interpreter, like mlgate's.

GTO's registry is the git tags GTO itself writes: tag names come from GTO's own ``gto.tag.name_tag`` and
messages are GTO's; they are written in bulk with ``git fast-import`` because registering 1,000 versions
through GTO's API re-reads every tag per call (O(N^2): tens of minutes). ``gto show`` is run afterwards
to check GTO reads back exactly the registry built. MLflow's registry is built through ``MlflowClient``.

Time-budgeted (``--peer-budget SECONDS``, per peer and size): populating 10,000 versions through MLflow's
client takes many minutes, so MLflow populates as many models as fit in part of the budget, is measured on
that, and operations over the whole registry are extrapolated to the full size from two measured points (half
and all of what was populated: a fixed cost plus a cost per model). Every figure that does not come from a
full registry says so in its ``note`` (and in :func:`peer_lines`' table). An operation that does not finish
within its share of the budget is reported as at least the time it ran.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .synth import EPOCH, Synthetic

GTO = "gto==1.10.1"
MLFLOW = "mlflow==3.17.2"


def ensure_venv(where: Path, packages: list[str]) -> Path:
    """A virtualenv with the peers installed (reused when it already has them)."""
    python = where / "bin" / "python"
    marker = where / ".installed"
    wanted = " ".join(sorted(packages))
    if marker.exists() and set(packages) <= set(marker.read_text().split()):
        return python
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    t = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"installed {wanted} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    had = marker.read_text().split() if marker.exists() else []
    marker.write_text(" ".join(sorted({*had, *packages})))
    return python


class Budget:
    """Seconds left for one peer at one size (None: unbounded)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        return None if self.end is None else max(self.end - time.monotonic(), 0.0)

    def share(self, parts: int) -> float | None:
        """An equal share of what is left among ``parts`` operations still to run."""
        left = self.left()
        return None if left is None else left / max(parts, 1)


#: a first run gets at least this long, whatever is left of the budget (MLflow's import alone takes seconds)
FIRST_RUN_S = 30.0


def _time(cmd: list[str], cwd: Path, runs: int, setup=None, env=None, limit: float | None = None) -> dict:
    """Median of ``runs`` runs of a whole process; within ``limit`` seconds in all, at least one run (a first
    run still going at the limit is stopped and reported as at least that long)."""
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(runs):
        if times and limit is not None and (time.perf_counter() - start) + max(times) > limit:
            break  # another run would not fit
        if setup:
            setup()
        t = time.perf_counter()
        timeout = None if limit is None else max(limit - (t - start), FIRST_RUN_S)
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            took = time.perf_counter() - t
            return {
                "median_s": took,
                "runs_s": [took],
                "at_least": True,
                "note": f"stopped after {took:.0f} s (budget)",
            }
        times.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd[:4]))}: {proc.stderr.decode()[-1500:]}")
    return {"median_s": statistics.median(times), "runs_s": times}


# --- GTO --------------------------------------------------------------------------------------------


def build_gto(python: Path, path: Path, syn: Synthetic) -> None:
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)], check=True)
    # one commit per version round (GTO wants a commit per version of an artifact)
    names = list(syn.model_names)
    script = textwrap.dedent("""
        import json, sys
        from gto.tag import name_tag
        from gto.constants import Action
        names = json.loads(sys.argv[1])
        print(json.dumps({n: [name_tag(Action.REGISTER, n, version="v0.0.1", simple=True),
                               name_tag(Action.ASSIGN, n, stage="prod", simple=True)] for n in names[:1]}))
    """)
    sample = json.loads(
        subprocess.run(
            [str(python), "-c", script, json.dumps(names)], check=True, capture_output=True, text=True
        ).stdout
    )
    reg_tpl, assign_tpl = sample[names[0]]
    assert reg_tpl == f"{names[0]}@v0.0.1" and assign_tpl == f"{names[0]}#prod", sample  # GTO's own formats

    parts: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        parts.append(b"data %d\n" % len(raw) + raw + b"\n")

    t = EPOCH
    for v in range(1, syn.versions + 1):
        parts.append(f"commit refs/heads/main\nmark :{v}\ncommitter Trainer <t@acme.test> {t + v} +0000\n".encode())
        data(f"train round {v}")
        if v > 1:
            parts.append(f"from :{v - 1}\n".encode())
        parts.append(b"M 100644 inline round.txt\n")
        data(f"{v}\n")
    for v in range(1, syn.versions + 1):
        for m in names:
            parts.append(f"tag {m}@v0.0.{v}\nfrom :{v}\ntagger Trainer <t@acme.test> {t + v} +0000\n".encode())
            data(f"Registering artifact {m} version v0.0.{v}")
    counters = {m: 0 for m in names}

    def assign(m: str, v: int, when: int) -> None:
        counters[m] += 1
        parts.append(f"tag {m}#prod#{counters[m]}\nfrom :{v}\ntagger Reviewer <r@acme.test> {when} +0000\n".encode())
        data(f"Assigning stage prod to artifact {m} version v0.0.{v}")

    when = t + 1000
    for m in names:
        assign(m, 1, when)
    import random

    rng = random.Random(syn.seed)
    current = {m: 1 for m in names}
    for _ in range(syn.promotions):
        m = names[rng.randrange(len(names))]
        choices = [x for x in range(1, syn.versions + 1) if x != current[m]]
        v = rng.choice(choices) if choices else current[m]
        current[m] = v
        when += 60
        assign(m, v, when)
    proc = subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(parts), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode())
    subprocess.run(["git", "checkout", "--quiet", "main"], cwd=path, check=True)
    # GTO must read back exactly what was built
    check = subprocess.run([str(python), "-m", "gto.cli", "show", "--json"], cwd=path, capture_output=True, text=True)
    if check.returncode != 0:
        check = subprocess.run([str(python.parent / "gto"), "show", "--json"], cwd=path, capture_output=True, text=True)
    shown = json.loads(check.stdout)
    if len(shown) != len(names):
        raise RuntimeError(f"GTO reads {len(shown)} artifacts back, expected {len(names)}")
    stages = {name: row["stage"].get("prod") for name, row in shown.items()}
    wrong = [m for m in names if stages[m] != f"v0.0.{current[m]}"]
    if wrong:
        raise RuntimeError(f"GTO's prod stage differs from the synthetic history for {wrong[:3]}")


def gto_suite(python: Path, path: Path, syn: Synthetic, runs: int, budget: Budget | None = None) -> dict[str, dict]:
    budget = budget or Budget(None)
    gto = str(python.parent / "gto")
    m = syn.model_names[len(syn.model_names) // 2]
    counter = {"n": 0}

    def new_commit() -> None:
        counter["n"] += 1
        subprocess.run(
            ["git", "commit", "--quiet", "--allow-empty", "-m", f"bench {counter['n']}"],
            cwd=path,
            check=True,
            env={
                **os.environ,
                "GIT_AUTHOR_NAME": "b",
                "GIT_AUTHOR_EMAIL": "b@x",
                "GIT_COMMITTER_NAME": "b",
                "GIT_COMMITTER_EMAIL": "b@x",
            },
        )

    cold = "import gto.api as a; rows = a.show('.'); print(sum(1 for r in rows.values() if r['stage'].get('prod')))"
    ops: list[tuple[str, list[str], int, object]] = [
        ("serving cold start: every champion (fresh process)", [str(python), "-c", cold], runs, None),
        ("resolve one alias (fresh process)", [gto, "show", f"{m}#prod"], runs, None),
        ("show the whole registry", [gto, "show"], runs, None),
        ("history of one model (cold)", [gto, "history", m], runs, None),
        ("history of the whole registry (cold)", [gto, "history"], max(1, runs // 2), None),
        ("check-ref / describe one tag", [gto, "check-ref", f"{m}@v0.0.1"], runs, None),
        ("register one version", [gto, "register", m, "--bump-patch"], runs, new_commit),
        ("promote one alias", [gto, "assign", m, f"{m}@v0.0.3", "--stage", "staging", "--force"], runs, None),
    ]
    res: dict[str, dict] = {}
    for k, (op, cmd, n, setup) in enumerate(ops):
        res[op] = _time(cmd, path, n, setup=setup, limit=budget.share(len(ops) - k))
    return res


# --- MLflow --------------------------------------------------------------------------------------------


def build_mlflow(python: Path, path: Path, syn: Synthetic, seconds: float | None = None) -> dict:
    """MLflow's registry through ``MlflowClient``: whole models (their versions and aliases) until ``seconds``
    have passed, then the share of the promotions that falls on the models built. Returns what was built."""
    path.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{path / 'mlflow.db'}"
    script = textwrap.dedent("""
        import json, random, sys, time, warnings
        warnings.filterwarnings("ignore")
        from mlflow import MlflowClient
        uri, names, versions, promotions, seed = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        seconds = float(sys.argv[6]) if sys.argv[6] != "none" else None
        start = time.perf_counter()
        c = MlflowClient(tracking_uri=uri, registry_uri=uri)
        done = []
        for m in names:
            if seconds is not None and done and time.perf_counter() - start > seconds:
                break
            c.create_registered_model(m, description="Synthetic model")
            for v in range(1, versions + 1):
                c.create_model_version(m, source=f"s3://bench-models/{m}/{v}", run_id=None, tags={"auc": "0.9"})
            c.set_registered_model_alias(m, "champion", "1")
            c.set_registered_model_alias(m, "challenger", str(min(2, versions)))
            done.append(m)
        built = time.perf_counter() - start
        rng = random.Random(seed)
        current = {m: 1 for m in done}
        share = promotions * len(done) // len(names)
        t = time.perf_counter()
        for _ in range(share):
            m = done[rng.randrange(len(done))]
            choices = [x for x in range(1, versions + 1) if x != current[m]]
            v = rng.choice(choices) if choices else current[m]
            current[m] = v
            c.set_registered_model_alias(m, "champion", str(v))
        print(json.dumps({"models": len(done), "promotions": share, "models_s": built, "promotions_s": time.perf_counter() - t}))
    """)
    proc = subprocess.run(
        [
            str(python),
            "-c",
            script,
            uri,
            json.dumps(list(syn.model_names)),
            str(syn.versions),
            str(syn.promotions),
            str(syn.seed),
            "none" if seconds is None else f"{seconds:.1f}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    built = json.loads(proc.stdout.strip().splitlines()[-1])
    built["uri"] = uri
    return built


def _fit(n1: int, t1: float, n2: int, t2: float, n: int) -> float:
    """A fixed cost plus a cost per item through two measured points, at ``n`` items."""
    per = max((t2 - t1) / (n2 - n1), 0.0) if n2 != n1 else 0.0
    return t2 + per * (n - n2)


def mlflow_suite(
    python: Path,
    path: Path,
    uri: str,
    syn: Synthetic,
    runs: int,
    built: int | None = None,
    budget: Budget | None = None,
) -> dict[str, dict]:
    """MLflow's operations on the registry built (``built`` of the synthetic models: all when None); over a partial
    registry, whole-registry operations are extrapolated to every model and the others say what they ran on."""
    budget = budget or Budget(None)
    total = len(syn.model_names)
    built = total if built is None else built
    names_built = list(syn.model_names[:built])
    m = names_built[len(names_built) // 2]
    partial = built < total
    on = f"measured on {built * syn.versions:,} of {total * syn.versions:,} versions (partial build)"
    head = (
        "import warnings; warnings.filterwarnings('ignore'); from mlflow import MlflowClient; "
        f"c = MlflowClient(tracking_uri={uri!r}, registry_uri={uri!r}); "
    )

    def every_champion(names: list[str]) -> list[str]:
        return [
            str(python),
            "-c",
            head
            + f"import json; [c.get_model_version_by_alias(n, 'champion') for n in json.loads({json.dumps(names)!r})]",
        ]

    ops = 6 + partial
    res: dict[str, dict] = {}
    cold = "serving cold start: every champion (fresh process)"
    if partial:
        half = max(1, built // 2)
        t_half = _time(every_champion(names_built[:half]), path, runs, limit=budget.share(ops))
        t_all = _time(every_champion(names_built), path, runs, limit=budget.share(ops - 1))
        res[cold] = {
            "median_s": _fit(half, t_half["median_s"], built, t_all["median_s"], total),
            "runs_s": [],
            "extrapolated": True,
            "note": f"extrapolated to {total:,} models from {half:,} and {built:,} (partial build)",
        }
    else:
        res[cold] = _time(every_champion(names_built), path, runs, limit=budget.share(ops))
    rest = [
        ("resolve one alias (fresh process)", head + f"print(c.get_model_version_by_alias({m!r}, 'champion').source)"),
        ("history of one model (cold)", head + f"print(len(c.search_model_versions(\"name='{m}'\")))"),
        ("register one version", head + f"c.create_model_version({m!r}, source='s3://bench/x', run_id=None)"),
        ("promote one alias", head + f"c.set_registered_model_alias({m!r}, 'challenger', '3')"),
    ]
    for k, (op, code) in enumerate(rest):
        res[op] = _time([str(python), "-c", code], path, runs, limit=budget.share(ops - 1 - partial - k))
        if partial:
            res[op]["note"] = on
    warm = subprocess.run(
        [
            str(python),
            "-c",
            head
            + textwrap.dedent(f"""
        import time, statistics
        c.get_model_version_by_alias({m!r}, 'champion')
        ts = []
        for _ in range(200):
            t = time.perf_counter(); c.get_model_version_by_alias({m!r}, 'champion'); ts.append(time.perf_counter() - t)
        print(statistics.median(ts))
    """),
        ],
        cwd=path,
        capture_output=True,
        text=True,
        check=True,
    )
    res["alias look-up in a warm process"] = {"median_s": float(warm.stdout.split()[-1]), "runs_s": []}
    if partial:
        res["alias look-up in a warm process"]["note"] = on
    return res


#: the share of an MLflow budget spent populating its registry (the rest measures it)
MLFLOW_BUILD_SHARE = 0.6


def run_peers(
    peers: list[str],
    syn: Synthetic,
    work: Path,
    runs: int,
    venv: Path | None = None,
    budget: float | None = None,
) -> dict[str, dict]:
    """Each peer on the synthetic registry ``syn``, within ``budget`` seconds per peer (None: no limit)."""
    packages = [{"gto": GTO, "mlflow": MLFLOW}[p] for p in peers]
    python = ensure_venv(venv or work / "peers-venv", packages)
    out: dict[str, dict] = {}
    total = syn.models * syn.versions
    if "gto" in peers:
        path = work / f"gto-{total}"
        clock = Budget(budget)
        t = time.perf_counter()
        build_gto(python, path, syn)
        took = time.perf_counter() - t
        print(f"built the GTO registry in {took:.1f} s", file=sys.stderr)
        out["gto"] = gto_suite(python, path, syn, runs, clock)
        out["gto"]["(populate the registry)"] = {
            "median_s": took,
            "runs_s": [took],
            "note": "git fast-import of the tags GTO writes, then gto show to check them",
        }
    if "mlflow" in peers:
        path = work / f"mlflow-{total}"
        clock = Budget(budget)
        t = time.perf_counter()
        built = build_mlflow(python, path, syn, None if budget is None else budget * MLFLOW_BUILD_SHARE)
        took = time.perf_counter() - t
        n = built["models"]
        print(f"built {n} of {syn.models} models of the MLflow registry in {took:.1f} s", file=sys.stderr)
        out["mlflow"] = mlflow_suite(python, path, built["uri"], syn, runs, n, clock)
        per_model = built["models_s"] / n
        per_promotion = built["promotions_s"] / built["promotions"] if built["promotions"] else 0.0
        full = per_model * syn.models + per_promotion * syn.promotions
        out["mlflow"]["(populate the registry)"] = {
            "median_s": full if n < syn.models else took,
            "runs_s": [took],
            "extrapolated": n < syn.models,
            "note": (
                f"MlflowClient; extrapolated from {n * syn.versions:,} versions and {built['promotions']:,} "
                f"promotions in {took:.0f} s"
                if n < syn.models
                else "MlflowClient"
            ),
            "built_versions": n * syn.versions,
        }
    return out


def _cell(x: dict | None) -> str:
    if not x:
        return "n/a"
    s = x["median_s"]
    text = (
        f"{s * 1e6:.1f} µs"
        if s < 0.001
        else f"{s * 1000:.2f} ms"
        if s < 0.01
        else f"{s:.3f} s"
        if s < 60
        else f"{s / 60:.1f} min"
    )
    if x.get("at_least"):
        text = f"> {text}"
    if x.get("extrapolated"):
        text += " (extrapolated)"
    return text


def peer_lines(entry: dict, load: str = "") -> list[str]:
    """The peers' table for one size (mlgate beside them), with a note under it for every figure not measured on
    the full registry in full."""
    peers = list(entry.get("peers", {}))
    if not peers:
        return []
    mine = entry.get("mlgate", {})
    lines = [
        f"##### Peers at {entry['total_versions']:,} versions ({entry['models']:,} models x {entry['versions']} "
        f"versions, {entry['promotions']:,} promotions){f'; load average {load}' if load else ''}",
        "",
        "| operation | mlgate | " + " | ".join(peers) + " |",
        "|---|---|" + "---|" * len(peers),
    ]
    notes: list[str] = []
    ops = dict.fromkeys(op for p in peers for op in entry["peers"][p])
    for op in ops:
        cells = []
        for p in peers:
            x = entry["peers"][p].get(op)
            cell = _cell(x)
            if x and x.get("note"):
                notes.append(x["note"])
                cell += f" [{len(notes)}]"
            cells.append(cell)
        lines.append(f"| {op} | {_cell(mine.get(op))} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return lines + [""]
