"""The local forge's commands (``mlgate pr list|show|close|open``) and deprecation by pull request.

Thin, like the rest of the CLI: parse, call :mod:`mlgate.change.pulls` or :mod:`mlgate.change.deprecation`,
render. Titles, descriptions and reports come from whoever wrote them: they are escaped for the terminal.
"""

from __future__ import annotations

from typing import Any

import click

from mlgate.cli.app import Context, _as_option, _command_forge, _echo, _out, _whoami, cli
from mlgate.cli.pr import _base_option, _json_option, _local_forge, _proposal_options, _show
from mlgate.errors import EXIT_OK


def _pr_summary(pr: Any) -> dict[str, Any]:
    approvers = sorted({r.user for r in pr.reviews if r.state == "APPROVED" and r.commit == pr.head_sha})
    return {
        "number": pr.number,
        "state": pr.state,
        "title": pr.title,
        "branch": pr.head,
        "base": pr.base,
        "head_sha": pr.head_sha,
        "author": pr.author,
        "requester": pr.requester,
        "approved_by": approvers,
        "merged_by": pr.merged_by,
        "closed_by": pr.closed_by if pr.state == "closed" else None,
        "closed_at": pr.closed_at or None,
        "url": pr.url,
    }


@cli.group("pr")
def pr_group() -> None:
    """Pull requests of the local forge: list, show, close, or open one for a branch you made by hand.

    On GitHub, use its web UI or `gh pr ...`; these stand in for it on one machine.

    \b
    Examples:
      mlgate pr list --state all
      mlgate pr show 3
      mlgate pr open edit-policy --title "Tighten the champion gate" --as pat
      mlgate pr close 3 --as dave --reason "superseded by #4"
    """


@pr_group.command("list")
@click.option(
    "--state",
    type=click.Choice(["open", "closed", "merged", "all"]),
    default="open",
    show_default=True,
    help="Which pull requests: open, closed (rejected), merged, or all.",
)
@_json_option
@click.pass_obj
def pr_list(obj: Context, state: str, as_json: bool) -> int:
    """List the local forge's pull requests, oldest first.

    \b
    Examples:
      mlgate pr list
      mlgate pr list --state all --json
    """
    from mlgate.change.pulls import list_pulls
    from mlgate.render.report import to_json

    pulls = list_pulls(_local_forge(obj), state)
    if as_json:
        _out(to_json([_pr_summary(pr) for pr in pulls]))
        return EXIT_OK
    if not pulls:
        _echo(f"no {'' if state == 'all' else state + ' '}pull requests")
        return EXIT_OK
    for pr in pulls:
        s = _pr_summary(pr)
        who = f"by {s['requester'] or s['author']}"
        if pr.state == "merged":
            who += f", merged by {pr.merged_by or '?'}"
        elif pr.state == "closed":
            who += f", closed by {s['closed_by'] or '?'}"
        approved = f"; approved by {', '.join(s['approved_by'])}" if s["approved_by"] and pr.state == "open" else ""
        _echo(f"#{pr.number}  {pr.state:<6}  {pr.title}  [{pr.head} -> {pr.base}]  {who}{approved}")
    return EXIT_OK


@pr_group.command("show")
@click.argument("number", metavar="PR")
@_json_option
@click.pass_obj
def pr_show(obj: Context, number: str, as_json: bool) -> int:
    """Show a pull request: branch, head commit, state, requester, reviews (on which commit, still current or
    not), its description and its last gate report.

    \b
    Examples:
      mlgate pr show 3
      mlgate pr show 3 --json
    """
    from mlgate.change.propose import pr_number
    from mlgate.change.pulls import pull_details
    from mlgate.render.report import to_json

    details = pull_details(_local_forge(obj), pr_number(number))
    data = details.to_dict()
    if as_json:
        _out(to_json(data))
        return EXIT_OK
    _echo(_details_text(data))
    return EXIT_OK


def _details_text(d: dict[str, Any]) -> str:
    lines = [f"#{d['number']} {d['title']}", ""]
    rows = [
        ("state", d["state"]),
        ("branch", f"{d['branch']} -> {d['base']}"),
        ("head", d["head_sha"]),
        ("author", d["author"]),
        ("requester", d["requester"]),
        ("opened", d["opened_at"]),
        ("merged by", d["merged_by"]),
        ("merge commit", d["merge_commit"]),
        ("closed by", d["closed_by"]),
        ("merged" if d["state"] == "merged" else "closed", d["closed_at"]),
        ("reason", d["close_reason"]),
    ]
    lines += [f"  {k:<13} {v}" for k, v in rows if v]
    lines.append("")
    if d["reviews"]:
        lines.append("reviews:")
        for r in d["reviews"]:
            state = r["state"].lower().replace("_", " ")
            on = f"on {r['commit'][:12]}" + ("" if r["current"] else " (an earlier commit: stale)")
            lines.append(f"  {r['user']:<16} {state:<18} {on}  {r['submitted_at']}")
    else:
        lines.append("reviews: none")
    if d["state"] == "open":
        current = ", ".join(d["current_approvers"]) or "none"
        stale = (
            f"; stale (approved an earlier commit): {', '.join(d['stale_approvers'])}" if d["stale_approvers"] else ""
        )
        lines.append(f"approvals on the current head: {current}{stale}")
    if d["body"].strip():
        lines += ["", "description:", d["body"].rstrip()]
    if d["report"]:
        lines += ["", "last gate report:", d["report"].rstrip()]
    return "\n".join(lines)


@pr_group.command("close")
@click.argument("number", metavar="PR")
@click.option("--reason", metavar="TEXT", default="", help="Why it is closed; recorded with who closed it and when.")
@_as_option
@click.pass_obj
def pr_close(obj: Context, number: str, reason: str, login: str | None) -> int:
    """Close a pull request without merging it: recorded as rejected, with who closed it, when and why.

    Its branch stays; `mlgate history --include-rejected` lists it.

    \b
    Example:
      mlgate pr close 3 --as dave --reason "the Q3 data has a label leak"
    """
    from mlgate.change.propose import pr_number
    from mlgate.change.pulls import close_pull

    pr = close_pull(_local_forge(obj), pr_number(number), _whoami(obj, login), reason)
    _echo(f"closed #{pr.number} ({pr.title}) without merging: recorded as rejected by {pr.closed_by}")
    return EXIT_OK


@pr_group.command("open")
@click.argument("branch")
@click.option("--title", metavar="TEXT", help="The pull request's title (default: the branch's last commit subject).")
@_base_option
@_as_option
@_json_option
@click.pass_obj
def pr_open(obj: Context, branch: str, title: str | None, base: str, login: str | None, as_json: bool) -> int:
    """Open a pull request for a branch you committed by hand (an edit of policy.yaml or model.yaml...).

    The branch is validated as its required check would validate it, merged into
    the base as it is now: a conflict or a problem other than a gate refuses and
    opens nothing (exit 2). The description is the validation report; gates wait
    for reviews (`mlgate review`), then `mlgate merge`.

    \b
    Example:
      git switch -c tighten-policy && $EDITOR registry/policy.yaml && git commit -am "Tighten champion"
      mlgate pr open tighten-policy --as pat
    """
    from mlgate.change.pulls import open_pull
    from mlgate.render.report import report_dict, report_text, to_json

    opened = open_pull(obj.repo, _local_forge(obj), branch, author=_whoami(obj, login), base=base, title=title)
    pr = opened.pr
    if as_json:
        _out(to_json({**_pr_summary(pr), "report": report_dict(opened.report)}))
        return EXIT_OK
    _out(report_text(opened.report))
    _echo(f"pull request #{pr.number}: {pr.title} [{pr.head} -> {pr.base}] {pr.url}")
    return EXIT_OK


@cli.command()
@click.argument("model", metavar="MODEL/VERSION")
@click.argument("version", required=False, metavar="[VERSION]")
@click.option("--reason", required=True, metavar="TEXT", help="Why the version must no longer be served.")
@_proposal_options
@click.pass_obj
def deprecate(
    obj: Context,
    model: str,
    version: str | None,
    reason: str,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Deprecate a model version by pull request (it may then no longer be served or promoted).

    Adds the version to model.yaml's deprecated list. Refused while an alias
    points at the version: move the alias first (promote or rollback).

    \b
    Example:
      mlgate deprecate fraud-detector/1 --reason "trained on leaked labels"   # or: fraud-detector 1
    """
    from mlgate.change.deprecation import deprecate as do_deprecate
    from mlgate.core.uris import parse_target

    target = parse_target(model, want=("version",), then=version)
    assert target.version is not None  # want=("version",)
    proposal = do_deprecate(
        obj.repo,
        target.model,
        target.version,
        reason=reason,
        author=_whoami(obj, login),
        base=base,
        forge=_command_forge(obj),  # its --forge options; None with --no-pr
        open_pr=open_pr,
    )
    _show(proposal, as_json)
    return EXIT_OK


@cli.command()
@click.argument("model", metavar="MODEL/VERSION")
@click.argument("version", required=False, metavar="[VERSION]")
@_proposal_options
@click.pass_obj
def undeprecate(
    obj: Context,
    model: str,
    version: str | None,
    base: str,
    open_pr: bool,
    forge_kind: str,
    github_url: str | None,
    github_repo: str | None,
    login: str | None,
    as_json: bool,
) -> int:
    """Lift a version's deprecation by pull request (remove it from model.yaml's deprecated list).

    \b
    Example:
      mlgate undeprecate churn-predictor/1
    """
    from mlgate.change.deprecation import undeprecate as do_undeprecate
    from mlgate.core.uris import parse_target

    target = parse_target(model, want=("version",), then=version)
    assert target.version is not None  # want=("version",)
    proposal = do_undeprecate(
        obj.repo,
        target.model,
        target.version,
        author=_whoami(obj, login),
        base=base,
        forge=_command_forge(obj),  # its --forge options; None with --no-pr
        open_pr=open_pr,
    )
    _show(proposal, as_json)
    return EXIT_OK
