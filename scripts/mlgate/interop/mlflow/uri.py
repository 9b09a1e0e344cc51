"""The ``mlgate:`` registry URI MLflow is pointed at, and the download URIs the plugin hands back to MLflow.

Registry URIs (``mlflow.set_registry_uri(...)``), each optionally followed by ``?KEY=VALUE&...`` options:

=====================================================  ===================================================
``mlgate:/abs/path`` or ``mlgate:relative/path``        a checkout (its working tree, as ``mlgate show``)
``mlgate:file:///abs/path``                             the same checkout, as a URL
``mlgate:/path/repo#main``, ``mlgate:/path/repo.git``   the branch of a local repository, read from git
``mlgate:git+https://host/org/registry.git#main``        a remote repository and ref (fetched into a cache)
``mlgate:git+ssh://git@host/org/registry.git#main``
``mlgate:/srv/registry-index.json``                     a serving index (``mlgate index``), a file or any
``mlgate:https://host/registry-index.json``             fsspec URL ending in ``.json``
=====================================================  ===================================================

A git source without ``#ref`` reads ``main``. Options configure writes (and a few reads): see :data:`OPTIONS`.
Download URIs are ``mlgate-artifact://MODEL/VERSION?uri=...&sha256=...&size=...&format=...``: everything the
verifying artifact repository needs to fetch the bytes and refuse them unless they are the registered ones.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from mlgate.core.layout import NAME_RE, SHA256_RE, VERSION_RE

SCHEME = "mlgate"
ARTIFACT_SCHEME = "mlgate-artifact"

#: the options a registry URI may carry, and what each sets
OPTIONS = {
    "forge": "where writes open pull requests: local, github or none (a branch only); default $MLGATE_FORGE, "
    "else local",
    "user": "the forge login writes act as; default $MLGATE_USER, git config mlgate.user, the forge's account",
    "store": "the artifact store registrations copy model folders into; default $MLGATE_STORE",
    "base": "the branch pull requests target; default the repository's default branch",
    "repo": "the checkout writes are made in (a git or index source has none of its own)",
    "github_repo": "OWNER/NAME of the github forge; default $GITHUB_REPOSITORY",
    "github_url": "the GitHub API URL (GitHub Enterprise); default $GITHUB_API_URL",
    "refresh": "seconds between re-reads of a git or index source (default 60; 0 re-reads on every call)",
    "cache": "where a git source is fetched to; default $MLGATE_CACHE/git",
    "trusted_keys": "an index's publisher public key files, comma-separated: the index must be signed by one",
}

Kind = Literal["checkout", "git", "index"]
FORMS = (
    "mlgate:/path/to/checkout, mlgate:file:///path/to/checkout, mlgate:/path/to/repo#BRANCH, "
    "mlgate:git+https://host/org/registry.git#BRANCH or mlgate:/path/or/https/registry-index.json"
)


class RegistryURIError(ValueError):
    """A registry or download URI that cannot be read (the store turns it into an MlflowException)."""


@dataclass(frozen=True)
class RegistryURI:
    """A parsed ``mlgate:`` registry URI."""

    uri: str
    kind: Kind
    #: a folder for a checkout, a git URL (or local repository path) for git, a path or URL for an index
    location: str
    ref: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def checkout(self) -> str | None:
        """The checkout writes are made in: ``?repo=``, the checkout read, or a local repository read by ref."""
        if "repo" in self.options:
            return os.path.abspath(os.path.expanduser(self.options["repo"]))
        if self.kind == "checkout":
            return self.location
        if self.kind == "git" and "://" not in self.location and os.path.isdir(os.path.join(self.location, ".git")):
            return self.location
        return None

    @property
    def base(self) -> str | None:
        """The target branch of writes: ``?base=``, else the ref a git source reads."""
        return self.options.get("base") or (self.ref if self.kind == "git" else None)


def _options(query: str, uri: str, *, keep_unknown: bool) -> tuple[dict[str, str], str]:
    """mlgate's options out of a query string, and what is left of it (another URL's own query)."""
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in OPTIONS:
            if key in ours:
                raise RegistryURIError(f"{uri!r}: option {key!r} is given twice")
            ours[key] = value
        elif keep_unknown:
            theirs.append((key, value))
        else:
            close = difflib.get_close_matches(key, OPTIONS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RegistryURIError(f"{uri!r}: unknown option {key!r}{hint} (options: {', '.join(OPTIONS)})")
    if "forge" in ours and ours["forge"] not in ("local", "github", "none"):
        raise RegistryURIError(f"{uri!r}: forge={ours['forge']!r}: expected local, github or none")
    if "refresh" in ours and not (ours["refresh"].isascii() and ours["refresh"].isdigit()):
        raise RegistryURIError(f"{uri!r}: refresh={ours['refresh']!r}: expected a number of seconds")
    return ours, urlencode(theirs)


def parse_registry_uri(uri: str, cwd: str | None = None) -> RegistryURI:
    """Parse a registry URI (see the module's table); a relative checkout path is taken from ``cwd`` (default: the
    current folder) once, here, so that the store reads the same folder wherever the process moves."""
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != SCHEME or not rest:
        raise RegistryURIError(f"{uri!r} is not an mlgate registry URI: expected {FORMS}")
    if rest.startswith("///"):  # mlgate:///abs/path
        rest = rest[2:]
    elif rest.startswith("//"):
        raise RegistryURIError(f"{uri!r}: a host after mlgate:// is not a location: expected {FORMS}")
    rest, _, fragment = rest.partition("#")
    ref = unquote(fragment) or None
    head = rest.partition("?")[0]
    remote = "://" in head and not head.startswith("file://")
    if remote:
        options, query = _options(rest.partition("?")[2], uri, keep_unknown=True)
        location = f"{head}?{query}" if query else head
    else:
        body, _, query = rest.partition("?")
        options, _ = _options(query, uri, keep_unknown=False)
        location = unquote(urlsplit(body).path) if body.startswith("file://") else body
        if not location:
            raise RegistryURIError(f"{uri!r} names no location: expected {FORMS}")
        location = os.path.abspath(os.path.join(cwd or os.getcwd(), os.path.expanduser(location)))
    bare = location.split("?")[0].rstrip("/")
    if bare.endswith(".json"):
        if ref is not None:
            raise RegistryURIError(f"{uri!r}: an index is one file, it has no #ref")
        return RegistryURI(uri, "index", location, None, options)
    if "trusted_keys" in options:
        raise RegistryURIError(f"{uri!r}: trusted_keys authenticate a serving index (.json), not a git source")
    gitlike = location.startswith(("git+", "git@", "ssh://")) or bare.endswith(".git")
    if gitlike or ref is not None:
        url = location[4:] if location.startswith("git+") else location
        return RegistryURI(uri, "git", url, ref or "main", options)
    if remote:
        raise RegistryURIError(
            f"{uri!r}: a URL is read as a git repository when it starts with git+ or ends with .git, and as an "
            f"index when it ends with .json: expected {FORMS}"
        )
    return RegistryURI(uri, "checkout", location, None, options)


# --- download URIs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactRef:
    """What a download URI names: a version's artifact and the digest and size it must have."""

    model: str
    version: int
    uri: str
    sha256: str
    size: int
    format: str

    def download_uri(self) -> str:
        query = urlencode({"uri": self.uri, "sha256": self.sha256, "size": self.size, "format": self.format})
        return f"{ARTIFACT_SCHEME}://{quote(self.model)}/{self.version}?{query}"


def parse_download_uri(uri: str) -> ArtifactRef:
    """The :class:`ArtifactRef` of a ``mlgate-artifact://`` URI; :class:`RegistryURIError` if it is not one."""
    parts = urlsplit(uri)
    fields = dict(parse_qsl(parts.query, keep_blank_values=True))
    model, version = unquote(parts.netloc), parts.path.strip("/")
    size = fields.get("size", "")
    if (
        parts.scheme != ARTIFACT_SCHEME
        or not NAME_RE.fullmatch(model)
        or not VERSION_RE.fullmatch(version)
        or not fields.get("uri")
        or not SHA256_RE.fullmatch(fields.get("sha256", ""))
        or not (size.isascii() and size.isdigit())
    ):
        raise RegistryURIError(
            f"{uri!r} is not an mlgate download URI "
            f"({ARTIFACT_SCHEME}://MODEL/VERSION?uri=...&sha256=...&size=...&format=...)"
        )
    return ArtifactRef(model, int(version), fields["uri"], fields["sha256"], int(size), fields.get("format", ""))
