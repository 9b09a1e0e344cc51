"""MLflow's client reads the example registry: entities field by field, stages, aliases in any case, MLflow's filter
syntax (and its refusals), pages, and the same answers from a checkout, a git ref and a serving index."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlgate.registry.index import build_index, write_index
from mlgate.testing import RegistryRepo


@pytest.fixture
def client(registry: RegistryRepo, tracking: str) -> MlflowClient:
    registry.edit_yaml("registry/models/fraud-detector/versions/2/version.yaml", tags={"flavor": "onnx", "q": "it's"})
    registry.commit("Tag fraud-detector v2")
    return MlflowClient(registry_uri=f"mlgate:{registry.root}")


def test_a_version_carries_what_mlflow_stores_give(client: MlflowClient) -> None:
    mv = client.get_model_version("fraud-detector", "2")
    assert (mv.name, mv.version, mv.status, mv.current_stage) == ("fraud-detector", 2, "READY", "Production")
    assert (mv.run_id, mv.user_id, mv.description) == ("fraud-run-1074", "alice", "Adds merchant-category embeddings.")
    assert mv.source == "s3://acme-models/sha256/c8/c84c337741c1ab4ebcbe5354e49fd93513a6deeea8e25c0f6d977367545212ea"
    assert mv.creation_timestamp == mv.last_updated_timestamp == 1779208812000  # its created_at, in ms
    assert mv.aliases == ["champion"] and mv.tags == {"flavor": "onnx", "q": "it's"}
    assert client.get_model_version("fraud-detector", 3).current_stage == "Staging"  # holds challenger
    assert client.get_model_version("fraud-detector", 1).current_stage == "None"


def test_a_registered_model_carries_its_manifest(client: MlflowClient) -> None:
    rm = client.get_registered_model("fraud-detector")
    assert rm.description.startswith("Scores card transactions for fraud risk")
    assert rm.tags == {
        "team": "risk",
        "tier": "critical",
        "domain": "payments",
        "mlgate.owners": "@acme/fraud-ml, alice",
    }
    assert rm.aliases == {"champion": 2, "challenger": 3}
    assert sorted((v.current_stage, v.version) for v in rm.latest_versions) == [
        ("None", 1),
        ("Production", 2),
        ("Staging", 3),
    ]
    assert rm.creation_timestamp < rm.last_updated_timestamp


@pytest.mark.parametrize(
    ("alias", "version"),
    [("champion", 2), ("Champion", 2), ("CHALLENGER", 3), ("latest", 3), ("Latest", 3)],
)
def test_aliases_in_any_case_and_latest(client: MlflowClient, alias: str, version: int) -> None:
    assert client.get_model_version_by_alias("fraud-detector", alias).version == version


def test_get_latest_versions_maps_stages_to_aliases(client: MlflowClient) -> None:
    got = client.get_latest_versions("churn-predictor", ["production", "Staging"])
    assert sorted((v.current_stage, v.version) for v in got) == [("Production", 3), ("Staging", 4)]
    assert [v.version for v in client.get_latest_versions("churn-predictor", ["None"])] == [2]
    with pytest.raises(MlflowException, match="Invalid Model Version stage: Prod"):
        client.get_latest_versions("churn-predictor", ["Prod"])


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (
            lambda c: c.get_registered_model("fraud-detecter"),
            "RESOURCE_DOES_NOT_EXIST",
            "did you mean 'fraud-detector'?",
        ),
        (lambda c: c.get_registered_model("Fraud-Detector"), "RESOURCE_DOES_NOT_EXIST", "model names are lowercase"),
        (lambda c: c.get_model_version("fraud-detector", 9), "RESOURCE_DOES_NOT_EXIST", "(versions: 1, 2, 3)"),
        (lambda c: c.get_model_version("fraud-detector", "two"), "INVALID_PARAMETER_VALUE", "not a version number"),
        (
            lambda c: c.get_model_version_by_alias("fraud-detector", "champ"),
            "INVALID_PARAMETER_VALUE",
            "did you mean 'champion'?",
        ),
        (lambda c: c.get_latest_versions("nope"), "RESOURCE_DOES_NOT_EXIST", "no model 'nope'"),
        (lambda c: c.get_model_version_download_uri("nope", 1), "RESOURCE_DOES_NOT_EXIST", "no model 'nope'"),
    ],
)
def test_unknown_names_are_mlflow_errors_with_a_hint(client: MlflowClient, call, code: str, words: str) -> None:
    with pytest.raises(MlflowException) as e:
        call(client)
    assert e.value.error_code == code and words in str(e.value)


FRAUD = {("fraud-detector", 1), ("fraud-detector", 2), ("fraud-detector", 3)}
CHURN = {("churn-predictor", v) for v in (1, 2, 3, 4)}
RANKER = {("search-ranker", 1), ("search-ranker", 2)}


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (None, FRAUD | CHURN | RANKER),
        ("name = 'fraud-detector'", FRAUD),
        ('name = "fraud-detector"', FRAUD),
        ("name != 'fraud-detector'", CHURN | RANKER),
        ("name LIKE 'churn%'", CHURN),
        ("name ILIKE 'CHURN%'", CHURN),
        ("name LIKE 'CHURN%'", set()),
        ("name IN ('fraud-detector', 'search-ranker')", FRAUD | RANKER),
        ("name NOT IN ('fraud-detector', 'search-ranker')", CHURN),
        ("version_number = 4", {("churn-predictor", 4)}),
        ("name = 'churn-predictor' AND version_number >= 3", {("churn-predictor", 3), ("churn-predictor", 4)}),
        ("run_id = 'fraud-run-1037'", {("fraud-detector", 1)}),
        ("run_id IN ('fraud-run-1037', 'churn-run-1148')", {("fraud-detector", 1), ("churn-predictor", 4)}),
        ("source_path LIKE 's3://acme-models/sha256/c8/%'", {("fraud-detector", 2)}),
        ("tags.flavor = 'onnx'", {("fraud-detector", 2)}),
        ("tags.`flavor` != 'onnx'", set()),
        ("tags.q = 'it''s'", set()),  # MLflow's filters have no escaped quote: no match, no error
        ("tags.q LIKE 'it%'", {("fraud-detector", 2)}),
        ("name = 'fraud-detector' AND tags.flavor ILIKE 'ONNX'", {("fraud-detector", 2)}),
        ("name = 'nope'", set()),
        ("name = '%'", set()),
        ("name LIKE '%'", FRAUD | CHURN | RANKER),
    ],
)
def test_search_model_versions_filters_as_mlflow(client: MlflowClient, filter_string: str | None, expected) -> None:
    assert {(mv.name, mv.version) for mv in client.search_model_versions(filter_string)} == expected


@pytest.mark.parametrize(
    "filter_string",
    [
        "foo = 'x'",
        "name = 'a' OR name = 'b'",
        "name = 'fraud-detector",
        "name = 'x'; DROP TABLE model_versions",
        "name = fraud-detector",
        "version_number = 'two'",
        "attribute.status = 'READY'",
        "metrics.auc > 0.9",
        "tags.team IN ('risk')",
    ],
)
def test_hostile_filters_are_invalid_parameters(client: MlflowClient, filter_string: str) -> None:
    with pytest.raises(MlflowException) as e:
        client.search_model_versions(filter_string)
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_order_and_pages_as_mlflow(client: MlflowClient) -> None:
    first = client.search_model_versions(order_by=["name ASC", "version_number ASC"], max_results=4)
    assert [(mv.name, mv.version) for mv in first] == [("churn-predictor", v) for v in (1, 2, 3, 4)]
    rest = client.search_model_versions(
        order_by=["name ASC", "version_number ASC"], max_results=4, page_token=first.token
    )
    assert [(mv.name, mv.version) for mv in rest] == [*sorted(FRAUD), ("search-ranker", 1)]
    last = client.search_model_versions(
        order_by=["name ASC", "version_number ASC"], max_results=4, page_token=rest.token
    )
    assert [(mv.name, mv.version) for mv in last] == [("search-ranker", 2)] and last.token is None
    newest = client.search_model_versions("name = 'fraud-detector'")  # MLflow's default order: newest first
    assert [mv.version for mv in newest] == [3, 2, 1]
    with pytest.raises(MlflowException, match="max_results"):
        client.search_model_versions(max_results=0)


def test_search_registered_models(client: MlflowClient) -> None:
    assert [m.name for m in client.search_registered_models()] == ["churn-predictor", "fraud-detector", "search-ranker"]
    assert [m.name for m in client.search_registered_models("name LIKE '%detector'")] == ["fraud-detector"]
    assert [m.name for m in client.search_registered_models("tags.tier = 'critical'")] == ["fraud-detector"]
    page = client.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in page] == ["search-ranker", "fraud-detector"] and page.token
    with pytest.raises(MlflowException) as e:
        client.search_registered_models("run_id = 'x'")
    assert e.value.error_code == "INVALID_PARAMETER_VALUE"


def _answers(client: MlflowClient) -> list[tuple]:
    out = []
    for mv in client.search_model_versions(order_by=["name ASC", "version_number ASC"]):
        out.append(
            (mv.name, mv.version, mv.current_stage, mv.run_id, mv.source, mv.creation_timestamp, mv.aliases)
            + (mv.user_id, mv.description, mv.tags)
        )
    champion = client.get_model_version_by_alias("fraud-detector", "champion")
    out.append((champion.version, client.get_model_version_download_uri("fraud-detector", 2)))
    return out


def test_a_git_ref_and_an_index_read_the_same(client: MlflowClient, registry: RegistryRepo, tmp_path: Path) -> None:
    index = tmp_path / "registry-index.json"
    write_index(build_index(registry.root, "main"), index)
    expected = _answers(client)
    registry.branch("elsewhere")  # a git source reads its ref, whatever the checkout has
    registry.edit_yaml("registry/models/fraud-detector/aliases/champion.yaml", version=3)
    registry.commit("not on main")
    for uri in (
        f"mlgate:{registry.root}#main",
        f"mlgate:git+file://{registry.root}#main",
        f"mlgate:{index}",
        f"mlgate:{index.as_uri()}",
    ):
        assert _answers(MlflowClient(registry_uri=uri)) == expected, uri
    # the index carries the models' metadata too
    models = [
        MlflowClient(registry_uri=uri).get_registered_model("fraud-detector")
        for uri in (f"mlgate:{index}", f"mlgate:{registry.root}#main")
    ]
    assert [(m.description, m.tags, m.aliases) for m in models] == [
        (models[1].description, models[1].tags, {"champion": 2, "challenger": 3})
    ] * 2


def test_the_policy_maps_stages_to_other_aliases(client: MlflowClient, registry: RegistryRepo) -> None:
    registry.edit_yaml("registry/policy.yaml", stages={"Production": "challenger", "Staging": "shadow"})
    registry.commit("Stages are challenger and shadow")
    assert client.get_model_version("churn-predictor", 3).current_stage == "None"  # champion is no stage now
    assert client.get_model_version("churn-predictor", 4).current_stage == "Production"  # challenger and shadow
    assert [v.version for v in client.get_latest_versions("churn-predictor", ["Production"])] == [4]
    assert client.get_latest_versions("churn-predictor", ["Staging"]) == []
