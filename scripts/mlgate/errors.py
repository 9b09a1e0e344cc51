"""The whole error hierarchy of mlgate, and the exit codes it maps to.

Library code raises these; only the CLI turns them into messages and exit codes, in one place
(:func:`mlgate.cli.app.main`, through :func:`exit_code_of`). A finding about the registry's *content* is not an
exception: validation collects those in a :class:`mlgate.core.findings.Report`.

Every error is an :class:`MlgateError`, whose ``exit_code`` the CLI exits with: 1 when a check or gate failed
(:class:`CheckFailed`, :class:`ArtifactIntegrityError`), 2 for usage or unreadable input (the rest), and 3 for
anything else, which is a bug in mlgate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3  # a bug in mlgate: an exception nobody raised on purpose


class MlgateError(Exception):
    """Root of every error mlgate raises on purpose.

    ``exit_code`` is what the CLI exits with when this error escapes a command.
    """

    exit_code = EXIT_USAGE


def exit_code_of(error: BaseException) -> int:
    """The exit code for an error escaping a command: its own for an :class:`MlgateError`, else 3 (a bug)."""
    return error.exit_code if isinstance(error, MlgateError) else EXIT_INTERNAL


# --- the command and its input -----------------------------------------------------------------------------


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


class YamlError(InputError):
    """A YAML file that mlgate refuses to read, with its rule id (MG001 unparsable, MG002 over a limit)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None,
        line: int | None = None,
        rule: str = "MG001",
        field: str | None = None,
    ) -> None:
        self.rule = rule
        self.field = field
        super().__init__(message, path=path, line=line)


class ManifestError(InputError):
    """A manifest that cannot be read for what it decides (with the rule id of the problem)."""

    def __init__(
        self, message: str, *, path: str, line: int | None = None, rule: str = "MG101", field: str | None = None
    ) -> None:
        self.rule = rule
        self.field = field
        super().__init__(message, path=path, line=line)


class LayoutError(InputError):
    """A path that has no place in the registry layout (rule MG201)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class FileTooLarge(InputError):
    """A file bigger than the caller's limit (not read into memory)."""

    def __init__(self, path: str, size: int) -> None:
        self.size = size
        super().__init__(f"file is {size:,} bytes, over the limit", path=path)


class NotFoundError(MlgateError):
    """A model, version or alias that was asked for does not exist."""


# --- git and the forge ---------------------------------------------------------------------------------------


class GitError(MlgateError):
    """Git failed: not a repository, unknown ref, missing object."""


class LockBusy(GitError):
    """Another process holds a lock of this repository (see :meth:`mlgate.infra.git.GitRepo.lock`)."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        super().__init__(f"another process holds the lock {name!r} ({path})")


class ForgeError(MlgateError):
    """The forge refused or could not be reached (exit 2)."""


class PullRequestExists(ForgeError):
    """Branch ``head`` already has an open pull request, ``number`` (exit 2)."""

    def __init__(self, number: int, head: str, message: str | None = None) -> None:
        self.number = number
        self.head = head
        super().__init__(message or f"branch {head!r} already has an open pull request (#{number})")


# --- checks and gates ----------------------------------------------------------------------------------------


class CheckFailed(MlgateError):
    """A check the user asked for did not pass (exit 1)."""

    exit_code = EXIT_CHECK_FAILED


class GateFailed(CheckFailed):
    """A promotion whose gate already fails before review (exit 1); nothing was created.

    ``change`` is the judged :class:`mlgate.check.gates.AliasChange`.
    """

    def __init__(self, change: Any, message: str) -> None:
        self.change = change
        super().__init__(message)


class MergeRefused(CheckFailed):
    """The local forge refuses a merge whose required check fails (exit 1); ``report`` is the failing report."""

    def __init__(self, number: int, report: Any) -> None:
        self.number = number
        self.report = report
        super().__init__(f"pull request #{number} cannot be merged: mlgate validate does not pass")


# --- serving and artifact stores -----------------------------------------------------------------------------


class ServingError(MlgateError):
    """Serving could not resolve or fetch a model."""


class StoreError(ServingError):
    """An artifact store or URI cannot be read or written (missing package, bad URL, I/O failure)."""


class StorePackageMissing(StoreError):
    """The package fsspec needs for a URL's protocol is not installed (s3fs for s3://...): nothing at such a URL
    can be read or written until it is, so ``mlgate verify`` stops (exit 2) instead of failing each artifact."""


class UnknownModel(NotFoundError):
    """No such model; the message lists the models there are."""


class UnknownAlias(NotFoundError):
    """The model has no such alias; the message lists its aliases."""


class UnknownVersion(NotFoundError):
    """The model has no such version; the message lists its versions."""


class DeprecatedVersion(ServingError):
    """The version is deprecated in model.yaml; serving refuses it unless asked not to."""


class RolloutCandidateRefused(ServingError):
    """An alias's rollout names a candidate version that is missing or deprecated: serving refuses to route or
    mirror any request to it (and never quietly sends the candidate's share to the holder instead)."""


class RolloutKeyError(ServingError):
    """A request key to route by is not a string or an integer."""


class ArtifactIntegrityError(ServingError):
    """The bytes fetched are not the ones the registry recorded (sha256 or size)."""

    exit_code = EXIT_CHECK_FAILED


class ArtifactPathNotFound(ServingError, NotFoundError):
    """A ``models:/`` URI ends in a path that the version's (verified) artifact does not hold."""


class IndexDigestMismatch(ServingError):
    """The index file's content does not match its own digest: it was altered or truncated."""


class SourceUnavailable(ServingError):
    """The registry source could not be read (network, missing file, git failure)."""


class IndexRefused(ServingError):
    """The index is not one the trusted keys vouch for now: the root of the five refusals below."""


class IndexUnsigned(IndexRefused):
    """Trusted keys were given but the index carries no signature."""


class IndexUntrustedKey(IndexRefused):
    """The index is signed, but by none of the trusted keys."""


class IndexBadSignature(IndexRefused):
    """A trusted key's signature does not match the content: the index was altered after signing."""


class IndexExpired(IndexRefused):
    """The index's expiry has passed: the publisher stopped re-signing it, or a mirror serves a frozen copy."""


class IndexRollback(IndexRefused):
    """The index is older (lower serial) than one already accepted from the same location: a replay."""
