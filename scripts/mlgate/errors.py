"""The one error root of mlgate, and the exit codes it maps to.

Library code raises these; only the CLI turns them into messages and exit codes
(see ``mlgate.cli``). A finding about the registry's *content* is not an
exception: validation collects those in a :class:`mlgate.findings.Report`.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug in mlgate: an exception nobody raised on purpose


class MlgateError(Exception):
    """Root of every error mlgate raises on purpose.

    ``exit_code`` is what the CLI exits with when this error escapes a command.
    """

    exit_code = EXIT_USAGE


class UsageError(MlgateError):
    """The command was called wrongly (bad option, bad ``models:/`` URI...)."""


class InputError(MlgateError):
    """A file could not be read or parsed.

    ``path`` and ``line`` (1-based) say where, when known.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        where = path or ""
        if where and line:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class GitError(MlgateError):
    """Git failed: not a repository, unknown ref, missing object."""


class NotFoundError(MlgateError):
    """A model, version or alias that was asked for does not exist."""


class LayoutError(InputError):
    """A path that has no place in the registry layout (rule MG201)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ForgeError(MlgateError):
    """The forge refused or could not be reached (exit 2)."""


class CheckFailed(MlgateError):
    """A check the user asked for did not pass (exit 1)."""

    exit_code = EXIT_CHECK_FAILED
