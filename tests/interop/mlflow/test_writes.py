"""MLflow's writes on an mlgate registry: stages and aliases open promotion pull requests, Archived a deprecation;
what mlgate does only through its own commands is refused with the command to use."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlgate.forge.local import LocalForge
from mlgate.testing import RegistryRepo, merge_approved


@pytest.fixture
def client(tracking: str, registry_uri: str) -> MlflowClient:
    return MlflowClient(registry_uri=registry_uri)


def test_staging_opens_the_challenger_promotion(
    client: MlflowClient, forge: LocalForge, registry: RegistryRepo
) -> None:
    mv = client.transition_model_version_stage("fraud-detector", 1, "staging")
    pr = forge.pull_request(1)
    assert pr.title.startswith("Promote fraud-detector v1 to challenger") and pr.state == "open"
    assert mv.tags["mlgate.pull_request"] == pr.url and mv.current_stage == "None"  # not before the merge
    merge_approved(registry.root, forge, 1, "dave")
    assert client.get_model_version("fraud-detector", 1).current_stage == "Staging"
    assert client.get_model_version("fraud-detector", 3).current_stage == "None"


def test_archived_opens_a_deprecation(client: MlflowClient, forge: LocalForge, registry: RegistryRepo, caplog) -> None:
    client.transition_model_version_stage("fraud-detector", 1, "Archived")
    assert forge.pull_request(1).title.startswith("Deprecate fraud-detector v1")
    assert "MLflow's Archived" in caplog.text
    merge_approved(registry.root, forge, 1, "dave")
    assert client.get_model_version("fraud-detector", 1).current_stage == "Archived"
    with pytest.raises(MlflowException) as held:  # the champion cannot be archived: move the alias first
        client.transition_model_version_stage("fraud-detector", 2, "Archived")
    assert held.value.error_code == "INVALID_PARAMETER_VALUE" and "champion" in str(held.value)


def test_archive_existing_versions_deprecates_nothing(client: MlflowClient, forge: LocalForge, caplog) -> None:
    client.transition_model_version_stage("search-ranker", 1, "Staging", archive_existing_versions=True)
    assert "it is not deprecated (run `mlgate deprecate search-ranker/VERSION` to archive it)" in caplog.text
    assert [pr.title.split(":")[0] for pr in forge.list_pull_requests()] == ["Promote search-ranker v1 to challenger"]


def test_a_gate_that_already_fails_opens_nothing(client: MlflowClient, forge: LocalForge) -> None:
    with pytest.raises(MlflowException) as failed:
        client.set_registered_model_alias("churn-predictor", "champion", 4)
    assert failed.value.error_code == "INVALID_STATE" and "auc" in str(failed.value)
    assert forge.list_pull_requests() == []


@pytest.mark.parametrize(
    ("alias", "words"),
    [
        ("latest", "Invalid alias name: 'latest' is reserved: models:/NAME@latest means the newest version"),
        ("V2", "Invalid alias name: 'V2' is reserved: MLflow reserves v<N> alias names for versions"),
    ],
)
def test_aliases_mlflow_reserves_are_refused(client: MlflowClient, forge: LocalForge, alias: str, words: str) -> None:
    with pytest.raises(MlflowException) as e:
        client.set_registered_model_alias("fraud-detector", alias, 3)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE" and words in str(e.value)
    assert forge.list_pull_requests() == []


@pytest.mark.parametrize(
    ("call", "instead"),
    [
        (lambda c: c.delete_registered_model("fraud-detector"), "mlgate deprecate fraud-detector/VERSION"),
        (lambda c: c.rename_registered_model("fraud-detector", "fraud"), "mlgate register fraud"),
        (lambda c: c.delete_model_version("fraud-detector", 1), "mlgate deprecate fraud-detector/1"),
        (lambda c: c.delete_registered_model_alias("fraud-detector", "champion"), "mlgate rollback fraud-detector"),
        (lambda c: c.update_model_version("fraud-detector", 1, "new"), "register a new version"),
        (lambda c: c.update_registered_model("fraud-detector", "new"), "registry/models/fraud-detector/model.yaml"),
        (lambda c: c.set_model_version_tag("fraud-detector", 1, "k", "v"), "tags are given when it is registered"),
        (lambda c: c.set_registered_model_tag("fraud-detector", "k", "v"), "registry/models/fraud-detector/model.yaml"),
        (lambda c: c.delete_model_version_tag("fraud-detector", 1, "k"), "immutable"),
        (lambda c: c.delete_registered_model_tag("fraud-detector", "team"), "model.yaml"),
        (lambda c: c.transition_model_version_stage("fraud-detector", 2, "None"), "mlgate promote fraud-detector/"),
    ],
)
def test_changes_only_a_pull_request_makes_are_refused(client: MlflowClient, forge: LocalForge, call, instead) -> None:
    with pytest.raises(MlflowException) as e:
        call(client)
    assert e.value.error_code == "PERMISSION_DENIED"
    assert "is not done through MLflow with an mlgate registry: every change to it is a reviewed pull request" in str(
        e.value
    )
    assert instead in str(e.value)
    assert forge.list_pull_requests() == []


def test_a_source_without_a_checkout_says_where_writes_go(
    tracking: str, registry: RegistryRepo, tmp_path: Path, forge: LocalForge
) -> None:
    from mlgate.registry.index import build_index, write_index

    index = tmp_path / "index.json"
    write_index(build_index(registry.root, "main"), index)
    with pytest.raises(MlflowException) as e:
        MlflowClient(registry_uri=f"mlgate:{index}").set_registered_model_alias("fraud-detector", "champion", 3)
    assert "add ?repo=PATH" in str(e.value)
    MlflowClient(registry_uri=f"mlgate:{index}?repo={registry.root}&user=bob").set_registered_model_alias(
        "search-ranker", "challenger", 1
    )
    assert forge.pull_request(1).title.startswith("Promote search-ranker v1 to challenger")


def test_forge_none_pushes_a_branch_only(tracking: str, registry: RegistryRepo, forge: LocalForge) -> None:
    client = MlflowClient(registry_uri=f"mlgate:{registry.root}?forge=none&user=bob")
    client.set_registered_model_alias("search-ranker", "challenger", 1)
    assert forge.list_pull_requests() == []
    assert "mlgate/promote-search-ranker-challenger" in registry.git.git("branch", "--list", "mlgate/*")


def test_who_acts_comes_from_the_usual_places(tracking: str, registry: RegistryRepo, forge, monkeypatch) -> None:
    client = MlflowClient(registry_uri=f"mlgate:{registry.root}")
    with pytest.raises(MlflowException, match="MLGATE_USER"):
        client.set_registered_model_alias("search-ranker", "challenger", 1)
    monkeypatch.setenv("MLGATE_USER", "carol")
    client.set_registered_model_alias("search-ranker", "challenger", 1)
    assert forge.pull_request(1).author == "carol"
