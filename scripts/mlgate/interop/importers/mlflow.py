"""``mlgate import mlflow``: an MLflow model registry (models, versions, tags, descriptions, aliases, stages, and the
source runs' params, metrics and datasets) as mlgate manifests, in one pull request.

MLflow is imported only here, and only when an import runs: ``pip install 'mlgate[mlflow]'`` (a ``sqlite://``
or database tracking URI needs the full ``mlflow`` package, which has the SQL store).

How MLflow maps onto mlgate:

- a registered model's name is mapped to an mlgate name (:func:`~.common.map_name`), every renaming listed;
- version numbers are kept; ``created_at``/``created_by`` come from the version; its tags become the
  version's tags, with ``imported.*`` tags saying where it came from;
- the source run gives ``lineage`` (``run_id``; ``git_sha`` and ``code_repo`` from MLflow's
  ``mlflow.source.git.*`` tags; ``params``; ``dataset`` from the run's training dataset input) and
  ``eval.yaml`` (the run's metrics, on the run's evaluation dataset input, else its training one); whatever
  MLflow did not record is a clearly named placeholder, listed;
- MLflow aliases become alias files; stages become aliases through the policy's ``stages:`` mapping
  (default ``Production: champion, Staging: challenger``), ``Archived`` deprecates the version, ``None`` sets
  nothing; an explicit MLflow alias wins over a stage that maps to the same alias name;
- the version's artifacts (MLflow's model folder) are downloaded and stored content-addressed, a folder as
  mlgate's deterministic archive (format ``mlflow`` when it holds an ``MLmodel`` file).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mlgate.core.times import format_time
from mlgate.errors import InputError, UsageError
from mlgate.forge import Forge
from mlgate.interop.importers.common import (
    PLACEHOLDER_GIT_SHA,
    PLACEHOLDER_URI,
    AliasIn,
    ImportResult,
    ModelIn,
    Note,
    VersionIn,
    check_collisions,
    is_git_sha,
    is_uri,
    map_name,
    placeholder_sha256,
    policy_stages,
    run_import,
    safe_uri,
)

SOURCE = "mlflow"
_PAGE = 500
_EVAL_CONTEXTS = ("eval", "evaluation", "test", "testing", "validation", "val")


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise UsageError(
            "mlgate import mlflow needs MLflow: pip install 'mlgate[mlflow]' (and the full 'mlflow' package "
            "for a sqlite:// or database tracking URI)"
        ) from None
    return mlflow


def _check_database(uri: str, what: str) -> None:
    """Refuse a ``sqlite:///`` URI whose file does not exist: MLflow would create an empty registry there."""
    if not uri.startswith("sqlite:"):
        return
    path = unquote(urlsplit(uri).path)
    if uri.startswith("sqlite:////"):
        path = "/" + path.lstrip("/")
    elif uri.startswith("sqlite:///"):
        path = path[1:] if path.startswith("/") else path
    if path in ("", ":memory:") or not os.path.isfile(path):
        raise UsageError(f"{what} {safe_uri(uri)}: no MLflow database at {path or '(none)'}")


@contextlib.contextmanager
def _environment(**defaults: str) -> Iterator[None]:
    """MLflow's settings ``defaults`` (environment variables) for the time of a call, unless the user set them."""
    saved = {k: os.environ.get(k) for k in defaults}
    for k, v in defaults.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, before in saved.items():
            if before is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = before


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def _time(ms: Any) -> str:
    try:
        return format_time(datetime.fromtimestamp(int(ms) / 1000, timezone.utc))
    except (TypeError, ValueError, OverflowError, OSError):
        return format_time(datetime.fromtimestamp(0, timezone.utc))


def _pages(call: Any, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = call(max_results=_PAGE, page_token=token, **kwargs)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


class _Source:
    """The MLflow registry being read: the client, and what the import needs of it."""

    def __init__(self, tracking_uri: str, registry_uri: str | None) -> None:
        mlflow = _mlflow()
        _check_database(tracking_uri, "--tracking-uri")
        if registry_uri:
            _check_database(registry_uri, "--registry-uri")
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.mlflow = mlflow
        try:
            self.client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=self.registry_uri)
            # MLflow's HTTP client retries for minutes by default: whether the server answers at all is asked
            # once, with a short timeout
            with _environment(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="10"):
                self.client.search_registered_models(max_results=1)
        except Exception as e:  # MLflow raises many types (MlflowException, requests', SQLAlchemy's...)
            raise InputError(
                f"cannot read the MLflow registry at {safe_uri(self.registry_uri)}: {_first_line(e)}"
            ) from None

    def registered_models(self, names: tuple[str, ...]) -> list[Any]:
        if not names:
            return sorted(_pages(self.client.search_registered_models), key=lambda m: m.name)
        out = []
        for name in names:
            try:
                out.append(self.client.get_registered_model(name))
            except Exception as e:
                raise UsageError(f"--model {name!r}: not in the MLflow registry ({_first_line(e)})") from None
        return out

    def versions(self, name: str) -> list[Any]:
        quoted = name.replace("'", "\\'")
        found = list(_pages(self.client.search_model_versions, filter_string=f"name='{quoted}'"))
        return sorted((v for v in found if v.name == name), key=lambda v: int(v.version))

    def run(self, run_id: str) -> Any:
        try:
            return self.client.get_run(run_id)
        except Exception:
            return None

    def download(self, name: str, version: Any, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            uri = self.client.get_model_version_download_uri(name, str(version))
            with _environment(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"):  # one bar per version is noise
                local = self.mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=str(folder), tracking_uri=self.tracking_uri
                )
        except Exception as e:
            raise InputError(f"MLflow could not download it: {_first_line(e)}") from None
        return Path(local)

    def other_artifacts(self, run: Any, source: str) -> list[str]:
        """The run's top-level artifacts that are not the model version's (listed: mlgate keeps the model only)."""
        root = str(run.info.artifact_uri or "").rstrip("/")
        inside = source[len(root) :].strip("/") if root and source.startswith(root + "/") else None
        try:
            listing = self.client.list_artifacts(run.info.run_id)
        except Exception:
            return []
        top = (inside or "").split("/", 1)[0]
        return sorted(f.path for f in listing if f.path != top)


def _dataset(ds_input: Any) -> tuple[str, dict[str, str], str]:
    """(name, {uri, sha256} for lineage, what MLflow records) of one dataset input of a run."""
    ds = ds_input.dataset
    uri = None
    try:
        source = json.loads(ds.source or "{}")
    except ValueError:
        source = {}
    if isinstance(source, dict):
        for key in ("uri", "url", "path", "source"):
            value = source.get(key)
            if isinstance(value, str) and is_uri(value):
                uri = value
                break
    digest = ds.digest or ""
    return (
        ds.name or "dataset",
        {"uri": uri or PLACEHOLDER_URI, "sha256": placeholder_sha256(f"mlflow-dataset:{ds.name}:{digest}")},
        f"{ds.name!r} (MLflow digest {digest or 'none'})",
    )


def _context(ds_input: Any) -> str:
    for tag in getattr(ds_input, "tags", None) or []:
        if tag.key == "mlflow.data.context":
            return str(tag.value).lower()
    return ""


def _card(model: Any, v: Any, run_id: str | None) -> str:
    from mlgate.render.report import md_code

    lines = [f"# {md_code(model.name)} version {v.version}", ""]
    lines += [
        v.description.strip()
        if v.description and v.description.strip()
        else "_MLflow has no description of this version._",
        "",
    ]
    if model.description and model.description.strip():
        lines += ["## About the model", "", model.description.strip(), ""]
    lines += [
        "## Source",
        "",
        f"Imported by `mlgate import mlflow` from the MLflow registered model {md_code(model.name)}, version "
        f"{v.version} (stage {md_code(v.current_stage or 'None')}"
        + (f", run {md_code(run_id)}" if run_id else "")
        + "). Add the sections your policy's gates require before promoting it.",
        "",
    ]
    return "\n".join(lines)


class _Mapper:
    """Turns one MLflow registered model into a :class:`ModelIn`."""

    def __init__(self, src: _Source, stages: dict[str, str]) -> None:
        self.src = src
        self.stages = stages

    def model(self, rm: Any, name: str) -> ModelIn:
        versions = self.src.versions(rm.name)
        notes: list[Note] = []
        aliases = self._aliases(rm, name, versions, notes)
        return ModelIn(
            source_name=rm.name,
            name=name,
            description=rm.description,
            tags=dict(rm.tags or {}),
            versions=lambda: (self.version(rm, name, v) for v in versions),
            aliases=tuple(aliases),
            notes=tuple(notes),
        )

    def _aliases(self, rm: Any, name: str, versions: list[Any], notes: list[Note]) -> list[AliasIn]:
        explicit = {str(a): int(v) for a, v in (getattr(rm, "aliases", None) or {}).items()}
        out = {a: AliasIn(a, v, "MLflow alias") for a, v in sorted(explicit.items())}
        staged: dict[str, list[int]] = {}
        for v in versions:
            stage = v.current_stage or "None"
            if stage in ("None", "Archived"):
                continue
            staged.setdefault(stage, []).append(int(v.version))
        for stage, numbers in sorted(staged.items()):
            alias = self.stages.get(stage)
            top = max(numbers)
            if alias is None:
                notes.append(
                    Note(
                        "lost",
                        name,
                        top,
                        "stage",
                        f"stage {stage!r} of v{', v'.join(map(str, sorted(numbers)))}: the policy's stages: maps no alias to it",
                    )
                )
                continue
            for n in sorted(numbers)[:-1]:
                notes.append(
                    Note(
                        "lost",
                        name,
                        n,
                        "stage",
                        f"v{n} is also in stage {stage!r}: only the highest version, v{top}, gets {alias!r}",
                    )
                )
            if alias in out and out[alias].version != top:
                notes.append(
                    Note(
                        "lost",
                        name,
                        top,
                        "stage",
                        f"stage {stage!r} (v{top}) maps to {alias!r}, which MLflow's own alias {alias!r} sets to v{out[alias].version}: the alias wins",
                    )
                )
            elif alias in out:
                out[alias] = AliasIn(alias, top, f"MLflow alias and stage {stage}")
            else:
                out[alias] = AliasIn(alias, top, f"stage {stage}")
        return list(out.values())

    def version(self, rm: Any, name: str, v: Any) -> VersionIn:
        number = int(v.version)
        notes: list[Note] = []
        run_id = v.run_id or None
        run = self.src.run(run_id) if run_id else None
        lineage: dict[str, Any] = {"run_id": run_id or "unknown"}
        placeholders = []
        if run_id is None:
            placeholders.append("run_id")
        elif run is None:
            notes.append(
                Note(
                    "lost",
                    name,
                    number,
                    "run",
                    f"its run {run_id} cannot be read in MLflow: no params, metrics or datasets",
                )
            )
        elif run.info.lifecycle_stage == "deleted":
            notes.append(
                Note(
                    "lost",
                    name,
                    number,
                    "run",
                    f"its run {run_id} is deleted in MLflow (its params and metrics were still read)",
                )
            )
        tags = dict(run.data.tags) if run is not None else {}
        sha = tags.get("mlflow.source.git.commit")
        repo = tags.get("mlflow.source.git.repoURL") or tags.get("mlflow.gitRepoURL")
        lineage["git_sha"] = sha if is_git_sha(sha) else PLACEHOLDER_GIT_SHA
        lineage["code_repo"] = repo if is_uri(repo) else PLACEHOLDER_URI
        if lineage["git_sha"] == PLACEHOLDER_GIT_SHA:
            placeholders.append("git_sha" + (f" (MLflow has {sha!r})" if sha else ""))
        if lineage["code_repo"] == PLACEHOLDER_URI:
            placeholders.append("code_repo" + (f" (MLflow has {repo!r})" if repo else ""))
        inputs = list(run.inputs.dataset_inputs) if run is not None and run.inputs else []
        training = next((d for d in inputs if _context(d) in ("training", "train")), inputs[0] if inputs else None)
        evaluation = next((d for d in inputs if _context(d) in _EVAL_CONTEXTS), training)
        if training is not None:
            _, lineage["dataset"], said = _dataset(training)
            notes.append(
                Note(
                    "placeholder",
                    name,
                    number,
                    "lineage.dataset",
                    f"the training dataset {said}: MLflow records no sha256 of its data, a stand-in digest is recorded",
                )
            )
        else:
            lineage["dataset"] = {"uri": PLACEHOLDER_URI, "sha256": placeholder_sha256(f"mlflow-run:{run_id}:training")}
            placeholders.append("dataset")
        if evaluation is not None:
            ds_name, ds, _ = _dataset(evaluation)
            eval_dataset = {"name": ds_name, "sha256": ds["sha256"]}
            if ds["uri"] != PLACEHOLDER_URI:
                eval_dataset["uri"] = ds["uri"]
        else:
            eval_dataset = {
                "name": f"placeholder: MLflow run {run_id or '(none)'} records no dataset",
                "sha256": placeholder_sha256(f"mlflow-run:{run_id}:evaluation"),
            }
            if run is not None and run.data.metrics:
                notes.append(
                    Note(
                        "placeholder",
                        name,
                        number,
                        "eval.dataset",
                        "the run records no dataset: eval.yaml names a placeholder data set",
                    )
                )
        if placeholders:
            notes.append(
                Note(
                    "placeholder",
                    name,
                    number,
                    "lineage",
                    f"not in MLflow, recorded as placeholders: {', '.join(placeholders)}",
                )
            )
        lineage["params"] = dict(run.data.params) if run is not None else {}
        if run is not None:
            for other in self.src.other_artifacts(run, str(v.source or "")):
                notes.append(
                    Note("lost", name, number, "run artifact", f"run artifact {other!r} is not the model: not copied")
                )
        if str(getattr(v, "status", "READY")) not in ("READY", "ModelVersionStatus.READY"):
            notes.append(Note("failed", name, number, "version", f"MLflow status is {v.status}, not READY"))
        stage = v.current_stage or "None"
        version_tags = {"imported.from": "mlflow", "imported.name": rm.name, "imported.version": str(number)}
        if stage != "None":
            version_tags["imported.stage"] = stage
        version_tags.update({k: str(val) for k, val in (v.tags or {}).items()})
        src = self.src

        def fetch(folder: Path) -> Path:
            return src.download(rm.name, v.version, folder)

        return VersionIn(
            number=number,
            created_at=_time(v.creation_timestamp),
            created_by=v.user_id or None,
            description=v.description,
            tags=version_tags,
            lineage=lineage,
            metrics=dict(run.data.metrics) if run is not None else {},
            eval_dataset=eval_dataset,
            card=_card(rm, v, run_id),
            fetch=fetch,
            deprecated="Archived in MLflow" if stage == "Archived" else None,
            notes=tuple(notes),
            source_version=str(number),
        )


def _branch(models: tuple[str, ...], names: dict[str, str]) -> str:
    if not models:
        return "mlgate/import-mlflow"
    picked = sorted(names.get(m, "") for m in models)
    if len(picked) == 1 and picked[0]:
        return f"mlgate/import-mlflow-{picked[0]}"
    import hashlib

    return f"mlgate/import-mlflow-{hashlib.sha256(chr(0).join(sorted(models)).encode()).hexdigest()[:10]}"


def import_mlflow(
    repo_path: str,
    *,
    tracking_uri: str,
    registry_uri: str | None = None,
    models: Iterable[str] = (),
    store: str,
    author: str,
    base: str = "main",
    forge: Forge | None = None,
    open_pr: bool = True,
) -> ImportResult:
    """Import the MLflow registry at ``tracking_uri`` (or ``registry_uri``) into the registry at ``repo_path``.

    :class:`InputError` (exit 2) when MLflow cannot be read at all; everything that cannot be carried over
    for one model or version is a note in the result (``result.ok`` is false when something failed).
    """
    from mlgate.interop.importers.report import import_markdown

    if not store:
        raise UsageError("an import copies artifacts: pass --store URI (a folder or an fsspec URL)")
    wanted = tuple(dict.fromkeys(models))
    src = _Source(tracking_uri, registry_uri)
    registered = src.registered_models(wanted)
    names, notes = check_collisions((rm.name, map_name(rm.name)) for rm in registered)

    def source_models(tree: Any) -> Iterator[ModelIn]:
        mapper = _Mapper(src, policy_stages(tree))
        for rm in registered:
            if rm.name in names:
                yield mapper.model(rm, names[rm.name])

    return run_import(
        repo_path,
        SOURCE,
        safe_uri(src.registry_uri),
        source_models,
        store=store,
        author=author,
        base=base,
        forge=forge,
        open_pr=open_pr,
        branch=_branch(wanted, names),
        notes=notes,
        render_body=import_markdown,
    )
