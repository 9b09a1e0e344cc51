"""Who is acting: the forge login recorded as the requester of a change (and as the reviewer or merger of the
local forge).

A login is asked for, never guessed: git's ``user.name`` is a display name ("José Müller", "李雷"), and
mangling it into a login would record one person under two names.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Union, cast

from mlgate.core.signoff import is_login
from mlgate.errors import UsageError
from mlgate.forge import Forge, forge_account
from mlgate.infra.defaults import USER_KEY, git_config

#: a forge, or a function that opens it (called only when no other source names the user)
ForgeSource = Union[Forge, Callable[[], Union[Forge, None]], None]

HOW_TO_SET = f"pass --as LOGIN, set MLGATE_USER=LOGIN, or run `git config {USER_KEY} LOGIN` once"


def _checked(login: str, source: str) -> str:
    if not is_login(login):
        raise UsageError(
            f"{source} {login!r} is not a login (a forge user name: letters, digits and '-', like mona-lisa): "
            f"{HOW_TO_SET}"
        )
    return login


def _open(forge: ForgeSource) -> Forge | None:
    if forge is None:
        return None
    if hasattr(forge, "open_pull_request"):
        return cast(Forge, forge)
    return forge()


def acting_login(
    repo: str | os.PathLike[str] = ".",
    login: str | None = None,
    *,
    forge: ForgeSource = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The login of whoever is acting, from the first source that names one:

    1. ``login`` (the CLI's ``--as``);
    2. ``$MLGATE_USER``;
    3. git config ``mlgate.user`` (of the repository at ``repo``, or global);
    4. the forge's own account: for the github forge, the token's user (``GET /user``). GitHub Actions'
       installation token belongs to no person; in a workflow, the user who triggered the run
       (``$GITHUB_ACTOR``) acts instead.

    A name that is not a valid login, or no source at all, is a :class:`~mlgate.errors.UsageError` saying how
    to set one. git's ``user.name`` is never used.
    """
    env = os.environ if environ is None else environ
    if login is not None:
        return _checked(login, "--as")
    if env.get("MLGATE_USER"):
        return _checked(env["MLGATE_USER"], "$MLGATE_USER")
    configured = git_config(repo, USER_KEY)
    if configured:
        return _checked(configured, f"git config {USER_KEY}")
    opened = _open(forge)
    account = forge_account(opened) if opened is not None else None
    if account is not None:
        name, bot = account
        if not bot:
            return _checked(name, f"the {opened.name} token's user" if opened else "the forge's user")
        actor = env.get("GITHUB_ACTOR") if env.get("GITHUB_ACTIONS") == "true" else None
        if actor and is_login(actor) and not actor.endswith("[bot]"):
            return actor
        raise UsageError(
            f"cannot tell who you are: the {opened.name if opened else 'forge'} token acts as the app {name}, "
            f"not a person (an installation token such as GitHub Actions' GITHUB_TOKEN cannot ask GET /user): "
            f"{HOW_TO_SET}"
        )
    raise UsageError(f"cannot tell who you are (mlgate never guesses a login from git's user.name): {HOW_TO_SET}")
