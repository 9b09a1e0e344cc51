"""MLflow's writes as mlgate pull requests: a registration, a promotion (alias or stage), a deprecation (Archived).

Writes are made in a checkout of the registry (the registry URI's own, or ``?repo=PATH``) through
:mod:`mlgate.api` and :mod:`mlgate.change`, exactly as ``mlgate register``/``promote``/``deprecate`` make them.
The forge is ``?forge=`` or ``$MLGATE_FORGE`` (default local; ``none`` pushes a branch without a pull request),
the acting user ``?user=`` or the usual ``$MLGATE_USER``/git config ``mlgate.user``/the forge's account, the
target branch ``?base=`` or the repository's default branch.

What a registration needs beyond MLflow's own arguments is read from the version's tags, then the run's tags:

==========================================  ======================================================================
``mlgate.git_sha``, ``mlgate.code_repo``     the training code (default: MLflow's ``mlflow.source.git.commit`` and
                                             ``mlflow.source.git.repoURL`` run tags)
``mlgate.dataset_uri``,                      the training data snapshot
``mlgate.dataset_sha256``
``mlgate.eval_dataset``,                     the data set the run's metrics were measured on (the metrics become
``mlgate.eval_dataset_sha256``               eval.yaml)
``mlgate.card``                              the model card as Markdown (or ``card.md`` in the model's folder, or
                                             ``card.md`` logged to the run)
``mlgate.model_description``,                a new model's description and owners (default: the description given
``mlgate.owners``                            to ``create_registered_model``, and the acting user)
==========================================  ======================================================================

Evidence files the policy's gates ask for are the run's artifacts under ``evidence/``: ``evidence/bias-audit.md``
is ``bias_audit`` (``mlflow.log_text(text, "evidence/bias-audit.md")``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

import mlgate.api
from mlgate.change.evidence import missing_options
from mlgate.change.identity import acting_login
from mlgate.core import layout
from mlgate.forge import Forge, open_forge
from mlgate.infra.defaults import default_branch
from mlgate.interop.mlflow.entities import as_mlflow, refused
from mlgate.interop.mlflow.uri import RegistryURI

_logger = logging.getLogger("mlgate.mlflow")

PREFIX = "mlgate."
#: version or run tags that give a registration's inputs (consumed, never recorded as the version's tags)
INPUT_TAGS = (
    "mlgate.git_sha",
    "mlgate.code_repo",
    "mlgate.dataset_uri",
    "mlgate.dataset_sha256",
    "mlgate.eval_dataset",
    "mlgate.eval_dataset_sha256",
    "mlgate.card",
    "mlgate.model_description",
    "mlgate.owners",
)
#: what each missing input of ``mlgate register`` is, for an MLflow user (by the option's first word)
_HINTS = {
    "--run-id": "a run id (register runs:/RUN_ID/PATH or a model logged in a run)",
    "--git-sha": "tag mlgate.git_sha (or train from a git checkout: MLflow records mlflow.source.git.commit)",
    "--code-repo": "tag mlgate.code_repo (or train from a git checkout with a remote: mlflow.source.git.repoURL)",
    "--dataset-uri": "tag mlgate.dataset_uri (where the training data snapshot is)",
    "--dataset-sha256": "tag mlgate.dataset_sha256 (the training data's sha256)",
    "--eval": "metrics logged to the run (mlflow.log_metric)",
    "--eval-dataset": "tag mlgate.eval_dataset (the name of the data set the metrics were measured on)",
    "--eval-dataset-sha256": "tag mlgate.eval_dataset_sha256",
    "--card": "a model card: tag mlgate.card, card.md in the model's folder, or card.md logged to the run",
    "--model-description": "a description of the new model (create_registered_model(name, description=...) "
    "or tag mlgate.model_description)",
    "at": "tag mlgate.owners",
}
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}\Z")
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}\Z")


@dataclass(frozen=True)
class Opened:
    """A pull request a write opened (``number``/``url`` None with ``forge=none``: a branch only)."""

    number: int | None
    url: str | None
    branch: str
    version: int | None
    report: str | None = None
    run_id: str | None = None

    @property
    def where(self) -> str:
        return f"pull request #{self.number} ({self.url})" if self.number is not None else f"branch {self.branch}"


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class Writer:
    """The write side of one registry URI."""

    def __init__(self, parsed: RegistryURI, tracking_uri: str | None) -> None:
        self.parsed = parsed
        self.tracking_uri = tracking_uri

    # --- where and who ---------------------------------------------------------------------------------------

    def repo(self, what: str) -> str:
        checkout = self.parsed.checkout
        if checkout is None:
            raise refused(
                what,
                f"The registry URI reads a {self.parsed.kind} source, which has no checkout to open pull requests "
                "from: add ?repo=PATH (a clone of the registry repository) to the registry URI.",
            )
        return checkout

    def forge(self, repo: str) -> Forge | None:
        kind = self.parsed.options.get("forge") or os.environ.get("MLGATE_FORGE") or "local"
        if kind == "none":
            return None
        with as_mlflow("the forge"):
            return open_forge(
                kind,
                repo,
                github_url=self.parsed.options.get("github_url"),
                github_repo=self.parsed.options.get("github_repo"),
            )

    def _context(self, what: str) -> tuple[str, Forge | None, str, str]:
        repo = self.repo(what)
        forge = self.forge(repo)
        with as_mlflow(what):
            author = acting_login(repo, self.parsed.options.get("user"), forge=forge)
            base = self.parsed.base or default_branch(repo)
        return repo, forge, author, base

    # --- registration ----------------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None,
        tags: Mapping[str, str],
        description: str | None,
        local_model_path: str | None,
        model_id: str | None,
        new_model: Mapping[str, Any] | None,
    ) -> tuple[Opened, dict[str, str]]:
        """Open the registration of ``source`` as the next version of ``name``; returns it and the tags recorded.

        ``new_model``: None when the model exists, else what ``create_registered_model`` was given (may be {}).
        """
        problem = layout.name_problem(name)
        if problem:
            raise MlflowException(f"{name!r} is not a valid mlgate model name: {problem}", INVALID_PARAMETER_VALUE)
        repo, forge, author, base = self._context(f"registering a version of {name!r}")
        store = self.parsed.options.get("store") or os.environ.get("MLGATE_STORE")
        if not store:
            raise MlflowException(
                f"registering a version of {name!r} needs an artifact store to copy the model into: add "
                "?store=URI to the registry URI (a folder, file:// or any fsspec URL) or set MLGATE_STORE",
                INVALID_PARAMETER_VALUE,
            )
        run_id = run_id or self._logged_model_run(model_id)
        run = self._run(run_id)
        run_tags: dict[str, str] = dict(run.data.tags) if run is not None else {}

        def given(key: str, *fallbacks: str) -> str | None:
            for where in (tags, run_tags):
                for k in (key, *fallbacks):
                    if where.get(k):
                        return where[k]
            return None

        with tempfile.TemporaryDirectory(prefix="mlgate-register-") as tmp:
            folder = self._folder(source, local_model_path, Path(tmp) / "model")
            card = given("mlgate.card") or self._card(folder, run_id, Path(tmp))
            git_sha = given("mlgate.git_sha", "mlflow.source.git.commit")
            code_repo = given("mlgate.code_repo", "mlflow.source.git.repoURL")
            training = {"uri": given("mlgate.dataset_uri") or "", "sha256": given("mlgate.dataset_sha256") or ""}
            lineage = {"run_id": run_id, "git_sha": git_sha, "code_repo": code_repo, "dataset": training}
            metrics = dict(run.data.metrics) if run is not None else {}
            dataset = {"name": given("mlgate.eval_dataset"), "sha256": given("mlgate.eval_dataset_sha256")}
            model_description = owners = None
            if new_model is not None:
                model_description = new_model.get("description") or given("mlgate.model_description")
                listed = new_model.get("tags", {}).get("mlgate.owners") or given("mlgate.owners")
                owners = [o.strip() for o in listed.split(",") if o.strip()] if listed else [author]
            missing = missing_options(
                lineage=lineage,
                new_model=new_model is not None,
                model_description=model_description,
                owners=owners or [],
                eval_file=None,
                metrics=metrics,
                dataset=dataset,
                card=card,
            )
            if missing:
                wanted = [_HINTS.get(m.split()[0], m) for m in missing]
                raise MlflowException(
                    f"cannot register {name!r} in the mlgate registry: missing {'; '.join(wanted)}. Set the tags on "
                    "the run (mlflow.set_tags) or pass them as register_model(..., tags={...}).",
                    INVALID_PARAMETER_VALUE,
                )
            recorded = self._tags(tags, model_id)
            evidence = self._evidence(run_id, Path(tmp) / "evidence")
            params = {k: _number(v) for k, v in (run.data.params.items() if run else ()) if _PARAM_KEY.match(k)}
            with as_mlflow(f"registering a version of {name!r}"):
                pr = mlgate.api.register(
                    name,
                    artifact=folder,
                    metrics=metrics,
                    eval_dataset=dataset,
                    card_text=card,
                    evidence=evidence or None,
                    run_id=run_id,
                    git_sha=git_sha,
                    code_repo=code_repo,
                    training_data=training,
                    params=params or None,
                    description=description or None,
                    model_description=model_description,
                    owners=owners or (),
                    tags=recorded or None,
                    store=store,
                    repo=repo,
                    forge=forge,
                    author=author,
                    base=base,
                )
        return Opened(pr.number, pr.url, pr.branch, pr.version, run_id=run_id), recorded

    def _logged_model_run(self, model_id: str | None) -> str | None:
        """The run a logged model (``models:/m-...``, what ``log_model`` registers) was logged in."""
        if not model_id:
            return None
        from mlflow.tracking import MlflowClient

        run_id: str | None = MlflowClient(tracking_uri=self.tracking_uri).get_logged_model(model_id).source_run_id
        return run_id

    def _run(self, run_id: str | None) -> Any:
        if not run_id:
            return None
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri).get_run(run_id)

    def _folder(self, source: str, local_model_path: str | None, into: Path) -> str:
        """The model's files: MLflow's local copy when it has one, else ``source`` downloaded."""
        if local_model_path and os.path.isdir(local_model_path):
            return local_model_path
        from mlflow.artifacts import download_artifacts

        into.mkdir()
        local: str = download_artifacts(artifact_uri=source, dst_path=str(into), tracking_uri=self.tracking_uri)
        return local

    def _card(self, folder: str, run_id: str | None, tmp: Path) -> str | None:
        """card.md in the model's folder, else card.md logged to the run."""
        inside = Path(folder) / "card.md"
        if inside.is_file():
            return inside.read_text(encoding="utf-8")
        if not run_id:
            return None
        from mlflow.artifacts import download_artifacts

        try:
            path = download_artifacts(
                run_id=run_id, artifact_path="card.md", dst_path=str(tmp), tracking_uri=self.tracking_uri
            )
        except (MlflowException, OSError):
            return None  # the run logged no card: the missing card is reported with the other inputs
        return Path(path).read_text(encoding="utf-8")

    def _evidence(self, run_id: str | None, into: Path) -> dict[str, str]:
        """The evidence files the run logged under ``evidence/`` (``evidence/bias-audit.md`` is the policy's
        ``bias_audit``), downloaded."""
        if not run_id:
            return {}
        from mlflow.artifacts import download_artifacts
        from mlflow.tracking import MlflowClient

        found = {}
        for info in MlflowClient(tracking_uri=self.tracking_uri).list_artifacts(run_id, "evidence"):
            if info.is_dir:
                continue
            into.mkdir(parents=True, exist_ok=True)
            local = download_artifacts(
                run_id=run_id, artifact_path=info.path, dst_path=str(into), tracking_uri=self.tracking_uri
            )
            found[Path(info.path).stem.replace("-", "_")] = local
        return found

    @staticmethod
    def _tags(tags: Mapping[str, str], model_id: str | None) -> dict[str, str]:
        """The version's tags as version.yaml records them (the input tags taken out); refused when mlgate cannot
        record one as given, rather than dropped."""
        recorded = {k: v for k, v in tags.items() if k not in INPUT_TAGS}
        if model_id:
            recorded["mlflow.model_id"] = model_id
        for key, value in recorded.items():
            if not _TAG_KEY.match(key) or len(str(value)) > 256:
                raise MlflowException(
                    f"tag {key!r} cannot be recorded in version.yaml: keys are letters, digits and . _ / - (at "
                    "most 63, starting with a letter or digit) and values at most 256 characters",
                    INVALID_PARAMETER_VALUE,
                )
        if len(recorded) > 64:
            raise MlflowException("a version holds at most 64 tags", INVALID_PARAMETER_VALUE)
        return recorded

    # --- promotion and deprecation -----------------------------------------------------------------------------

    def promote(self, name: str, version: int, alias: str) -> Opened:
        what = f"pointing alias {alias!r} of {name!r} at version {version}"
        repo, forge, author, base = self._context(what)
        with as_mlflow(what):
            pr = mlgate.api.promote(name, version, alias, repo=repo, forge=forge, author=author, base=base)
        opened = Opened(pr.number, pr.url, pr.branch, pr.version, pr.report)
        _logger.warning(
            "mlgate: opened %s to point alias %r of %r at version %s; the alias moves when it is approved and merged%s",
            opened.where,
            alias,
            name,
            version,
            _waiting(pr.report),
        )
        return opened

    def deprecate(self, name: str, version: int) -> Opened:
        from mlgate.change.deprecation import deprecate

        what = f"archiving version {version} of {name!r}"
        repo, forge, author, base = self._context(what)
        with as_mlflow(what):
            proposal = deprecate(
                repo,
                name,
                version,
                reason=f"archived through MLflow by {author}",
                author=author,
                base=base,
                forge=forge,
                open_pr=forge is not None,
            )
        pr = proposal.pr
        opened = Opened(None if pr is None else pr.number, None if pr is None else pr.url, proposal.branch, version)
        _logger.warning(
            "mlgate: opened %s to deprecate version %s of %r (MLflow's Archived); it is archived once merged",
            opened.where,
            version,
            name,
        )
        return opened


def _waiting(report: str | None) -> str:
    """What the gate still waits for, from the gate report (its pending and failing lines)."""
    if not report:
        return ""
    lines = [ln.strip(" |-*") for ln in report.splitlines() if ":hourglass:" in ln or ":x:" in ln]
    lines = [re.sub(r":[a-z_]+:", "", ln).strip() for ln in lines if ln]
    return f"; waiting for: {'; '.join(lines[:5])}" if lines else ""
