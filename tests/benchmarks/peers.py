"""GTO and MLflow's registry on the same logical registry as mlgate, timed the same way.

Both are installed by the suite into their own virtualenv (never into the project's, never vendored):
gto==1.10.1 and mlflow==3.17.2 with a SQLite store. A peer's registry is built once per size, then every
operation runs as a whole process with the peer's interpreter, like mlgate's.

GTO's registry is the git tags GTO itself writes: tag names come from GTO's own ``gto.tag.name_tag`` and
messages are GTO's; they are written in bulk with ``git fast-import`` because registering 1,000 versions
through GTO's API re-reads every tag per call (O(N^2): tens of minutes). ``gto show`` is run afterwards
to check GTO reads back exactly the registry built. MLflow's registry is built through ``MlflowClient``.
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
    if marker.exists() and marker.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    t = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"installed {wanted} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    marker.write_text(wanted)
    return python


def _time(cmd: list[str], cwd: Path, runs: int, setup=None, env=None) -> dict:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env)
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


def gto_suite(python: Path, path: Path, syn: Synthetic, runs: int) -> dict[str, dict]:
    gto = str(python.parent / "gto")
    m = syn.model_names[len(syn.model_names) // 2]
    res: dict[str, dict] = {}
    res["serving cold start: every champion (fresh process)"] = _time(
        [
            str(python),
            "-c",
            "import gto.api as a; rows = a.show('.'); print(sum(1 for r in rows.values() if r['stage'].get('prod')))",
        ],
        path,
        runs,
    )
    res["resolve one alias (fresh process)"] = _time([gto, "show", f"{m}#prod"], path, runs)
    res["show the whole registry"] = _time([gto, "show"], path, runs)
    res["history of one model"] = _time([gto, "history", m], path, runs)
    res["history of the whole registry"] = _time([gto, "history"], path, max(1, runs // 2))
    res["check-ref / describe one tag"] = _time([gto, "check-ref", f"{m}@v0.0.1"], path, runs)
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

    res["register one version"] = _time([gto, "register", m, "--bump-patch"], path, runs, setup=new_commit)
    res["promote one alias"] = _time([gto, "assign", m, f"{m}@v0.0.3", "--stage", "staging", "--force"], path, runs)
    return res


# --- MLflow --------------------------------------------------------------------------------------------


def build_mlflow(python: Path, path: Path, syn: Synthetic) -> str:
    path.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{path / 'mlflow.db'}"
    script = textwrap.dedent("""
        import json, random, sys, warnings
        warnings.filterwarnings("ignore")
        from mlflow import MlflowClient
        uri, names, versions, promotions, seed = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        c = MlflowClient(tracking_uri=uri, registry_uri=uri)
        for m in names:
            c.create_registered_model(m, description="Synthetic model")
            for v in range(1, versions + 1):
                c.create_model_version(m, source=f"s3://bench-models/{m}/{v}", run_id=None, tags={"auc": "0.9"})
            c.set_registered_model_alias(m, "champion", "1")
            c.set_registered_model_alias(m, "challenger", str(min(2, versions)))
        rng = random.Random(seed)
        current = {m: 1 for m in names}
        for _ in range(promotions):
            m = names[rng.randrange(len(names))]
            choices = [x for x in range(1, versions + 1) if x != current[m]]
            v = rng.choice(choices) if choices else current[m]
            current[m] = v
            c.set_registered_model_alias(m, "champion", str(v))
        print("ok")
    """)
    subprocess.run(
        [
            str(python),
            "-c",
            script,
            uri,
            json.dumps(list(syn.model_names)),
            str(syn.versions),
            str(syn.promotions),
            str(syn.seed),
        ],
        check=True,
        capture_output=True,
    )
    return uri


def mlflow_suite(python: Path, path: Path, uri: str, syn: Synthetic, runs: int) -> dict[str, dict]:
    m = syn.model_names[len(syn.model_names) // 2]
    head = (
        "import warnings; warnings.filterwarnings('ignore'); from mlflow import MlflowClient; "
        f"c = MlflowClient(tracking_uri={uri!r}, registry_uri={uri!r}); "
    )
    names = json.dumps(list(syn.model_names))
    res: dict[str, dict] = {}
    res["serving cold start: every champion (fresh process)"] = _time(
        [
            str(python),
            "-c",
            head + f"import json; [c.get_model_version_by_alias(n, 'champion') for n in json.loads({names!r})]",
        ],
        path,
        runs,
    )
    res["resolve one alias (fresh process)"] = _time(
        [str(python), "-c", head + f"print(c.get_model_version_by_alias({m!r}, 'champion').source)"], path, runs
    )
    res["history of one model"] = _time(
        [str(python), "-c", head + f"print(len(c.search_model_versions(\"name='{m}'\")))"], path, runs
    )
    res["register one version"] = _time(
        [str(python), "-c", head + f"c.create_model_version({m!r}, source='s3://bench/x', run_id=None)"], path, runs
    )
    res["promote one alias"] = _time(
        [str(python), "-c", head + f"c.set_registered_model_alias({m!r}, 'challenger', '3')"], path, runs
    )
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
    return res


def run_peers(peers: list[str], syn: Synthetic, work: Path, runs: int, venv: Path | None = None) -> dict[str, dict]:
    packages = [{"gto": GTO, "mlflow": MLFLOW}[p] for p in peers]
    python = ensure_venv(venv or work / "peers-venv", packages)
    out: dict[str, dict] = {}
    if "gto" in peers:
        path = work / f"gto-{syn.models * syn.versions}"
        t = time.perf_counter()
        build_gto(python, path, syn)
        print(f"built the GTO registry in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        out["gto"] = gto_suite(python, path, syn, runs)
    if "mlflow" in peers:
        path = work / f"mlflow-{syn.models * syn.versions}"
        t = time.perf_counter()
        uri = build_mlflow(python, path, syn)
        print(f"built the MLflow registry in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        out["mlflow"] = mlflow_suite(python, path, uri, syn, runs)
    return out
