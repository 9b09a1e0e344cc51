"""``mlgate new``: evidence files to fill in, written from what the base branch's policy requires.

Thin, like the rest of the CLI: parse, call :mod:`mlgate.change.evidence`, write.
"""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _echo, _out, cli
from mlgate.errors import EXIT_OK


@cli.group()
def new() -> None:
    """Write evidence files to fill in (a model card), from the base branch's policy.

    \b
    Example:
      mlgate new card --model fraud-detector --alias champion -o fraud-card.md
    """


@new.command()
@click.option("--model", metavar="MODEL", help="The model: its own model.yaml policy may require more sections.")
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="ALIAS",
    help="An alias the version should be promotable to. Repeatable. Default: every alias the policy names.",
)
@click.option(
    "-o",
    "--output",
    default="card.md",
    show_default=True,
    metavar="FILE",
    help="Where to write the card ('-' for stdout); an existing file is never overwritten.",
)
@click.option(
    "--base",
    default="main",
    show_default=True,
    metavar="BRANCH",
    help="The registry's target branch, whose policy decides the sections.",
)
@click.pass_obj
def card(obj: Context, model: str | None, aliases: tuple[str, ...], output: str, base: str) -> int:
    """Write a model card skeleton with the sections the policy requires.

    Each section the base branch's policy (and the model's own model.yaml)
    requires for the aliases named gets a heading and a comment saying what to
    write there; the card gate does not count a comment as content, so an
    unfilled card still fails it. Refuses to overwrite an existing file.

    \b
    Examples:
      mlgate new card --model fraud-detector --alias champion -o fraud-card.md
      mlgate new card -o -            # every alias the policy names, to stdout
    """
    from mlgate.change.evidence import card_skeleton, write_new

    skeleton = card_skeleton(obj.repo, model=model, aliases=aliases, base=base)
    if output == "-":
        _out(skeleton.text)
        return EXIT_OK
    write_new(output, skeleton.text)
    needs = [f"{alias}: {', '.join(s)}" for alias, s in skeleton.required.items() if s]
    _echo(f"wrote {output}" + (f" (required by the policy on {base}: {'; '.join(needs)})" if needs else ""))
    return EXIT_OK
