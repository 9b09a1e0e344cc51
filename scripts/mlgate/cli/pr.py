"""The pull-request commands of the CLI: register, promote, rollback, review, merge, init.

Thin, like the rest of the CLI: parse, call :mod:`mlgate.propose`, render.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from mlgate.cli.app import Context, _as_option, _command_forge, _echo, _forge_options, _out, _whoami, cli
from mlgate.errors import EXIT_OK, UsageError


def _default_base(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    if value is not None:
        return value
    from mlgate.infra.defaults import default_branch

    return default_branch(ctx.obj.repo if isinstance(ctx.obj, Context) else ".")


_base_option = click.option(
    "--base",
    metavar="BRANCH",
    callback=_default_base,
    help="The registry's target branch, which the pull request merges into. Default: the repository's default "
    "branch (git config mlgate.base, which init records, else origin/HEAD, else main).",
)
_pr_option = click.option(
    "--pr/--no-pr", "open_pr", default=True, show_default=True, help="Open a pull request, or only create the branch."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _proposal_options(f: Any) -> Any:
    """The options every command that opens a pull request shares."""
    for option in (_json_option, _as_option, _forge_options("local"), _pr_option, _base_option):
        f = option(f)
    return f


def _pairs(values: tuple[str, ...], option: str, parse: bool = False) -> dict[str, Any]:
    from mlgate.infra.yamlio import scalar

    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} {item!r}: expected NAME=VALUE")
        out[key] = scalar(value) if parse else value
    return out


def _show(proposal: Any, as_json: bool) -> None:
    from mlgate.render.report import to_json

    pr = proposal.pr
    if as_json:
        _out(
            to_json(
                {
                    "kind": proposal.kind,
                    "branch": proposal.branch,
                    "base": proposal.base,
                    "commit": proposal.commit,
                    "title": proposal.title,
                    "version": proposal.version,
                    "reused": proposal.reused,
                    "replaced": proposal.replaced,
                    "pull_request_updated": proposal.updated_pr,
                    "pull_request": None if pr is None else {"number": pr.number, "url": pr.url},
                    "gate": proposal.gate.to_dict() if proposal.gate else None,
                }
            )
        )
        return
    if proposal.gate is not None:
        from mlgate.render.report import gate_text

        _out(gate_text(proposal.gate, color=sys.stdout.isatty()) + "\n")
    if proposal.replaced and not proposal.stale:
        what = f"updated branch {proposal.branch}: {proposal.replaced[:12]} -> {proposal.commit[:12]}"
        _echo(f"{proposal.title}: {what} on top of {proposal.base} (this run's change replaces the earlier run's)")
    else:
        _echo(
            f"{proposal.title}: branch {proposal.branch} ({proposal.commit[:12]}) on top of {proposal.base}"
            + (" (left by an earlier identical run, taken over)" if proposal.reused else "")
            + (f" (replaces {proposal.replaced[:12]}, already merged)" if proposal.stale and proposal.replaced else "")
        )
    if pr is not None:
        if proposal.updated_pr:
            _echo(f"updated pull request #{pr.number}: {pr.url} (its head moved: earlier approvals no longer count)")
        else:
            _echo(f"pull request #{pr.number}: {pr.url}")


def _gated(propose: Any, as_json: bool) -> int:
    """Run a gated proposal (promote, rollback); when its gate refuses, print the gate table, then the error."""
    from mlgate.errors import GateFailed
    from mlgate.render.report import gate_text

    try:
        proposal = propose()
    except GateFailed as e:
        _out(gate_text(e.change, color=sys.stdout.isatty()) + "\n")
        raise
    _show(proposal, as_json)
    return EXIT_OK


def _local_forge(obj: Context) -> Any:
    from mlgate.forge.local import LocalForge

    return LocalForge(obj.repo)


@cli.command()
@click.argument("model")
@click.option(
    "--artifact",
    required=True,
    metavar="PATH|URI",
    help="The model file, or a folder (stored as a deterministic tar: needs --store), or a remote URI "
    "with --sha256/--size/--format.",
)
@click.option(
    "--eval",
    "eval_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Evaluation result YAML: dataset {name, sha256}, metrics {name: number}, optional slices. "
    "Or, instead, --metric with --eval-dataset.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME=NUMBER",
    help="A metric on the eval data set (auc=0.93); mlgate writes eval.yaml. Repeatable. Not with --eval.",
)
@click.option(
    "--eval-dataset",
    "--dataset-name",
    "eval_dataset_name",
    metavar="NAME",
    help="With --metric: the eval data set's name (holdout).",
)
@click.option(
    "--eval-dataset-sha256",
    metavar="DIGEST",
    help="With --metric: the eval data set's sha256 (or --eval-dataset-file).",
)
@click.option(
    "--eval-dataset-file",
    metavar="PATH",
    type=click.Path(exists=True),
    help="With --metric: the eval data set's file or folder, digested by mlgate.",
)
@click.option("--eval-dataset-uri", metavar="URI", help="With --metric: where the eval data set is (optional).")
@click.option(
    "--card",
    "card_file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Required. The model card (Markdown); `mlgate new card` writes one with the sections the policy requires.",
)
@click.option(
    "--evidence",
    multiple=True,
    metavar="NAME=FILE",
    help="Extra evidence the policy may require, e.g. bias_audit=audit.md. Repeatable.",
)
@click.option("--description", metavar="TEXT", help="What changed in this version.")
@click.option("--run-id", metavar="ID", help="Required. The training run's id.")
@click.option(
    "--lineage",
    "lineage_from",
    metavar="auto|PATH",
    help="Fill --git-sha and --code-repo from the training code's git checkout: 'auto' is the current folder's "
    "(HEAD, and origin's URL without credentials); warns if it has uncommitted changes.",
)
@click.option(
    "--git-sha", metavar="SHA", help="Required (or --lineage). The training code's commit (40 hex characters)."
)
@click.option("--code-repo", metavar="URL", help="Required (or --lineage). Where the training code lives.")
@click.option("--dataset-uri", metavar="URI", help="Required. The training data snapshot.")
@click.option("--dataset-sha256", metavar="DIGEST", help="Required. Digest of the training data snapshot.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A training hyper-parameter. Repeatable.")
@click.option(
    "--env", "environment", multiple=True, metavar="NAME=VERSION", help="A runtime version (python=3.11). Repeatable."
)
@click.option(
    "--sha256",
    "artifact_sha256",
    metavar="DIGEST",
    help="The artifact's sha256 (required for a remote URI; checked for a local file).",
)
@click.option(
    "--size",
    "artifact_size",
    type=click.IntRange(min=0),
    metavar="BYTES",
    help="The artifact's size (for a remote URI).",
)
@click.option(
    "--format",
    "artifact_format",
    metavar="NAME",
    help="Artifact format (onnx, mlflow, safetensors...); default from the file suffix.",
)
@click.option(
    "--store",
    metavar="URI",
    help="Copy the artifact into this content-addressed store (any fsspec URL or a folder); needed for a folder.",
)
@click.option("--model-description", metavar="TEXT", help="Required for a new model: what it does.")
@click.option(
    "--owner",
    "owners",
    multiple=True,
    metavar="LOGIN|@ORG/TEAM",
    help="Required for a new model: an owner. Repeatable.",
)
@_proposal_options
@click.pass_obj
def register(
    obj: Context,
    model: str,
    artifact: str,
    eval_file: str | None,
    metrics: tuple[str, ...],
    eval_dataset_name: str | None,
    eval_dataset_sha256: str | None,
    eval_dataset_file: str | None,
    eval_dataset_uri: str | None,
    card_file: str | None,
    evidence: tuple[str, ...],
    description: str | None,
    run_id: str | None,
    lineage_from: str | None,
    git_sha: str | None,
    code_repo: str | None,
    dataset_uri: str | None,
    dataset_sha256: str | None,
    params: tuple[str, ...],
    environment: tuple[str, ...],
    artifact_sha256: str | None,
    artifact_size: int | None,
    artifact_format: str | None,
    store: str | None,
    model_description: str | None,
    owners: tuple[str, ...],
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Register a new version of a model and open its pull request.

    Allocates the next version number, writes the version folder (version.yaml,
    eval.yaml, card.md, evidence) in a commit on a new branch, checks it with
    the validator, pushes it when there is a remote and opens a pull request.
    Nothing is left behind if a step fails.

    Required: --artifact, --card, the evaluation (--eval FILE, or --metric with
    --eval-dataset and its digest), and the lineage (--run-id, --git-sha and
    --code-repo or --lineage auto, --dataset-uri, --dataset-sha256); for a new
    model also --model-description and --owner. Whatever is missing is named in
    one error. A warning (on stderr) names each card section or evidence file
    the base policy's gates require and this version lacks: fix them before the
    pull request is merged, as a merged version is immutable.

    \b
    Examples:
      mlgate register fraud-detector --artifact model.onnx --card card.md \\
        --metric auc=0.93 --metric latency_p99_ms=31 \\
        --eval-dataset holdout --eval-dataset-file holdout.parquet \\
        --evidence bias_audit=audit.md --run-id run-42 --lineage auto \\
        --dataset-uri s3://acme-data/train.parquet --dataset-sha256 $(sha256sum train.parquet | cut -d' ' -f1)
      mlgate register search-ranker --artifact model.onnx --eval eval.yaml --card card.md \\
        --run-id run-43 --git-sha $(git rev-parse HEAD) --code-repo https://github.com/acme/ranking \\
        --dataset-uri s3://acme-data/clicks.parquet --dataset-sha256 $(sha256sum clicks.parquet | cut -d' ' -f1)
    """
    from mlgate.change.propose import register as do_register
    from mlgate.cli.app import progress_bar

    lineage: dict[str, Any] = {"run_id": run_id, "git_sha": git_sha, "code_repo": code_repo}
    if dataset_uri or dataset_sha256:
        lineage["dataset"] = {k: v for k, v in {"uri": dataset_uri, "sha256": dataset_sha256}.items() if v}
    lineage["params"] = _pairs(params, "--param", parse=True)
    lineage["environment"] = _pairs(environment, "--env")
    dataset = {
        k: v
        for k, v in {
            "name": eval_dataset_name,
            "sha256": eval_dataset_sha256,
            "file": eval_dataset_file,
            "uri": eval_dataset_uri,
        }.items()
        if v
    }
    bar = progress_bar("uploading")
    try:
        proposal = do_register(
            obj.repo,
            model,
            progress=bar,
            artifact=artifact,
            eval_file=eval_file,
            metrics=_metrics(metrics),
            eval_dataset=dataset or None,
            card_file=card_file,
            author=_whoami(obj, login),
            evidence=_pairs(evidence, "--evidence"),
            lineage=lineage,
            lineage_from=None if lineage_from is None else "." if lineage_from == "auto" else lineage_from,
            artifact_sha256=artifact_sha256,
            artifact_size=artifact_size,
            artifact_format=artifact_format,
            store=store,
            description=description,
            model_description=model_description,
            owners=owners,
            base=base,
            forge=_command_forge(obj),  # its --forge options; None with --no-pr
            open_pr=open_pr,
        )
    finally:
        bar.close()
    # printed with the result, not as they come: a run that fails says only why it failed
    for warning in proposal.warnings:
        _echo(f"mlgate: warning: {warning}", err=True)
    _show(proposal, as_json)
    return EXIT_OK


def _metrics(values: tuple[str, ...]) -> dict[str, float] | None:
    """``--metric NAME=NUMBER`` options as numbers, or None when there are none."""
    out: dict[str, float] = {}
    for item in values:
        key, _, text = item.partition("=")
        try:
            out[key] = int(text) if text.strip().lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise UsageError(f"--metric {item!r}: expected NAME=NUMBER, e.g. auc=0.93") from None
        if not key:
            raise UsageError(f"--metric {item!r}: expected NAME=NUMBER, e.g. auc=0.93")
    return out or None


@cli.command()
@click.argument("model", metavar="MODEL/VERSION|MODEL@ALIAS")
@click.argument("version", required=False, metavar="[VERSION]")
@click.option("--alias", required=True, metavar="ALIAS", help="The alias to move (champion, challenger...).")
@click.option("--note", metavar="TEXT", help="Why; kept in the alias file and shown in history.")
@click.option("--force", is_flag=True, help="Open the pull request even though a gate already fails (for discussion).")
@_proposal_options
@click.pass_obj
def promote(
    obj: Context,
    model: str,
    version: str | None,
    alias: str,
    note: str | None,
    force: bool,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Point an alias at a version by pull request; its description is the gate report.

    Evaluates the gate first (candidate vs the current holder, as on the base
    branch) and refuses if a gate other than approvals already fails.

    \b
    Examples:
      mlgate promote fraud-detector/3 --alias champion --note "Wins the Q3 shadow run"
      mlgate promote search-ranker@challenger --alias champion   # the version challenger holds on the base
      mlgate promote churn-predictor 4 --alias champion --force   # its gate fails: opened for discussion
    """
    from mlgate.change.propose import promote as do_promote
    from mlgate.registry.names import promoted_version

    model, number = promoted_version(obj.repo, base, model, then=version)
    return _gated(
        lambda: do_promote(
            obj.repo,
            model,
            number,
            alias,
            author=_whoami(obj, login),
            note=note,
            base=base,
            forge=_command_forge(obj),  # its --forge options; None with --no-pr
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@cli.command()
@click.argument("model", metavar="MODEL@ALIAS|MODEL")
@click.option("--alias", metavar="ALIAS", help="The alias to roll back (or write MODEL@ALIAS).")
@click.option(
    "--to",
    "to",
    type=click.IntRange(min=1),
    metavar="VERSION",
    help="Point the alias at this version instead of reverting its last change.",
)
@click.option("--force", is_flag=True, help="Open the pull request even though a gate already fails (for discussion).")
@_proposal_options
@click.pass_obj
def rollback(
    obj: Context,
    model: str,
    alias: str | None,
    to: int | None,
    force: bool,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Roll an alias back by pull request: a revert of its last change on the base branch.

    The pull request carries git's revert message ("This reverts commit
    <sha>."), or with --to the commit where the alias last held that version
    ("Mlgate-Rollback-Held-At: <sha>"): the proof the validator checks to judge
    it by the policy's lighter rollback gate (a version the alias never held
    takes the full gate). Like promote, it evaluates the gate first and refuses (exit
    1, with the gate table) if a gate other than approvals already fails, for
    instance when the target version was deprecated since; --force opens the
    pull request anyway (but a deprecated target never passes validation: exit 2).

    \b
    Examples:
      mlgate rollback fraud-detector@champion
      mlgate rollback churn-predictor --alias challenger --to 3   # point it at an earlier version
      mlgate rollback churn-predictor@champion --to 1   # v1 was deprecated: refused, exit 1
    """
    from mlgate.change.propose import rollback as do_rollback
    from mlgate.core.uris import with_alias

    target = with_alias(model, alias)
    return _gated(
        lambda: do_rollback(
            obj.repo,
            target.model,
            str(target.alias),
            author=_whoami(obj, login),
            to=to,
            base=base,
            forge=_command_forge(obj),  # its --forge options; None with --no-pr
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@cli.command()
@click.argument("pr", metavar="PR")
@click.option("--approve", "state", flag_value="APPROVED", help="Approve the pull request's current head commit.")
@click.option("--request-changes", "state", flag_value="CHANGES_REQUESTED", help="Request changes.")
@click.option("--comment", "state", flag_value="COMMENTED", help="Comment without approving or requesting changes.")
@_as_option
@click.pass_obj
def review(obj: Context, pr: str, state: str | None, login: str | None) -> int:
    """Review a pull request of the local forge (on GitHub, review in its web UI).

    \b
    Example:
      mlgate review 4 --approve --as carol
    """
    from mlgate.change.propose import pr_number

    if state is None:
        raise UsageError("say what the review is: --approve, --request-changes or --comment")
    number = pr_number(pr)
    r = _local_forge(obj).review(number, _whoami(obj, login), state)
    _echo(f"#{number}: {r.user} {r.state.lower().replace('_', ' ')} on {r.commit[:12]}")
    return EXIT_OK


@cli.command()
@click.argument("pr", metavar="PR")
@_as_option
@click.pass_obj
def merge(obj: Context, pr: str, login: str | None) -> int:
    """Merge a pull request of the local forge, if mlgate validate passes on it.

    Like a required check on GitHub: the merge result is validated against the
    current base branch with the pull request's reviews, and refused otherwise.
    The merged branch is then deleted (here, and on origin if it was pushed).

    \b
    Example:
      mlgate merge 4 --as carol
    """
    from mlgate.change.propose import merge as do_merge
    from mlgate.change.propose import pr_number
    from mlgate.errors import MergeRefused
    from mlgate.render.report import report_text

    number = pr_number(pr)
    try:
        merged = do_merge(obj.repo, _local_forge(obj), number, _whoami(obj, login))
    except MergeRefused as e:
        _out(report_text(e.report, color=sys.stdout.isatty()))
        raise
    _echo(f"merged #{number} as {merged.commit[:12]}")
    if merged.deleted:
        _echo(f"deleted branch {merged.branch} ({' and '.join(merged.deleted)})")
    return EXIT_OK


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option(
    "--admin",
    "admins",
    multiple=True,
    metavar="LOGIN|@ORG/TEAM",
    help="Who approves policy changes and owns .github/. Repeatable. Default: @OWNER/ml-platform (edit it).",
)
@click.option(
    "--reviewer",
    "reviewers",
    multiple=True,
    metavar="LOGIN|@ORG/TEAM",
    help="Who signs off promotions to champion (and rollbacks of it). Repeatable. Default: the admins.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME:BOUND=N[,...]",
    help="A metric bound of the champion gate: min= (higher is better), max= (lower is better), "
    "no_regression= (how far below the current champion it may be). Repeatable. "
    "Default: none, with a commented example in the policy.",
)
@click.option(
    "--git-init",
    is_flag=True,
    help="Run `git init` when DIRECTORY is not a git repository (asked on a terminal; required in scripts).",
)
@click.option(
    "--mlgate-requirement",
    "requirement",
    metavar="SPEC",
    help="The mlgate the workflows install, as one immutable pip requirement: "
    "'mlgate @ git+https://HOST/OWNER/mlgate@FULL_COMMIT' or 'mlgate==VERSION --hash=sha256:DIGEST' "
    "(or an https:// archive URL with --hash). Default: the running mlgate, pinned the way it was "
    "installed (a git commit, or an archive with its recorded sha256); init refuses when it cannot.",
)
def init(
    directory: str,
    admins: tuple[str, ...],
    reviewers: tuple[str, ...],
    metrics: tuple[str, ...],
    git_init: bool,
    requirement: str | None,
) -> int:
    """Set up mlgate in a repository: registry/, policy, workflows, CODEOWNERS, PR template.

    In a folder that is not a git repository, init runs `git init` (on git's
    init.defaultBranch, else main) when you pass --git-init or say yes on a
    terminal. The registry's branch is the repository's default (origin/HEAD,
    else the current branch, recorded as git config mlgate.base): pull requests
    of register and promote merge into it. In a repository with no commit yet,
    the set-up is the first commit; otherwise init leaves the files to commit.

    The workflows install the mlgate pinned in .github/mlgate-requirements.txt:
    the running one, pinned by the git commit or the archive hash it was
    installed from, or --mlgate-requirement. An install from a package index
    (no hash on record), an editable or a local folder cannot be pinned: then
    init refuses and says so. Refuses to overwrite anything: if one of the
    files exists, nothing is written.

    \b
    Examples:
      pip install 'mlgate @ git+https://github.com/acme/mlgate@<full commit>'
      mlgate init --admin @acme/ml-platform --reviewer @acme/ml-leads \\
        --metric auc:min=0.8,no_regression=0.01 --metric latency_p99_ms:max=50
      mlgate init new-registry --git-init --admin alice --mlgate-requirement \\
        'mlgate @ git+https://github.com/acme/mlgate@3f2a9c1d0e4b5a69788796a5b4c3d2e1f0a9b8c7'
    """
    from mlgate.change.bootstrap import init_registry, is_repository
    from mlgate.change.starter import parse_metrics

    bounds = parse_metrics(metrics)
    if not git_init and not is_repository(directory) and sys.stdin.isatty():
        git_init = click.confirm(f"{directory} is not a git repository. Run `git init` there?", default=True)
    done = init_registry(
        directory, admins, reviewers, git_init=git_init, requirement=requirement, metrics=bounds or None
    )
    if done.created_repository:
        _echo(f"initialised an empty git repository in {done.root} (branch {done.branch})")
    for path in done.written:
        _echo(f"created {path}")
    if done.recorded_base:
        _echo(f"registry branch: {done.branch} (git config mlgate.base; --base defaults to it)")
    if not bounds:
        _echo("note: the champion gate bounds no metric yet: edit registry/policy.yaml, or init with --metric")
    if done.commit:
        _echo(f"committed the set-up as {done.commit[:12]} on {done.branch}")
    else:
        _echo(f"next: {done.next_step()}")
    click.echo("then: follow the README's 'Setting up GitHub' section and run `mlgate doctor --forge github`")
    return EXIT_OK
