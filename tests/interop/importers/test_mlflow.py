"""``mlgate import mlflow`` against a real MLflow registry (MLflow's own SQLite store, built once per module):
runs with params, metrics and datasets, several versions, tags, descriptions, aliases and stages, names that
need mapping, and things mlgate has no home for."""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlgate.change.propose import register
from mlgate.core.rules import Family, family
from mlgate.infra.git import GitTree
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo
from mlgate.testing.training import TrainingRun

mlflow = pytest.importorskip("mlflow")

#: MLflow 3's SQL store uses a SQLAlchemy loader that SQLAlchemy 2.1 deprecates: MLflow's to fix, not ours
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")

Ran = tuple[int, str, str]
HOSTILE = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 **bold** <img src=x>"


def _stage(client: Any, name: str, version: str, stage: str) -> None:
    # MLflow 3 still moves stages, with a FutureWarning that stages will go away: exactly that one is expected
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*transition_model_version_stage.*", category=FutureWarning)
        client.transition_model_version_stage(name, version, stage)


def _model_folder(path: Path, weights: bytes) -> Path:
    path.mkdir(parents=True)
    (path / "MLmodel").write_text("flavors:\n  python_function: {loader_module: none}\n")
    (path / "weights.bin").write_bytes(weights)
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The MLflow registry: `Fraud Model` (v1 Archived and held by alias `old`, v2 Production, v3 Staging and
    alias `shadow`, alias `Best` that mlgate refuses), `fraud_v2` (a clean model), and `Churn Model` /
    `churn model`, which map to one name."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    exp = client.create_experiment("fraud", artifact_location=(root / "artifacts").as_uri())
    client.create_registered_model("Fraud Model", tags={"team": "risk"}, description="Scores card payments.")
    from mlflow.data.http_dataset_source import HTTPDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    train = MetaDataset(HTTPDatasetSource("https://data.acme.example/train.csv"), name="train")
    holdout = MetaDataset(HTTPDatasetSource("https://data.acme.example/holdout.csv"), name="holdout")
    for n in (1, 2, 3):
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_params({"lr": str(0.1 * n), "bad param:x": "x"})
            mlflow.log_metrics({"auc": (0.81, 0.82, 0.83)[n - 1], "val/loss": 0.5})
            mlflow.set_tag("mlflow.source.git.commit", "a" * 40)
            mlflow.set_tag("mlflow.source.git.repoURL", "https://github.com/acme/fraud")
            mlflow.log_input(train, context="training")
            mlflow.log_input(holdout, context="eval")
            mlflow.log_artifacts(str(_model_folder(root / f"m{n}", f"weights {n}".encode())), "model")
            mlflow.log_text("notes", "notes.txt")
        client.create_model_version(
            "Fraud Model",
            f"{run.info.artifact_uri}/model",
            run_id=run.info.run_id,
            tags={"reviewed": "yes", "bad key": HOSTILE},
            description=f"Version {n}. {HOSTILE}" if n == 3 else f"Version {n}.",
        )
    _stage(client, "Fraud Model", "1", "Archived")
    _stage(client, "Fraud Model", "2", "Production")
    _stage(client, "Fraud Model", "3", "Staging")
    client.set_registered_model_alias("Fraud Model", "old", "1")
    client.set_registered_model_alias("Fraud Model", "shadow", "3")
    client.set_registered_model_alias("Fraud Model", "Best", "2")
    client.create_registered_model("fraud_v2")
    weights = root / "plain.bin"
    weights.write_bytes(b"plain model bytes")
    client.create_model_version("fraud_v2", str(weights))  # no run: lineage is placeholders
    for name in ("Churn Model", "churn model"):
        client.create_registered_model(name)
    return uri


@pytest.fixture
def registry(tmp_path: Path) -> RegistryRepo:
    return RegistryRepo.create(tmp_path / "repo")


@pytest.fixture
def run_import(run_cli: Callable[..., Ran], registry: RegistryRepo, source: str, tmp_path: Path) -> Callable[..., Ran]:
    def run(*args: str) -> Ran:
        return run_cli(
            "-C",
            registry.root,
            "import",
            "mlflow",
            "--tracking-uri",
            source,
            "--store",
            tmp_path / "store",
            "--as",
            "alice",
            *args,
        )

    return run


def _tree(registry: RegistryRepo, ref: str) -> GitTree:
    return GitTree(registry.git, ref)


def _yaml(tree: GitTree, path: str) -> Any:
    return load(tree.read(path), path).data


def _sha256(uri: str) -> str:
    return hashlib.sha256(Path(uri.removeprefix("file://")).read_bytes()).hexdigest()


def test_the_whole_registry_becomes_one_pull_request_that_validates(
    run_import: Callable[..., Ran], run_cli: Callable[..., Ran], registry: RegistryRepo
) -> None:
    code, out, err = run_import("--forge", "local", "--json")
    assert code == 1, err  # `Best`, the archived v1 held by `old` and the colliding churn models are not imported
    result = json.loads(out)
    assert result["pull_request"]["number"] == 1
    assert [(i["model"], i["version"]) for i in result["imported"]] == [
        ("fraud-model", 1),
        ("fraud-model", 2),
        ("fraud-model", 3),
        ("fraud_v2", 1),
    ]
    details = [n["detail"] for n in result["notes"]]
    assert "'Fraud Model' -> 'fraud-model'" in details
    assert any("'Churn Model' and 'churn model' both map to 'churn-model'" in d for d in details)
    assert any("'Best'" in d and "not an mlgate alias name" in d for d in details)
    assert any(d.startswith("old (MLflow alias) points at v1, which is deprecated") for d in details)
    assert any("run artifact 'notes.txt' is not the model" in d for d in details)
    assert any("metric 'val/loss'" in d for d in details) and any("param 'bad param:x'" in d for d in details)
    assert any(d.startswith("tag 'bad key': not a valid mlgate tag key") for d in details)
    assert {(a["alias"], a["version"], a["origin"]) for a in result["aliases"]} == {
        ("champion", 2, "stage Production"),
        ("challenger", 3, "stage Staging"),
        ("shadow", 3, "MLflow alias"),
    }

    tree = _tree(registry, result["branch"])
    base = "registry/models/fraud-model"
    version = _yaml(tree, f"{base}/versions/2/version.yaml")
    assert version["lineage"]["run_id"] and version["lineage"]["params"] == {"lr": "0.2"}
    assert version["lineage"]["git_sha"] == "a" * 40
    assert version["lineage"]["code_repo"] == "https://github.com/acme/fraud"
    assert version["lineage"]["dataset"]["uri"] == "https://data.acme.example/train.csv"
    assert version["tags"]["reviewed"] == "yes" and version["tags"]["imported.name"] == "Fraud Model"
    assert version["artifact"]["format"] == "mlflow"
    assert _sha256(version["artifact"]["uri"]) == version["artifact"]["sha256"]
    evaluation = _yaml(tree, f"{base}/versions/2/eval.yaml")
    assert evaluation["metrics"] == {"auc": 0.82} and evaluation["dataset"]["name"] == "holdout"
    model = _yaml(tree, f"{base}/model.yaml")
    assert model["description"] == "Scores card payments." and model["tags"] == {"team": "risk"}
    assert model["deprecated"] == [{"version": 1, "reason": "Archived in MLflow"}]
    assert _yaml(tree, f"{base}/aliases/champion.yaml")["version"] == 2
    assert tree.entry(f"{base}/aliases/old.yaml") is None
    assert "placeholder" in json.dumps(_yaml(tree, "registry/models/fraud_v2/versions/1/version.yaml")["lineage"]) or (
        _yaml(tree, "registry/models/fraud_v2/versions/1/version.yaml")["lineage"]["git_sha"] == "0" * 40
    )

    code, out, err = run_cli("-C", registry.root, "validate", "--forge", "local", "--pr", "1", "--format", "json")
    report = json.loads(out)
    problems = [
        f
        for f in report["findings"]
        if f["severity"] == "error" and family(f["rule"]) not in (Family.GATE, Family.POLICY)
    ]
    assert problems == [] and code == 1  # the schema and integrity pass; the aliases' gates wait for review


def test_the_report_escapes_what_the_source_wrote(run_import: Callable[..., Ran]) -> None:
    code, out, _ = run_import("--no-pr")
    assert code == 1
    assert "\x1b" not in out and "tag 'bad key'" in out
    assert "'Fraud Model' -> 'fraud-model'" in out and "fraud-model v2  <- MLflow 2" in out


def test_a_rerun_imports_only_what_is_new(run_import: Callable[..., Ran], registry: RegistryRepo) -> None:
    code, out, err = run_import("--model", "fraud_v2", "--forge", "local")
    assert code == 0, out + err
    assert "fraud_v2 v1  <- MLflow 1" in out and "pull request #1" in out
    code, out, _ = run_import("--model", "fraud_v2", "--forge", "local")  # its pull request is still open
    assert (
        code == 0
        and "pull request #1 (branch mlgate/import-mlflow-fraud_v2) already proposes exactly this import" in out
    )
    registry.merge("mlgate/import-mlflow-fraud_v2")
    code, out, _ = run_import("--model", "fraud_v2", "--forge", "local")
    assert code == 0
    assert "fraud_v2 v1: mlflow version 1 is already in the registry (same sha256)" in out
    assert "nothing new to import" in out


def test_a_version_whose_artifact_differs_is_a_conflict_never_overwritten(
    run_import: Callable[..., Ran], registry: RegistryRepo, tmp_path: Path
) -> None:
    run = TrainingRun.write(tmp_path / "run", metrics={"auc": 0.9})
    kwargs = {**run.register_kwargs(), "model_description": "Native.", "owners": ["alice"]}
    register(registry.root, "fraud_v2", author="alice", open_pr=False, **kwargs)
    registry.merge("mlgate/register-fraud_v2-v1")
    before = registry.rev("main")
    code, out, _ = run_import("--model", "fraud_v2", "--json")
    result = json.loads(out)
    assert code == 1 and result["imported"] == [] and result["branch"] is None
    conflict = [n for n in result["notes"] if n["kind"] == "conflict"]
    assert len(conflict) == 1 and "merged versions are immutable" in conflict[0]["detail"]
    assert registry.rev("main") == before


def test_no_pr_makes_a_branch_and_model_filters(
    run_import: Callable[..., Ran], run_cli: Callable[..., Ran], registry: RegistryRepo
) -> None:
    code, out, err = run_import("--model", "Fraud Model", "--no-pr", "--json")
    result = json.loads(out)
    assert result["branch"] == "mlgate/import-mlflow-fraud-model" and result["pull_request"] is None
    assert {i["model"] for i in result["imported"]} == {"fraud-model"}
    assert registry.git.branch_sha("mlgate/import-mlflow-fraud-model") == result["commit"]
    code, out, _ = run_cli("-C", registry.root, "pr", "list", "--state", "all")
    assert "no pull requests" in out
    code, _, err = run_import("--model", "No Such Model")
    assert code == 2 and "--model 'No Such Model': not in the MLflow registry" in err


def test_an_unreadable_source_is_one_line_and_exit_2(
    run_cli: Callable[..., Ran], registry: RegistryRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def attempt(uri: str) -> str:
        code, out, err = run_cli(
            "-C", registry.root, "import", "mlflow", "--tracking-uri", uri, "--store", tmp_path, "--as", "alice"
        )
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        return err

    assert "cannot read the MLflow registry at http://127.0.0.1:9" in attempt("http://127.0.0.1:9")
    assert "no MLflow database at" in attempt(f"sqlite:///{tmp_path}/missing.db")
    assert not (tmp_path / "missing.db").exists()
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if MLflow were not installed
    assert "pip install 'mlgate[mlflow]'" in attempt("http://127.0.0.1:9")


def test_names_map_deterministically() -> None:
    from mlgate.interop.importers.common import map_name

    assert map_name("Fraud Model") == "fraud-model"
    assert map_name("fraud_v2") == "fraud_v2"
    assert map_name("  Détecteur / Fraude..v1.lock") == "detecteur-fraude.v1-lock"
    assert map_name("???") is None
    assert len(map_name("x" * 100) or "") == 64
