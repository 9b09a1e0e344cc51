"""MLflow's own entities built from the registry, and mlgate's errors as MLflow's exceptions.

Field by field, a version is what MLflow's stores give: ``version`` an int, ``current_stage`` from the policy's
stage mapping, ``source`` the artifact's recorded URI (where the bytes are), ``run_id`` the lineage's run,
``user_id`` who registered it, ``creation_timestamp`` its ``created_at``, ``status`` READY once merged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    PERMISSION_DENIED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)

from mlgate.core.uris import stage_of
from mlgate.errors import (
    ArtifactIntegrityError,
    GateFailed,
    InputError,
    MlgateError,
    NotFoundError,
    SourceUnavailable,
    UnknownAlias,
    UsageError,
)
from mlgate.interop.mlflow.catalog import Catalog, VersionInfo, millis

READY = ModelVersionStatus.to_string(ModelVersionStatus.READY)
PENDING = ModelVersionStatus.to_string(ModelVersionStatus.PENDING_REGISTRATION)
#: the tag of a version, stage or alias change that waits for a pull request: the pull request's URL
PULL_REQUEST_TAG = "mlgate.pull_request"
#: a model's owners (model.yaml), comma-separated, as a tag of the registered model
OWNERS_TAG = "mlgate.owners"


def model_version(catalog: Catalog, info: VersionInfo, *, held: list[str], deprecated: bool) -> ModelVersion:
    created = millis(info.created_at)
    return ModelVersion(
        name=info.model,
        version=info.version,
        creation_timestamp=created,
        last_updated_timestamp=created,
        description=info.description,
        user_id=info.created_by,
        current_stage=stage_of(info.version, held, deprecated, catalog.stages()),
        source=info.uri,
        run_id=info.run_id,
        status=READY,
        tags=[ModelVersionTag(k, v) for k, v in info.tags.items()],
        aliases=sorted(held),
        model_id=info.tags.get("mlflow.model_id"),
    )


def holders(aliases: Mapping[str, int]) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias, version in sorted(aliases.items()):
        by_version.setdefault(version, []).append(alias)
    return by_version


def versions_of(catalog: Catalog, name: str) -> list[ModelVersion]:
    """Every version of ``name``, oldest first."""
    held = holders(catalog.aliases(name))
    deprecated = catalog.deprecated(name)
    return [
        model_version(catalog, info, held=held.get(info.version, []), deprecated=info.version in deprecated)
        for info in catalog.all_versions(name)
    ]


def one_version(catalog: Catalog, name: str, number: int) -> ModelVersion:
    info = catalog.version(name, number)
    held = holders(catalog.aliases(name)).get(number, [])
    return model_version(catalog, info, held=held, deprecated=number in catalog.deprecated(name))


def latest_per_stage(versions: list[ModelVersion]) -> dict[str, ModelVersion]:
    latest: dict[str, ModelVersion] = {}
    for mv in versions:
        if mv.current_stage not in latest or latest[mv.current_stage].version < mv.version:
            latest[mv.current_stage] = mv
    return latest


def registered_model(catalog: Catalog, name: str) -> RegisteredModel:
    info = catalog.model(name)
    versions = versions_of(catalog, name)
    times = [t for t in (mv.creation_timestamp for mv in versions) if t is not None]
    tags = dict(info.tags)
    if info.owners:
        tags[OWNERS_TAG] = ", ".join(info.owners)
    return RegisteredModel(
        name=name,
        creation_timestamp=min(times) if times else None,
        last_updated_timestamp=max(times) if times else None,
        description=info.description,
        latest_versions=list(latest_per_stage(versions).values()),
        tags=[RegisteredModelTag(k, v) for k, v in tags.items()],
        aliases=[RegisteredModelAlias(a, v) for a, v in sorted(catalog.aliases(name).items())],
    )


def pending_version(name: str, version: int | None, url: str | None, message: str, **fields: Any) -> ModelVersion:
    """A version whose registration waits for its pull request to be merged."""
    tags = [ModelVersionTag(k, v) for k, v in fields.pop("tags", {}).items()]
    if url:
        tags.append(ModelVersionTag(PULL_REQUEST_TAG, url))
    return ModelVersion(
        name=name,
        version=version,
        creation_timestamp=fields.pop("creation_timestamp", None),
        status=PENDING,
        status_message=message,
        tags=tags,
        **fields,
    )


# --- errors --------------------------------------------------------------------------------------------------


def refused(what: str, instead: str) -> MlflowException:
    """A write MLflow's stores make at once, which mlgate makes only through a reviewed pull request."""
    return MlflowException(
        f"{what} is not done through MLflow with an mlgate registry: every change to it is a reviewed pull "
        f"request. {instead}",
        PERMISSION_DENIED,
    )


@contextmanager
def as_mlflow(context: str = "") -> Iterator[None]:
    """mlgate's errors as MLflow's exception, with the error code MLflow's own stores use."""
    where = f"{context}: " if context else ""
    try:
        yield
    except MlflowException:
        raise
    except UnknownAlias as e:  # MLflow's stores: an unknown alias is an invalid parameter
        raise MlflowException(f"{where}{e}", INVALID_PARAMETER_VALUE) from None
    except NotFoundError as e:
        raise MlflowException(f"{where}{e}", RESOURCE_DOES_NOT_EXIST) from None
    except ArtifactIntegrityError as e:
        raise MlflowException(f"{where}{e}", INVALID_STATE) from None
    except SourceUnavailable as e:
        raise MlflowException(f"{where}{e}", TEMPORARILY_UNAVAILABLE) from None
    except GateFailed as e:
        raise MlflowException(f"{where}{e}", INVALID_STATE) from None
    except (UsageError, InputError) as e:
        raise MlflowException(f"{where}{e}", INVALID_PARAMETER_VALUE) from None
    except MlgateError as e:
        raise MlflowException(f"{where}{e}") from None
