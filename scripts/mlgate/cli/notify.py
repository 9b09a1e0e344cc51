"""``mlgate notify``: post the registry's events since a commit to the subscribers of notifications.yaml."""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _echo, _forge_options, _open_forge, _out, cli
from mlgate.errors import EXIT_CHECK_FAILED, EXIT_OK, EXIT_USAGE


@cli.command()
@click.option(
    "--since",
    required=True,
    metavar="COMMIT",
    help="Send the events after this commit (exclusive), e.g. the push's previous tip (${{ github.event.before "
    "}}). All zeros (a push that created the branch) sends nothing; a commit that is not an ancestor of REF is "
    "refused (exit 2).",
)
@click.option(
    "--ref", default="main", show_default=True, metavar="REF", help="The branch (or commit) whose events to send."
)
@click.option("--dry-run", is_flag=True, help="Show what each subscriber would get; send nothing, need no secret.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The summary's format.",
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 20),
    default=None,
    metavar="N",
    help="Tries per event and subscriber.  [default: 5]",
)
@click.option(
    "--backoff",
    type=click.FloatRange(0, 3600),
    default=None,
    metavar="SECONDS",
    help="Wait after the first failed attempt, doubled after each next one (default: $MLGATE_NOTIFY_BACKOFF, else 1).",
)
@click.option(
    "--max-delay",
    type=click.FloatRange(0, 3600),
    default=None,
    metavar="SECONDS",
    help="The longest wait between attempts, a 429's Retry-After included.  [default: 60]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.001, 600),
    default=None,
    metavar="SECONDS",
    help="Give up on a request that has not answered after this long (then retry).  [default: 10]",
)
@click.option(
    "--source", metavar="URI", help="The CloudEvents source (default: the GitHub repository's URL in Actions)."
)
@_forge_options(None)
@click.pass_obj
def notify(
    obj: Context,
    since: str,
    ref: str,
    dry_run: bool,
    fmt: str,
    attempts: int | None,
    backoff: float | None,
    max_delay: float | None,
    timeout: float | None,
    source: str | None,
    forge_kind: str | None,
    github_url: str | None,
    github_repo: str | None,
) -> int:
    """Post every registry event after COMMIT, oldest first, to the subscribers of notifications.yaml.

    Events are those of `mlgate history` on REF's first-parent history; the
    subscribers, their filters and formats are REF's registry/notifications.yaml.
    A CloudEvents subscriber gets one CloudEvents 1.0 JSON document per event,
    signed with HMAC-SHA256 of the body in X-Mlgate-Signature-256, with an id
    that is the same on every run (receivers drop repeats); a Slack subscriber a
    message. Connection errors, timeouts, 5xx and 429 are retried with
    exponential backoff; another 4xx is final. Exit 1 when a delivery finally
    failed (or a subscriber's secret is missing), 2 for bad usage or an unusable
    notifications.yaml. With a forge, events name their approvers.

    \b
    Examples:
      mlgate notify --since HEAD~1 --dry-run
      mlgate notify --since "$BEFORE" --ref main --forge github --format json
    """
    from mlgate.notify import NotificationsInvalid, RetryPolicy
    from mlgate.notify import notify as send
    from mlgate.notify.report import notify_text
    from mlgate.render.report import to_json

    policy = RetryPolicy.from_options(attempts, backoff, max_delay, timeout)
    try:
        result = send(
            obj.repo,
            since=since,
            ref=ref,
            dry_run=dry_run,
            forge=_open_forge(obj, forge_kind, github_url, github_repo),
            policy=policy,
            source=source,
        )
    except NotificationsInvalid as e:
        for f in e.findings:
            where = f"{f.path}:{f.line}" if f.line else f.path
            _echo(f"mlgate: error: {where}: {f.rule} {f.message}", err=True)
        return EXIT_USAGE
    _out(to_json(result.to_dict()) if fmt == "json" else notify_text(result))
    for w in result.warnings:
        _echo(f"mlgate: warning: {w}", err=True)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED
