"""MLflow's client through the mlgate plugin, next to MLflow's own SQLite registry, in the same run.

Both sides run in this interpreter (mlgate[mlflow] and the same MLflow), each operation as a whole process:

* ``get_model_version_by_alias`` of one model's champion, in a fresh process and in a warm one;
* ``mlflow.pyfunc.load_model("models:/bench-pyfunc@champion")`` and one prediction, in a fresh process.

MLflow's registry holds the synthetic registry's models, versions and champions (as the peers' build makes
them) plus ``bench-pyfunc``, a real pyfunc model logged once in a SQLite tracking store. mlgate's registry is
the synthetic one plus ``bench-pyfunc`` v1, its folder stored content-addressed with ``mlgate register``'s
archive, champion; the plugin reads the checkout (``mlgate:PATH``). mlgate's artifact cache is warmed first,
as a serving host's would be (MLflow's local artifact store needs none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from .synth import Synthetic

MODEL = "bench-pyfunc"

_SETUP = textwrap.dedent("""
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import mlflow, mlflow.pyfunc
    from mlflow import MlflowClient

    db, names, versions, champions = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])

    class Doubler(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[float], params=None) -> list[float]:
            return [2 * x for x in model_input]

    mlflow.set_tracking_uri(db)
    mlflow.set_registry_uri(db)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), pip_requirements=[])
    c = MlflowClient()
    c.create_registered_model(sys.argv[5])
    c.create_model_version(sys.argv[5], source=info.model_uri, model_id=info.model_id)
    c.set_registered_model_alias(sys.argv[5], "champion", "1")
    for m in names:
        c.create_registered_model(m, description="Synthetic model")
        for v in range(1, versions + 1):
            c.create_model_version(m, source=f"s3://bench-models/{m}/{v}", run_id=None)
        c.set_registered_model_alias(m, "champion", str(champions[m]))
    print(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=sys.argv[6]))
""")


def _add_pyfunc(repo: Path, folder: str, store: Path) -> None:
    """``bench-pyfunc`` v1 in the mlgate registry, committed on main: the folder archived into ``store``."""
    from mlgate.registry.artifacts import upload

    art = upload(folder, store.as_uri())
    base = repo / "registry" / "models" / MODEL
    (base / "versions" / "1").mkdir(parents=True)
    (base / "aliases").mkdir()
    (base / "model.yaml").write_text(
        f"apiVersion: mlgate/v1\nkind: Model\nname: {MODEL}\ndescription: A pyfunc model.\nowners: [bench]\n"
    )
    (base / "versions/1/version.yaml").write_text(
        textwrap.dedent(f"""\
        apiVersion: mlgate/v1
        kind: ModelVersion
        model: {MODEL}
        version: 1
        created_at: '2026-01-01T00:00:00Z'
        created_by: bench
        artifact: {{uri: '{art.uri}', sha256: {art.sha256}, size: {art.size}, format: {art.format}}}
        lineage: {{run_id: r, git_sha: {"a" * 40}, code_repo: 'https://x.test/y', dataset: {{uri: 's3://d/x', sha256: {"b" * 64}}}}}
        """)
    )
    (base / "aliases/champion.yaml").write_text(
        f"apiVersion: mlgate/v1\nkind: Alias\nmodel: {MODEL}\nalias: champion\nversion: 1\n"
    )
    for args in (["add", "-A", "registry"], ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "pyfunc"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def plugin_suite(syn: Synthetic, work: Path, runs: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """(mlgate through the plugin, MLflow's SQLite registry): the same operations, timed the same way."""
    from .__main__ import _env, time_process

    where = work / f"mlflow-plugin-{syn.models * syn.versions}"
    where.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{where / 'mlflow.db'}"
    t = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _SETUP,
            db,
            json.dumps(list(syn.model_names)),
            str(syn.versions),
            json.dumps(syn.champions),
            MODEL,
            str(where),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
        cwd=where,  # MLflow keeps the run's artifacts in ./mlruns
    )
    _add_pyfunc(syn.path, out.stdout.split()[-1], where / "store")
    print(f"built MLflow's SQLite registry and the pyfunc model in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    env_cache = {"MLGATE_CACHE": str(where / "cache")}
    m = syn.model_names[len(syn.model_names) // 2]
    sides = {"mlgate": f"mlgate:{syn.path}", "mlflow": db}
    results: dict[str, dict[str, dict]] = {"mlgate": {}, "mlflow": {}}
    for side, registry in sides.items():
        head = (
            "import warnings; warnings.filterwarnings('ignore'); import mlflow; from mlflow import MlflowClient; "
            f"mlflow.set_tracking_uri({db!r}); mlflow.set_registry_uri({registry!r}); c = MlflowClient(); "
        )
        alias = head + f"print(c.get_model_version_by_alias({m!r}, 'champion').version)"
        load = head + (
            f"import mlflow.pyfunc; print(mlflow.pyfunc.load_model('models:/{MODEL}@champion').predict([1.0, 2.0]))"
        )
        warm = head + textwrap.dedent(f"""
            import time, statistics
            c.get_model_version_by_alias({m!r}, 'champion')
            ts = []
            for _ in range(200):
                t = time.perf_counter(); c.get_model_version_by_alias({m!r}, 'champion'); ts.append(time.perf_counter() - t)
            print(statistics.median(ts))
        """)
        os.environ.update(env_cache)
        subprocess.run([sys.executable, "-c", load], env=_env(), check=True, capture_output=True)  # warm the cache
        results[side]["MLflow client: get_model_version_by_alias (fresh process)"] = time_process(
            [sys.executable, "-c", alias], where, runs
        )
        got = subprocess.run(
            [sys.executable, "-c", warm], cwd=where, env=_env(), capture_output=True, text=True, check=True
        )
        results[side]["MLflow client: get_model_version_by_alias (warm process)"] = {
            "median_s": float(got.stdout.split()[-1]),
            "runs_s": [],
        }
        results[side]["MLflow: pyfunc.load_model(models:/NAME@champion) + predict (fresh process)"] = time_process(
            [sys.executable, "-c", load], where, runs
        )
    return results["mlgate"], results["mlflow"]
