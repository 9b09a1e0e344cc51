"""The ``doctor`` command: is GitHub set up the way the README asks? Thin: parse, diagnose, render."""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _echo, _forge_options, _open_forge, _out, cli
from mlgate.errors import EXIT_CHECK_FAILED, EXIT_OK, UsageError


@cli.command()
@_forge_options("github")
@click.option("--branch", default="main", show_default=True, metavar="BRANCH", help="The registry's protected branch.")
@click.option("--json", "as_json", is_flag=True, help="Print the checklist as JSON.")
@click.pass_obj
def doctor(
    obj: Context, forge_kind: str, github_url: str | None, github_repo: str | None, branch: str, as_json: bool
) -> int:
    """Check the branch's protection on GitHub against the README's 'Setting up GitHub', item by item.

    Reads the rulesets that apply to BRANCH and its branch protection through
    GitHub's API: pull request required, at least one approval, code-owner
    review, stale approvals dismissed, approval of the most recent push, the
    required check 'validate', up-to-date branches or a merge queue, nobody
    may bypass, force pushes blocked, and validate.yml required as a workflow
    from a ruleset (else a pull request that edits it decides its own check).
    GitHub shows branch protection only to repository admins: with another
    token those items are reported unknown. Exits 0 when everything is set, 1
    when something is missing or unknown, 2 when GitHub cannot be asked.

    \b
    Example:
      GITHUB_TOKEN=$(gh auth token) mlgate doctor --forge github --github-repo acme/registry
      mlgate doctor --forge github --github-repo acme/registry --branch main --json
    """
    from mlgate.check.doctor import diagnose, render_text
    from mlgate.render.report import to_json

    if forge_kind != "github":
        raise UsageError(f"doctor reads GitHub's branch settings: pass --forge github (not {forge_kind!r})")
    result = diagnose(_open_forge(obj, forge_kind, github_url, github_repo), branch)
    if as_json:
        _out(to_json(result.to_dict()))
    else:
        for line in render_text(result).splitlines():
            _echo(line)
    return EXIT_OK if result.ok else EXIT_CHECK_FAILED
