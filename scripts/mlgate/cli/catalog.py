"""``mlgate catalog``: the registry as a static site (and a local server for it)."""

from __future__ import annotations

import click

from mlgate.cli.app import Context, _echo, _forge_options, _open_forge, cli
from mlgate.errors import EXIT_OK


@cli.command()
@click.option("--ref", metavar="REF", help="Build from this git ref instead of the working tree.")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    metavar="DIR",
    help="The site's folder. An earlier catalog there is updated in place: only changed pages are written, each "
    "renamed into place, and pages gone are removed; any other non-empty folder is refused.",
)
@click.option("--serve", is_flag=True, help="Then serve DIR on 127.0.0.1 until Ctrl-C.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="The --serve port (0: any free one)."
)
@_forge_options(None)
@click.pass_obj
def catalog(
    obj: Context,
    ref: str | None,
    output: str,
    serve: bool,
    port: int,
    forge_kind: str | None,
    github_url: str | None,
    github_repo: str | None,
) -> int:
    """Build a static site of the registry: models, versions, metrics, cards, comparisons, audit trail.

    Every page is plain HTML with its assets inside DIR (nothing is fetched
    from the network when it is opened), so DIR can be published as is, e.g.
    to GitHub Pages (publish.yml does). The audit trail is REF's first-parent
    history (HEAD's for the working tree); with a forge it names who approved
    each change, and marks "not verified" an approval that counts only
    through a team the token cannot read (GITHUB_TOKEN in GitHub Actions
    cannot: give a token with read:org to verify them). Deep links are
    stable: models/NAME/ and models/NAME/versions/N/.

    \b
    Examples:
      mlgate catalog -o site
      mlgate catalog --ref main -o public --forge local
    """
    from mlgate.catalog import build_catalog
    from mlgate.catalog.serve import server

    result = build_catalog(obj.repo, output, ref=ref, forge=_open_forge(obj, forge_kind, github_url, github_repo))
    for w in result.warnings:
        _echo(f"mlgate: warning: {w}", err=True)
    _echo(
        f"catalog of {result.models} models, {result.versions} versions and {result.events} events: "
        f"{result.pages} pages in {result.out}"
    )
    if serve:
        httpd = server(result.out, port)
        _echo(f"serving {result.out} at http://127.0.0.1:{httpd.server_address[1]}/ (Ctrl-C stops)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            httpd.server_close()
    return EXIT_OK
