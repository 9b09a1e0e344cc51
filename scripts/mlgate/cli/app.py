"""The ``mlgate`` command line: thin click commands over the library.

Each command parses its options, calls one library function, renders the result
and returns an exit code. Errors are turned into messages and exit codes in
exactly one place, :func:`main`.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING, Any, Callable

import click

from mlgate import __version__
from mlgate.cli.helptext import Group
from mlgate.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, MlgateError
from mlgate.render.report import terminal_safe

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar
    from click.decorators import FC

FORMATS = ("text", "markdown", "json")


class Context:
    def __init__(self, repo: str) -> None:
        self.repo = repo
        self.forges: dict[tuple[str, str | None, str | None], Any] = {}


def _out(text: str) -> None:
    click.echo(text, nl=False)


def _echo(text: str, err: bool = False) -> None:
    """One message that may carry untrusted text (names, URIs, forge data): control characters escaped."""
    click.echo(terminal_safe(text), err=err)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-C", "--repo", default=".", show_default=True, metavar="PATH", help="Repository to work on (any folder inside it)."
)
@click.option("--traceback", is_flag=True, hidden=True, help="Show Python tracebacks (for debugging mlgate).")
@click.version_option(__version__, prog_name="mlgate")
@click.pass_context
def cli(ctx: click.Context, repo: str, traceback: bool) -> None:  # noqa: ARG001 - read by main()
    """mlgate: a GitOps model registry driven by pull requests.

    Model versions and aliases are YAML manifests under registry/; every change
    goes through a pull request that `mlgate validate` checks.

    \b
    Example:
      mlgate validate --base origin/main     # check a branch's changes
      mlgate resolve models:/fraud-detector@champion
    """
    ctx.obj = Context(repo)


def _forge_options(default: str | None) -> Callable[[FC], FC]:
    def wrap(f: FC) -> FC:
        f = click.option(
            "--github-repo", metavar="OWNER/NAME", help="GitHub repository (default: $GITHUB_REPOSITORY)."
        )(f)
        f = click.option(
            "--github-url",
            metavar="URL",
            help="GitHub API URL, for GitHub Enterprise (default: $GITHUB_API_URL or https://api.github.com).",
        )(f)
        f = click.option(
            "--forge",
            "forge_kind",
            type=click.Choice(["local", "github"]),
            envvar="MLGATE_FORGE",
            default=default,
            show_default=bool(default),
            help="Where pull requests and reviews live: 'local' (branches of this repository) or 'github' "
            "(token from $GITHUB_TOKEN). Default from $MLGATE_FORGE.",
        )(f)
        return f

    return wrap


def _open_forge(obj: Context, kind: str | None, github_url: str | None, github_repo: str | None) -> Any:
    """The forge a command was pointed at, opened once per command (the acting user may have asked it first)."""
    if kind is None:
        return None
    key = (kind, github_url, github_repo)
    if key not in obj.forges:
        from mlgate.forge import open_forge

        obj.forges[key] = open_forge(kind, obj.repo, github_url=github_url, github_repo=github_repo)
    return obj.forges[key]


def _command_forge(obj: Context) -> Any:
    """The forge the running command opens pull requests on (its --forge options), or None (--no-pr, none)."""
    ctx = click.get_current_context(silent=True)
    params = ctx.params if ctx is not None else {}
    if not params.get("open_pr", True):
        return None
    return _open_forge(obj, params.get("forge_kind"), params.get("github_url"), params.get("github_repo"))


def _whoami(obj: Context, login: str | None) -> str:
    """The acting user: --as, $MLGATE_USER, git config mlgate.user, or the forge's account (never user.name)."""
    from mlgate.change.identity import acting_login

    return acting_login(obj.repo, login, forge=lambda: _command_forge(obj))


_as_option = click.option(
    "--as",
    "login",
    metavar="LOGIN",
    help="Act as this forge login (default: $MLGATE_USER, else git config mlgate.user, else the github "
    "forge's token user; never git's user.name).",
)


def progress_bar(label: str) -> Any:
    """A progress callback drawing on a terminal (and silent otherwise); call .close() at the end."""

    class Bar:
        def __init__(self) -> None:
            self.bar: ProgressBar[int] | None = None

        def __call__(self, done: int, total: int) -> None:
            if total < 16 * 1024 * 1024 or not sys.stderr.isatty():
                return
            if self.bar is None:
                self.bar = click.progressbar(length=total, label=label, file=sys.stderr).__enter__()
            self.bar.update(done - self.bar.pos)

        def close(self) -> None:
            if self.bar is not None:
                self.bar.__exit__(None, None, None)
                self.bar = None

    return Bar()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mlgate`` console script: maps every error to an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in args
    try:
        rv: Any = cli.main(args=args, prog_name="mlgate", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("mlgate: aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return EXIT_USAGE if e.exit_code not in (0, 1) else e.exit_code
    except MlgateError as e:
        if show_tb:
            traceback.print_exc()
        click.echo(f"mlgate: error: {terminal_safe(str(e))}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("mlgate: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # a bug in mlgate: say so plainly, no traceback unless asked
        if show_tb:
            traceback.print_exc()
        click.echo(
            f"mlgate: internal error: {type(e).__name__}: {terminal_safe(str(e))} "
            "(a bug in mlgate: rerun as `mlgate --traceback ...` and report it)",
            err=True,
        )
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else EXIT_OK
