"""The whole MLflow flow on an mlgate registry: log and register with MLflow, review and merge, promote with MLflow,
review and merge, load with every models:/ form; tampered bytes are refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlgate.forge.local import LocalForge
from mlgate.infra.git import GitRepo
from mlgate.infra.yamlio import load
from mlgate.testing import RegistryRepo, merge_approved
from tests.interop.mlflow.conftest import log_run

URIS = (
    "models:/doubler@champion",
    "models:/doubler@Champion",
    "models:/doubler/1",
    "models:/doubler/latest",
    "models:/doubler/LATEST",
    "models:/doubler/Production",
    "models:/doubler/production",
    "models:/doubler@latest",
)


def test_register_promote_and_load_through_mlflow(
    tracking: str, registry_uri: str, registry: RegistryRepo, forge: LocalForge, store: Path, caplog
) -> None:
    mlflow.set_registry_uri(registry_uri)
    client = MlflowClient()
    client.create_registered_model("doubler", description="Doubles its input.")
    run, info = log_run(register_as="doubler")

    assert info.registered_model_version == 1
    pr = forge.pull_request(1)
    assert (pr.title, pr.state, pr.head) == ("Register doubler v1", "open", "mlgate/register-doubler-v1")
    assert "mlgate: mlgate opened pull request #1" in caplog.text
    with pytest.raises(MlflowException) as before:  # not on main until merged
        client.get_model_version("doubler", 1)
    assert before.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    folder = "registry/models/doubler/versions/1"
    tree = GitRepo(registry.root).tree(pr.head)
    version = load(tree.read(f"{folder}/version.yaml"), "version.yaml").data
    assert version["created_by"] == "alice" and version["artifact"]["format"] == "tar"
    assert version["lineage"]["run_id"] == run.info.run_id
    assert version["lineage"]["params"] == {"depth": 3, "lr": 0.1}
    assert version["tags"] == {"mlflow.model_id": info.model_id}
    assert load(tree.read(f"{folder}/eval.yaml"), "eval.yaml").data["metrics"] == {"auc": 0.93, "latency_p99_ms": 12.0}
    assert tree.read(f"{folder}/bias-audit.md").startswith(b"# Bias audit")
    model = load(tree.read("registry/models/doubler/model.yaml"), "model.yaml").data
    assert (model["description"], model["owners"]) == ("Doubles its input.", ["alice"])
    stored = store / "sha256" / version["artifact"]["sha256"][:2] / version["artifact"]["sha256"]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == version["artifact"]["sha256"]

    merge_approved(registry.root, forge, 1, "dave")
    mv = client.get_model_version("doubler", 1)
    assert (mv.status, mv.current_stage, mv.run_id, mv.user_id) == ("READY", "None", run.info.run_id, "alice")

    client.set_registered_model_alias("doubler", "Champion", 1)
    promotion = forge.pull_request(2)
    assert promotion.title.startswith("Promote doubler v1 to champion") and "alias 'champion'" in caplog.text
    assert client.get_registered_model("doubler").aliases == {}  # not before the review
    merge_approved(registry.root, forge, 2, "dave", "erin")

    assert client.get_registered_model("doubler").aliases == {"champion": 1}
    assert client.get_model_version("doubler", 1).current_stage == "Production"
    for uri in URIS:
        loaded = mlflow.pyfunc.load_model(uri)
        assert list(loaded.predict([1.0, 2.5])) == [2.0, 5.0], uri
    mlmodel = Path(mlflow.artifacts.download_artifacts("models:/doubler@champion/MLmodel"))  # a sub-path
    assert mlmodel.name == "MLmodel" and b"python_function" in mlmodel.read_bytes()

    # the stored archive altered: MLflow gets an exception naming the model, the version and both digests
    stored.write_bytes(stored.read_bytes().replace(b"Doubler", b"Tripler", 1))
    for cached in (Path.home() / ".cache" / "mlgate").rglob(version["artifact"]["sha256"]):
        cached.write_bytes(b"tampered cache")
    with pytest.raises(MlflowException) as refused:
        mlflow.pyfunc.load_model("models:/doubler@champion")
    message = str(refused.value)
    assert "model 'doubler' version 1: refusing the artifact (registered: sha256" in message
    assert version["artifact"]["sha256"] in message and hashlib.sha256(stored.read_bytes()).hexdigest() in message


def test_register_model_returns_a_pending_version_at_once(
    tracking: str, registry_uri: str, registry: RegistryRepo, forge: LocalForge
) -> None:
    _, info = log_run()
    mlflow.set_registry_uri(registry_uri)
    mv = mlflow.register_model(
        info.model_uri, "fraud-detector", await_registration_for=300, tags={"team": "risk", "mlgate.card": "# Card"}
    )
    assert (mv.name, mv.version, mv.status) == ("fraud-detector", 4, "PENDING_REGISTRATION")
    assert mv.tags["mlgate.pull_request"] == forge.pull_request(1).url
    assert "READY once the pull request is approved and merged" in mv.status_message
    assert "mlgate.card" not in mv.tags and mv.tags["team"] == "risk"


def test_a_registration_names_every_missing_input(tracking: str, registry_uri: str, forge: LocalForge) -> None:
    with mlflow.start_run():
        mlflow.log_metric("auc", 0.9)
        info = mlflow.pyfunc.log_model(name="model", python_model=_doubler(), pip_requirements=[])
    mlflow.set_registry_uri(registry_uri)
    with pytest.raises(MlflowException) as missing:
        mlflow.register_model(info.model_uri, "fraud-detector")
    assert missing.value.error_code == "INVALID_PARAMETER_VALUE"
    for hint in ("tag mlgate.git_sha", "tag mlgate.dataset_uri", "tag mlgate.eval_dataset ", "a model card"):
        assert hint in str(missing.value)
    assert forge.list_pull_requests() == []


def _doubler():
    from tests.interop.mlflow.conftest import Doubler

    return Doubler()
