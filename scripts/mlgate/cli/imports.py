"""``mlgate import mlflow|gto``: migrate an existing registry into this one, as one pull request.

Thin, like the rest of the CLI: parse, call :mod:`mlgate.interop.importers`, render, exit 0 (everything
imported), 1 (something could not be: listed) or 2 (the source cannot be read, bad usage).
"""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _command_forge, _out, _whoami, cli
from mlgate.cli.pr import _proposal_options
from mlgate.errors import EXIT_CHECK_FAILED, EXIT_OK

_store_option = click.option(
    "--store",
    required=True,
    metavar="URI",
    help="Required. The artifact store the artifacts are copied to, content-addressed (a folder or an fsspec "
    "URL such as s3://bucket/models).",
)


@cli.group("import")
def import_group() -> None:
    """Migrate an MLflow model registry or a GTO repository into this registry, as one pull request.

    Versions keep their numbers (MLflow) or are numbered in version order (GTO); artifacts are copied to
    --store with their sha256; stages become aliases. A re-run imports only what is new. Everything that
    has no home in mlgate is listed, never dropped: exit 1 when something could not be imported.

    \b
    Examples:
      mlgate import mlflow --tracking-uri sqlite:///mlflow.db --store s3://acme-models
      mlgate import gto --store ./store --stage prod=champion   # GTO tags of this repository
    """


def _render(result: object, as_json: bool) -> int:
    from mlgate.interop.importers.common import ImportResult
    from mlgate.interop.importers.report import import_dict, import_text
    from mlgate.render.report import to_json

    assert isinstance(result, ImportResult)
    _out(to_json(import_dict(result)) if as_json else import_text(result))
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED


@import_group.command("mlflow")
@click.option(
    "--tracking-uri",
    required=True,
    envvar="MLFLOW_TRACKING_URI",
    metavar="URI",
    help="Required. The MLflow tracking server or database (http://..., sqlite:///mlflow.db). Default: "
    "$MLFLOW_TRACKING_URI.",
)
@click.option(
    "--registry-uri",
    envvar="MLFLOW_REGISTRY_URI",
    metavar="URI",
    help="The MLflow model registry, when it is not the tracking URI. Default: $MLFLOW_REGISTRY_URI.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="NAME",
    help="Import only this registered model (MLflow's name, case-sensitive). Repeatable. Default: all.",
)
@_store_option
@_proposal_options
@click.pass_obj
def import_mlflow(
    obj: Context,
    tracking_uri: str,
    registry_uri: str | None,
    models: tuple[str, ...],
    store: str,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Import an MLflow model registry: models, versions, tags, descriptions, aliases and stages, with the
    source runs' params and metrics as lineage and eval.yaml, and the model artifacts copied to --store.

    Model names become mlgate names (`Fraud Model` -> `fraud-model`, each renaming listed); stages become
    aliases through the policy's `stages:` (default Production: champion, Staging: challenger); Archived
    deprecates the version. Needs `pip install 'mlgate[mlflow]'` (the full `mlflow` package for a
    sqlite:// or database URI).

    \b
    Examples:
      mlgate import mlflow --tracking-uri http://mlflow.internal:5000 --store s3://acme-models
      mlgate import mlflow --tracking-uri sqlite:///mlflow.db --model "Fraud Model" --store ./store --no-pr
    """
    from mlgate.interop.importers.mlflow import import_mlflow as run

    result = run(
        obj.repo,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        models=models,
        store=store,
        author=_whoami(obj, login),
        base=base,
        forge=_command_forge(obj),
        open_pr=open_pr,
    )
    return _render(result, as_json)


def _stage_pairs(values: tuple[str, ...]) -> dict[str, str]:
    from mlgate.errors import UsageError

    out: dict[str, str] = {}
    for item in values:
        stage, sep, alias = item.partition("=")
        if not sep or not stage or not alias:
            raise UsageError(f"--stage {item!r}: expected STAGE=ALIAS (prod=champion)")
        out[stage] = alias
    return out


@import_group.command("gto")
@click.argument("path", default=".", metavar="[PATH]")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    metavar="STAGE=ALIAS",
    help="The alias a GTO stage becomes (prod=champion). Repeatable. Default: the policy's stages: mapping "
    "read without case (production, and prod, -> champion; staging -> challenger), else the stage's own name.",
)
@_store_option
@_proposal_options
@click.pass_obj
def import_gto(
    obj: Context,
    path: str,
    stages: tuple[str, ...],
    store: str,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Import a GTO repository (default: this one): its annotated tags NAME@vX.Y.Z (registrations) and
    NAME#STAGE (stage assignments), with the artifact at each registration's commit (the path in its
    artifacts.yaml) copied to --store.

    GTO versions are numbered 1, 2, ... in semantic-version order (the GTO version is kept in the version's
    tags, the mapping listed); deregistered versions are skipped; stages become aliases; the report shows
    who assigned which stage, when.

    \b
    Example:
      mlgate import gto . --store ./store --stage prod=champion   # no GTO tags here: nothing to import
    """
    from mlgate.interop.importers.gto import import_gto as run

    result = run(
        obj.repo,
        path=path,
        stages=_stage_pairs(stages),
        store=store,
        author=_whoami(obj, login),
        base=base,
        forge=_command_forge(obj),
        open_pr=open_pr,
    )
    return _render(result, as_json)
