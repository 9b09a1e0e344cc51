"""MLflow's model-registry store for ``mlgate:`` registry URIs: MLflow's client reads the git registry, and its
writes open pull requests.

MLflow builds it through the entry point ``mlflow.model_registry_store`` named ``mlgate`` (see pyproject.toml):
``mlflow.set_registry_uri("mlgate:/path/to/registry")`` (the forms are in :mod:`mlgate.interop.mlflow.uri`).

Reads return MLflow's own entities (:mod:`mlgate.interop.mlflow.entities`). Stages are aliases: a version is in
``Production`` or ``Staging`` when it holds the alias policy.yaml's ``stages:`` maps that stage to (default
``{Production: champion, Staging: challenger}``), ``Archived`` when it is deprecated, ``None`` otherwise.
``latest`` (any case) is the newest version, as in MLflow's stores; other aliases are looked up in any case
(mlgate's names are lowercase).

Writes (:mod:`mlgate.interop.mlflow.writes`): ``create_model_version`` opens the registration pull request and
returns a version ``PENDING_REGISTRATION`` whose tag ``mlgate.pull_request`` is its URL (MLflow's
``register_model`` does not wait for it: a review takes longer than any ``await_registration_for``);
``set_registered_model_alias`` and ``transition_model_version_stage`` open promotion pull requests (Archived:
a deprecation). Deletes, renames, alias deletion and edits of merged manifests raise ``MlflowException`` naming
the mlgate command that makes the change as a pull request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.entities.model_registry.model_version_stages import ALL_STAGES, get_canonical_stage
from mlflow.exceptions import MlflowException
from mlflow.prompt.registry_utils import add_prompt_filter_string
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from mlgate.core import layout
from mlgate.core.uris import reserved_alias
from mlgate.interop.mlflow.catalog import Catalog
from mlgate.interop.mlflow.entities import (
    PULL_REQUEST_TAG,
    as_mlflow,
    latest_per_stage,
    one_version,
    pending_version,
    refused,
    registered_model,
    versions_of,
)
from mlgate.interop.mlflow.uri import ArtifactRef, RegistryURIError, parse_registry_uri
from mlgate.interop.mlflow.writes import Writer

_logger = logging.getLogger("mlgate.mlflow")


def build_store(store_uri: str, tracking_uri: str | None = None) -> MlgateStore:
    """The entry point MLflow calls for an ``mlgate:`` registry URI."""
    return MlgateStore(store_uri, tracking_uri)


def _version(version: Any) -> int:
    text = str(version).strip()
    if not layout.VERSION_RE.match(text):
        raise MlflowException(f"{version!r} is not a version number (1, 2, 3...)", INVALID_PARAMETER_VALUE)
    return int(text)


def _paged(items: list[Any], max_results: Any, page_token: str | None, limit: int) -> PagedList:
    if not isinstance(max_results, int) or isinstance(max_results, bool) or not 1 <= max_results <= limit:
        raise MlflowException(
            f"Invalid value for max_results: it must be an integer from 1 to {limit}, not {max_results!r}",
            INVALID_PARAMETER_VALUE,
        )
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    return PagedList(items[start:end], SearchUtils.create_page_token(end) if end < len(items) else None)


@contextmanager
def _invalid_values() -> Iterator[None]:
    """MLflow's filter code lets a value of the wrong type escape as a ValueError or TypeError (e.g.
    ``version_number = 'two'``); it is an invalid parameter like any other bad filter."""
    try:
        yield
    except (ValueError, TypeError) as e:
        raise MlflowException(f"Invalid filter value: {e}", INVALID_PARAMETER_VALUE) from None


class MlgateStore(AbstractStore):
    """The model registry in git, as MLflow's registry store."""

    def __init__(self, store_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        try:
            self.parsed = parse_registry_uri(store_uri)
        except RegistryURIError as e:
            raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from None
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri
        with as_mlflow(f"registry {store_uri}"):
            self.catalog = Catalog(self.parsed)
        self.writer = Writer(self.parsed, tracking_uri)
        #: models created through MLflow that have no version yet: what create_registered_model was given
        self._new_models: dict[str, dict[str, Any]] = {}
        self._new_lock = threading.Lock()

    @property
    def _cat(self) -> Catalog:
        self.catalog.fresh()
        return self.catalog

    # --- registered models -------------------------------------------------------------------------------------

    def get_registered_model(self, name: str) -> RegisteredModel:
        with as_mlflow():
            return registered_model(self._cat, name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        SearchModelUtils.parse_search_filter(filter_string)  # a bad filter fails before anything is read
        filter_string = add_prompt_filter_string(filter_string, is_prompt=False)
        with as_mlflow():
            catalog = self._cat
            models = [registered_model(catalog, name) for name in catalog.model_names()]
        with _invalid_values():
            found = SearchModelUtils.sort(SearchModelUtils.filter(models, filter_string), order_by)
        return _paged(found, max_results, page_token, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        wanted = [get_canonical_stage(s) for s in stages] if stages else list(ALL_STAGES)
        with as_mlflow():
            latest = latest_per_stage(versions_of(self._cat, name))
        return [latest[s] for s in wanted if s in latest]

    # --- model versions ----------------------------------------------------------------------------------------

    def get_model_version(self, name: str, version: Any) -> ModelVersion:
        number = _version(version)
        with as_mlflow():
            return one_version(self._cat, name, number)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with as_mlflow():
            catalog = self._cat
            if alias.lower() == "latest":
                versions = catalog.versions(name)
                if not versions:
                    raise MlflowException(f"Latest version not found for model {name}.", RESOURCE_DOES_NOT_EXIST)
                return one_version(catalog, name, versions[-1])
            return one_version(catalog, name, catalog.alias_version(name, alias))

    def get_model_version_download_uri(self, name: str, version: Any) -> str:
        number = _version(version)
        with as_mlflow():
            info = self._cat.version(name, number)
        return ArtifactRef(name, number, info.uri, info.sha256, info.size, info.format).download_uri()

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        SearchModelVersionUtils.parse_search_filter(filter_string)  # as is, so that its error quotes it
        filter_string = add_prompt_filter_string(filter_string, is_prompt=False)
        with as_mlflow():
            catalog = self._cat
            versions = [mv for name in catalog.model_names() for mv in versions_of(catalog, name)]
        with _invalid_values():
            found = SearchModelVersionUtils.sort(
                SearchModelVersionUtils.filter(versions, filter_string),
                order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"],
            )
        return _paged(found, max_results, page_token, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)

    # --- writes that become pull requests ----------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Iterable[Any] | None = None,
        description: str | None = None,
        deployment_job_id: Any = None,
    ) -> RegisteredModel:
        """A model exists in mlgate with its first version: nothing is written here. The description and tags
        are kept for the first ``create_model_version`` of this process, whose pull request adds model.yaml."""
        problem = layout.name_problem(name)
        if problem:
            raise MlflowException(f"{name!r} is not a valid mlgate model name: {problem}", INVALID_PARAMETER_VALUE)
        with as_mlflow():
            exists = name in self._cat.model_names()
        if exists:
            raise MlflowException(f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS)
        with self._new_lock:  # register_model calls it again, with neither: what was given first stays
            given = self._new_models.setdefault(name, {"description": None, "tags": {}})
            given["description"] = description or given["description"]
            given["tags"].update({t.key: t.value for t in tags or ()})
        tags_out = [*(tags or ()), _pending_tag()]
        return RegisteredModel(name, description=given["description"], tags=tags_out)

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Iterable[Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        with as_mlflow():
            exists = name in self._cat.model_names()
        with self._new_lock:
            new_model = None if exists else self._new_models.get(name, {})
        opened, recorded = self.writer.register(
            name,
            source,
            run_id=run_id,
            tags={t.key: t.value for t in tags or ()},
            description=description,
            local_model_path=local_model_path,
            model_id=model_id,
            new_model=new_model,
        )
        message = (
            f"mlgate opened {opened.where} registering {name} version {opened.version}; it is READY once "
            "the pull request is approved and merged"
        )
        _logger.warning("mlgate: %s", message)
        return pending_version(
            name, opened.version, opened.url, message, tags=recorded, source=source, run_id=opened.run_id,
            run_link=run_link, description=description, model_id=model_id,
        )  # fmt: skip

    def _await_model_version_creation(self, mv: ModelVersion, await_creation_for: int) -> None:
        """A registration is a pull request that waits for review: nothing to wait for in-process (MLflow's
        loop would poll a version that is not on the base branch until the review is done)."""

    def set_registered_model_alias(self, name: str, alias: str, version: Any) -> None:
        why = reserved_alias(alias)
        if why:
            raise MlflowException(f"Invalid alias name: {why}", INVALID_PARAMETER_VALUE)
        self.writer.promote(name, _version(version), alias.lower())

    def transition_model_version_stage(
        self, name: str, version: Any, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Production/Staging: a promotion of the stage's alias. Archived: a deprecation. ``archive_existing_versions``
        changes nothing: an alias holds one version, so the version that held it leaves the stage when the pull
        request merges (and stays a rollback target: ``mlgate deprecate`` archives it)."""
        number = _version(version)
        canonical = get_canonical_stage(stage)
        with as_mlflow():
            stages = self._cat.stages()
            self._cat.version(name, number)  # an unknown model or version says so before anything is written
        if canonical == "Archived":
            opened = self.writer.deprecate(name, number)
        elif canonical in stages:
            if archive_existing_versions:
                _logger.warning(
                    "mlgate: archive_existing_versions: the version holding %r leaves %s when the pull request "
                    "merges; it is not deprecated (run `mlgate deprecate %s/VERSION` to archive it)",
                    stages[canonical],
                    canonical,
                    name,
                )
            opened = self.writer.promote(name, number, stages[canonical])
        else:
            raise refused(
                f"moving {name} version {number} to stage {canonical}",
                "A version leaves a stage when another version takes the stage's alias: promote that one "
                f"(`mlgate promote {name}/VERSION --alias ALIAS`), or undo the promotion with `mlgate rollback "
                f"{name} --alias ALIAS`.",
            )
        with as_mlflow():
            mv = one_version(self._cat, name, number)
        if opened.url:
            mv._add_tag(_tag(PULL_REQUEST_TAG, opened.url))
        return mv

    # --- writes mlgate makes only through its own commands ----------------------------------------------------------

    def update_registered_model(self, name: str, description: str, deployment_job_id: Any = None) -> RegisteredModel:
        raise refused(
            f"changing the description of {name}",
            f"Edit registry/models/{name}/model.yaml on a branch and open a pull request.",
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        raise refused(
            f"renaming {name} to {new_name}",
            "A model's versions are immutable under its name: register the new name's first version "
            f"(mlgate register {new_name} ...) and deprecate the old versions (mlgate deprecate {name}/VERSION).",
        )

    def delete_registered_model(self, name: str) -> None:
        raise refused(
            f"deleting {name}",
            f"Merged versions are immutable (the audit trail): deprecate them instead (mlgate deprecate {name}/VERSION).",
        )

    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        raise refused(
            f"tagging {name}",
            f"Edit the tags in registry/models/{name}/model.yaml on a branch and open a pull request.",
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        raise refused(
            f"removing tag {key!r} of {name}",
            f"Edit the tags in registry/models/{name}/model.yaml on a branch and open a pull request.",
        )

    def update_model_version(self, name: str, version: Any, description: str) -> ModelVersion:
        raise refused(
            f"changing the description of {name} version {version}",
            "A merged version is immutable: register a new version with the new description.",
        )

    def delete_model_version(self, name: str, version: Any) -> None:
        raise refused(
            f"deleting {name} version {version}",
            f"Merged versions are immutable (the audit trail): deprecate it instead (mlgate deprecate "
            f"{name}/{version}, or transition it to Archived).",
        )

    def set_model_version_tag(self, name: str, version: Any, tag: Any) -> None:
        raise refused(
            f"tagging {name} version {version}",
            "A merged version is immutable: tags are given when it is registered (register_model(..., tags=...)).",
        )

    def delete_model_version_tag(self, name: str, version: Any, key: str) -> None:
        raise refused(
            f"removing tag {key!r} of {name} version {version}",
            "A merged version is immutable: tags are given when it is registered.",
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        raise refused(
            f"deleting alias {alias!r} of {name}",
            f"Move it to another version (mlgate promote {name}/VERSION --alias {alias}), or undo its last move "
            f"(mlgate rollback {name} --alias {alias}); deleting registry/models/{name}/aliases/{alias}.yaml in a "
            "pull request removes it.",
        )


def _tag(key: str, value: str) -> Any:
    from mlflow.entities.model_registry import ModelVersionTag

    return ModelVersionTag(key, value)


def _pending_tag() -> Any:
    from mlflow.entities.model_registry import RegisteredModelTag

    return RegisteredModelTag("mlgate.pending", "true: model.yaml is added by the first version's pull request")
