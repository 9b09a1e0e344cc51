"""registry/notifications.yaml: who is told about the registry's events, as frozen objects, and what makes a
subscriber unsafe (a URL that is not https, credentials in a URL, a secret written into the manifest).

Pure: the schema check happens in :mod:`mlgate.infra.schemas`, reading in :mod:`mlgate.notify`; this module
turns a schema-valid mapping into :class:`Notifications` and names the problems the schema cannot express.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Mapping
from urllib.parse import parse_qsl, urlsplit

Format = Literal["cloudevents", "slack"]
CLOUDEVENTS: Format = "cloudevents"
SLACK: Format = "slack"

#: a problem of a subscriber: "url" (where it posts), "secret" (a credential written into the manifest),
#: "subscriber" (fields that do not fit together)
ProblemKind = Literal["url", "secret", "subscriber"]

_LOOPBACK_NAMES = ("localhost", "localhost.")

# What tokens of well-known services look like (GitHub, Slack, AWS, Google, OpenAI-style, JWTs, PEM keys,
# URL-embedded Slack/Discord webhooks): a value matching one is a credential, whatever field it is in.
_TOKEN_PATTERNS = (
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), "a GitHub token"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"hooks\.slack\.com/(services|workflows|triggers)/", re.I), "a Slack webhook URL (a credential)"),
    (re.compile(r"discord(app)?\.com/api/webhooks/", re.I), "a Discord webhook URL (a credential)"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "a Google API key"),
    (re.compile(r"\bsk-(proj-|live_|test_)?[A-Za-z0-9]{20,}"), "an API secret key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "a JSON web token"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
)
#: query parameters whose value is a credential
_SECRET_PARAMS = re.compile(
    r"(?i)^(.*[_-])?(token|key|apikey|api_key|secret|password|passwd|pwd|sig|signature|auth|authorization|"
    r"access_token|code|credential|credentials|sas|x-amz-signature|x-goog-signature)$"
)
# a long run of random-looking characters (hex or base64): a pasted secret, not a word, path or host name
_OPAQUE = re.compile(r"[A-Za-z0-9+/_=-]{24,}")


@dataclass(frozen=True)
class Subscriber:
    """One receiver: where events go, which it wants, how they are signed and written."""

    index: int
    url: str | None
    url_env: str | None
    secret_env: str | None
    format: Format
    kinds: frozenset[str] | None  # None: every kind
    models: frozenset[str] | None  # None: every model (and events about none)
    aliases: frozenset[str] | None  # None: every alias (and events about none)
    name: str | None = None

    @property
    def label(self) -> str:
        """How the summary names it: its name, its URL, or ``$URL_ENV`` (a URL kept in the environment is a
        credential and never printed)."""
        if self.name:
            return self.name
        return self.url if self.url is not None else f"${self.url_env}"

    def wants(self, kind: str, model: str | None, alias: str | None) -> bool:
        """Whether an event of ``kind`` about ``model`` / ``alias`` passes this subscriber's filters."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.models is not None and model not in self.models:
            return False
        return self.aliases is None or alias in self.aliases

    @classmethod
    def from_manifest(cls, index: int, data: Mapping[str, Any]) -> Subscriber:
        def names(key: str) -> frozenset[str] | None:
            return frozenset(data[key]) if key in data else None

        return cls(
            index,
            data.get("url"),
            data.get("url_env"),
            data.get("secret_env"),
            data.get("format", CLOUDEVENTS),
            names("kinds"),
            names("models"),
            names("aliases"),
            data.get("name"),
        )


@dataclass(frozen=True)
class Notifications:
    """registry/notifications.yaml: its subscribers, in file order."""

    subscribers: tuple[Subscriber, ...] = ()

    @classmethod
    def from_manifest(cls, data: Mapping[str, Any]) -> Notifications:
        """From a schema-valid mapping; call :func:`problems` first, which this does not repeat."""
        return cls(tuple(Subscriber.from_manifest(i, s) for i, s in enumerate(data.get("subscribers", ()))))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's host name, without brackets) is this machine: localhost, 127.0.0.0/8, ::1."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why mlgate refuses to post to ``url``, or None: https only (http to a loopback address alone, for
    receivers on the same machine and tests), a host, no user name or password, no fragment, no control
    characters or spaces."""
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as e:
        return f"is not a valid URL ({e})"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "must start with https://"
    if not host:
        return "has no host"
    if parts.fragment or url.endswith("#"):
        return "has a #fragment, which is never sent to the server"
    if scheme == "http" and not is_loopback(host):
        return "must use https:// (http:// is allowed only to a loopback address: 127.0.0.1, ::1, localhost)"
    return None


def secret_problem(text: str) -> str | None:
    """What credential ``text`` (any value of the manifest) looks like, or None."""
    for pattern, what in _TOKEN_PATTERNS:
        if pattern.search(text):
            return f"looks like {what}"
    return None


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _opaque(text: str) -> bool:
    """A run of random-looking characters long enough to be a key: mixed classes, high entropy."""
    for m in _OPAQUE.finditer(text):
        run = m.group(0)
        classes = sum(bool(re.search(p, run)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
        if classes >= 2 and _entropy(run) >= 3.5 and not re.fullmatch(r"[a-z0-9-]+", run):
            return True
        if re.fullmatch(r"[0-9a-fA-F]{32,}", run):  # a hex key (or a digest, which has no place here either)
            return True
    return False


def url_secret_problem(url: str) -> str | None:
    """Whether a URL carries a credential: a known token anywhere, a query parameter named like a secret, or
    an opaque key in its path or query."""
    found = secret_problem(url)
    if found:
        return f"{found}: put the whole URL in url_env"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if "@" in parts.netloc:
        return "holds credentials (user@ or user:password@): put the secret in secret_env, or the whole URL in url_env"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if _SECRET_PARAMS.match(key):
            return f"has a credential in its query (parameter {key!r}): put the whole URL in url_env"
        if _opaque(value):
            return f"has what looks like a key in its query (parameter {key!r}): put the whole URL in url_env"
    if _opaque(parts.path):
        return "has what looks like a key in its path: put the whole URL in url_env"
    return None


def _strings(value: Any, where: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, (*where, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*where, i))


def problems(data: Mapping[str, Any]) -> list[tuple[ProblemKind, tuple[str | int, ...], str]]:
    """What the schema cannot say about a schema-valid notifications.yaml: each problem's kind, field path and
    message (one per field)."""
    found: list[tuple[ProblemKind, tuple[str | int, ...], str]] = []
    for i, sub in enumerate(data.get("subscribers", ())):
        at: tuple[str | int, ...] = ("subscribers", i)
        has_url, has_env = "url" in sub, "url_env" in sub
        if has_url == has_env:
            why = "both url and url_env are set" if has_url else "neither url nor url_env is set"
            found.append(("subscriber", at, f"{why}: give exactly one"))
        if has_url:
            secret = url_secret_problem(sub["url"])
            problem = secret or url_problem(sub["url"])
            if problem:
                kind: ProblemKind = "secret" if secret else "url"
                found.append((kind, (*at, "url"), f"{_shown(sub['url'])} {problem}"))
        if sub.get("format", CLOUDEVENTS) == CLOUDEVENTS and "secret_env" not in sub:
            found.append(
                (
                    "subscriber",
                    at,
                    "format cloudevents needs secret_env: the name of the environment variable holding the "
                    "HMAC secret the receiver verifies the signature with",
                )
            )
    for where, text in _strings(data, ()):
        if where[-1:] == ("url",) and where[:1] == ("subscribers",):
            continue  # checked above, with the URL's own rules
        problem = secret_problem(text)
        if problem is None and where[-1:] in (("secret_env",), ("url_env",)) and _opaque(text):
            problem = "looks like a secret value"
        if problem:
            found.append(("secret", where, f"{problem}: the manifest names environment variables, never holds secrets"))
    return found


def _shown(url: str) -> str:
    """A URL for an error message: its scheme and host only (the rest may be the credential being refused)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
    except ValueError:
        return "the URL"
    return f"the URL {parts.scheme}://{host}/..."
