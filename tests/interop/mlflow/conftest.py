"""Real MLflow against real registries: a SQLite tracking store (created once, copied per test), a tiny pyfunc
model logged there, and MLflow's client pointed at an mlgate registry through the plugin's entry points.

MLflow warns about things these tests do on purpose; each warning is ignored by its own message, here and only
for these tests (the suite turns every other warning into an error).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # emitted while MLflow imports its own agent types, whatever the test does
    warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning)
    import mlflow
    import mlflow.pyfunc
    import mlflow.types.responses  # noqa: F401 - the import that warns above
    from mlflow.tracking import MlflowClient

from mlgate.forge.local import LocalForge
from mlgate.testing import CARD, DATASET_SHA256, RegistryRepo, local_forge

HERE = Path(__file__).parent

#: MLflow's own warnings these tests meet: its deprecated stage API (which the plugin maps on purpose) and
#: SQLAlchemy's about MLflow's SQLite tracking store
MLFLOW_WARNINGS = (
    r"ignore:``mlflow\.tracking\.client\.MlflowClient\.(get_latest_versions|transition_model_version_stage)`` is "
    r"deprecated:FutureWarning",
    r"ignore:The ``noload`` loader strategy is deprecated",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            for spec in MLFLOW_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


class Doubler(mlflow.pyfunc.PythonModel):
    """The model the tests log: doubles its input."""

    def predict(self, context: Any, model_input: list[float], params: dict[str, Any] | None = None) -> list[float]:
        return [2 * x for x in model_input]


@pytest.fixture(scope="session")
def _tracking_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite tracking database with MLflow's tables, made once (its migrations take a second or two)."""
    db = tmp_path_factory.mktemp("tracking") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def tracking(tmp_path: Path, _tracking_template: Path) -> Iterator[str]:
    """This test's own tracking store (a copy of the template), set as MLflow's tracking URI; the registry URI
    is reset afterwards."""
    db = tmp_path / "mlflow.db"
    shutil.copyfile(_tracking_template, db)
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    # runs keep their artifacts under tmp_path (MLflow's default is ./mlruns, in whatever folder the tests run)
    experiment = MlflowClient().create_experiment("tests", artifact_location=(tmp_path / "mlruns").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    yield uri
    mlflow.set_registry_uri("")
    mlflow.set_tracking_uri("")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryRepo]:
    r = RegistryRepo.create(tmp_path / "registry")
    yield r
    r.close()


@pytest.fixture
def forge(registry: RegistryRepo) -> LocalForge:
    return local_forge(registry.root)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def registry_uri(registry: RegistryRepo, store: Path, forge: LocalForge) -> str:
    """The registry as MLflow is pointed at it: writes act as alice on the local forge, into ``store``."""
    return f"mlgate:{registry.root}?forge=local&user=alice&store={store.as_uri()}"


#: the tags a run sets for mlgate (what `mlgate register` takes as options)
RUN_TAGS = {
    "mlgate.git_sha": "c" * 40,
    "mlgate.code_repo": "https://github.com/acme/doubler",
    "mlgate.dataset_uri": "s3://acme-data/doubler.parquet",
    "mlgate.dataset_sha256": DATASET_SHA256,
    "mlgate.eval_dataset": "holdout",
    "mlgate.eval_dataset_sha256": DATASET_SHA256,
}


def log_run(metrics: dict[str, float] | None = None, *, register_as: str | None = None) -> Any:
    """A run that trains the doubler: metrics, the tags above, the card and the bias audit the champion gate
    asks for, and the model logged (and registered as ``register_as``)."""
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics or {"auc": 0.93, "latency_p99_ms": 12.0})
        mlflow.log_params({"depth": 3, "lr": 0.1})
        mlflow.set_tags(RUN_TAGS)
        mlflow.log_text(CARD, "card.md")
        mlflow.log_text("# Bias audit\nNo gap found.\n", "evidence/bias-audit.md")
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Doubler(), pip_requirements=[], registered_model_name=register_as
        )
    return run, info
