"""``mlgate rollout``: progressive rollouts by pull request (start, step, complete, abort, evidence) and where
one stands (status).

Thin, like the rest of the CLI: parse, call :mod:`mlgate.change.rollout`, render.
"""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _command_forge, _out, _whoami, cli
from mlgate.cli.pr import _base_option, _gated, _json_option, _proposal_options
from mlgate.errors import EXIT_OK, UsageError

_alias_option = click.option(
    "--alias", required=True, metavar="ALIAS", help="The alias being rolled out (champion...)."
)
_note_option = click.option("--note", metavar="TEXT", help="Why; kept in the alias file and shown in history.")
_force_option = click.option(
    "--force", is_flag=True, help="Open the pull request even though a gate already fails (for discussion)."
)
_percent = click.FloatRange(min=0, max=100, min_open=True)


@cli.group()
def rollout() -> None:
    """Roll a version out to an alias step by step, each step a reviewed pull request.

    A rollout lives in the alias file beside `version:` (the holder) as
    `rollout: {candidate, mode, percent}`. Starting one applies the alias's
    offline gate to the candidate; each step up, and the completion, needs the
    online evidence at the current step (online/<alias>/<candidate>.yaml on the
    base) to pass the policy's `rollout.online` gate; a step down or an abort
    uses the rollback gate. Everything is judged with the base branch's policy.

    \b
    Examples:
      mlgate rollout status search-ranker --alias champion
      mlgate rollout status fraud-detector --alias champion --json
    """


@rollout.command()
@click.argument("model")
@click.argument("version", type=click.IntRange(min=1))
@_alias_option
@click.option("--canary", type=_percent, metavar="PERCENT", help="Route this share of requests to the candidate.")
@click.option(
    "--shadow",
    type=float,
    metavar="PERCENT",
    is_flag=False,
    flag_value=-1.0,
    help="Mirror this share of requests to the candidate, which answers none (alone: the policy's first step).",
)
@_note_option
@_force_option
@_proposal_options
@click.pass_obj
def start(
    obj: Context,
    model: str,
    version: int,
    alias: str,
    canary: float | None,
    shadow: float | None,
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
    """Start a canary or a shadow of VERSION on an alias, by pull request.

    The candidate must pass the alias's whole offline gate against the version
    holding it (evidence, metrics, no regression, card, approvals), plus the
    rollout gate's approvals. A canary starts at the policy's first step; a
    shadow answers no request, so it may mirror any share (--shadow alone:
    the first step). A failing gate creates nothing (exit 1) unless --force.

    \b
    Examples:
      mlgate rollout start fraud-detector 3 --alias champion --canary 5
      mlgate rollout start fraud-detector 3 --alias champion --shadow 50 --no-pr
      mlgate rollout start churn-predictor 4 --alias champion --canary 5   # auc regresses: refused, exit 1
    """
    from mlgate.change.rollout import start as do_start

    if (canary is None) == (shadow is None):
        raise UsageError("say how the candidate takes traffic: --canary PERCENT or --shadow [PERCENT]")
    mode, percent = ("canary", canary) if canary is not None else ("shadow", None if shadow == -1.0 else shadow)
    return _gated(
        lambda: do_start(
            obj.repo,
            model,
            version,
            alias,
            mode=mode,
            percent=percent,
            author=_whoami(obj, login),
            note=note,
            base=base,
            forge=_command_forge(obj),
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@rollout.command()
@click.argument("model")
@_alias_option
@click.option("--to", "to", type=_percent, metavar="PERCENT", help="The new share (default: the policy's next step).")
@_note_option
@_force_option
@_proposal_options
@click.pass_obj
def step(
    obj: Context,
    model: str,
    alias: str,
    to: float | None,
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
    """Move a rollout to its next step (or --to PERCENT), by pull request.

    A step up goes only to the policy's next step, and needs the online
    evidence at the current step, merged on the base, to pass the online gate.
    A step down (less traffic to the candidate) is judged by the rollback gate.

    \b
    Examples:
      mlgate rollout step search-ranker --alias champion --to 25
      mlgate rollout step search-ranker --alias champion --to 1 --no-pr   # a step down: the rollback gate
    """
    from mlgate.change.rollout import step as do_step

    return _gated(
        lambda: do_step(
            obj.repo,
            model,
            alias,
            to=to,
            author=_whoami(obj, login),
            note=note,
            base=base,
            forge=_command_forge(obj),
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@rollout.command()
@click.argument("model")
@_alias_option
@_note_option
@_force_option
@_proposal_options
@click.pass_obj
def complete(
    obj: Context,
    model: str,
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
    """Point the alias at the rollout's candidate and end the rollout, by pull request.

    Allowed from the policy's last step only, with passing online evidence
    there (where the policy sets no rollout gate, the alias's own gate judges
    the candidate, as for a promotion).

    \b
    Example:
      mlgate rollout complete search-ranker --alias champion
    """
    from mlgate.change.rollout import complete as do_complete

    return _gated(
        lambda: do_complete(
            obj.repo,
            model,
            alias,
            author=_whoami(obj, login),
            note=note,
            base=base,
            forge=_command_forge(obj),
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@rollout.command()
@click.argument("model")
@_alias_option
@_note_option
@_force_option
@_proposal_options
@click.pass_obj
def abort(
    obj: Context,
    model: str,
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
    """End a rollout without moving the alias, by pull request: the holder serves every request again.

    Judged by the rollback gate, like any way back.

    \b
    Example:
      mlgate rollout abort search-ranker --alias champion --note "error rate up in the canary"
    """
    from mlgate.change.rollout import abort as do_abort

    return _gated(
        lambda: do_abort(
            obj.repo,
            model,
            alias,
            author=_whoami(obj, login),
            note=note,
            base=base,
            forge=_command_forge(obj),
            open_pr=open_pr,
            force=force,
        ),
        as_json,
    )


@rollout.command()
@click.argument("model")
@_alias_option
@click.option(
    "--from",
    "source",
    required=True,
    metavar="FILE.json",
    help="A monitoring job's measurements: a JSON object with window {start, end}, requests {candidate, holder}, "
    "metrics {candidate: {...}, holder: {...}} and optionally source.",
)
@_proposal_options
@click.pass_obj
def evidence(
    obj: Context,
    model: str,
    alias: str,
    source: str,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Propose a rollout's online evidence at its current step, by pull request.

    mlgate fills model, alias, candidate, holder, mode and percent from the
    alias file on the base, validates the document against the
    OnlineEvaluation schema and writes online/<alias>/<candidate>.yaml. Once
    merged, it is what the next step up (or the completion) is judged on.

    \b
    Example:
      mlgate rollout evidence search-ranker --alias champion --from canary-metrics.json
    """
    from mlgate.change.rollout import evidence as do_evidence

    return _gated(
        lambda: do_evidence(
            obj.repo,
            model,
            alias,
            source=source,
            author=_whoami(obj, login),
            base=base,
            forge=_command_forge(obj),
            open_pr=open_pr,
        ),
        as_json,
    )


@rollout.command()
@click.argument("model")
@_alias_option
@_base_option
@_json_option
@click.pass_obj
def status(obj: Context, model: str, alias: str, base: str, as_json: bool) -> int:
    """Where a rollout stands on the base: the holder, the candidate and its share, the policy's steps, the
    next step and what it needs, and whether the online evidence is there and passes.

    \b
    Examples:
      mlgate rollout status search-ranker --alias champion
      mlgate rollout status search-ranker --alias champion --json --base main
    """
    from mlgate.change.rollout import status as do_status
    from mlgate.render.report import rollout_status_text, to_json

    view = do_status(obj.repo, model, alias, base=base)
    _out(to_json(view) if as_json else rollout_status_text(view))
    return EXIT_OK
