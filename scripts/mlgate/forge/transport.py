"""HTTP to GitHub with bounded retries and a total deadline per request.

PyGithub sends its requests through a ``requests`` session; :class:`GitHubAdapter` is the adapter mounted on
it (by :mod:`mlgate.forge.github`). It adds what a CI check needs and PyGithub does not give:

* **a deadline per request**: connecting, sending, the headers and the whole body must arrive within
  ``deadline`` seconds. PyGithub's ``timeout`` bounds each socket operation only, so a server that trickles a
  byte a second never trips it; here every socket operation is given what is left of the deadline.
* **bounded retries**: 5xx answers to requests that may be repeated, 429, and GitHub's rate limits (403 with
  ``Retry-After`` or the secondary-limit message, or ``x-ratelimit-remaining: 0``) are retried with
  exponential backoff, honouring ``Retry-After``, at most :data:`ATTEMPTS` times and for at most ``max_wait``
  seconds of waiting over the forge's whole life. A POST that failed with a 5xx is not repeated: GitHub may
  have done it (a second pull request or comment) before the error.
* **no request into a closed limit**: once GitHub has refused a request for a rate limit and mlgate will not
  wait for it (more than is left of ``max_wait``), every later request of the forge until the reset (primary
  limit) or the ``Retry-After`` time (secondary) gets that refusal again without being sent: a history of
  thousands of pull requests does not hammer GitHub with requests that cannot succeed (GitHub may ban an
  integration that keeps asking while it is limited).
* **the API's JSON or a clear error**: an answer whose body is not JSON (a proxy's HTML page, even with
  200) becomes :class:`UnexpectedAnswer`, never a half-built object.

The adapter writes what it did into the final response's headers (``x-mlgate-attempts``, ``x-mlgate-waited``,
``x-mlgate-gave-up``, ``x-mlgate-not-sent``) so the error message can say it. Waiting goes through the ``sleep`` and ``clock`` it is
given (tests pass a recording fake); the deadline is real time, as the socket's is.
"""

from __future__ import annotations

import email.utils
import html
import io
import json
import re
import socket
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: requests per call, the first included
ATTEMPTS = 5
#: methods that may be sent again after a 5xx (mlgate's PATCHes set a field to a value: repeating them is harmless)
REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
#: GitHub's advice when a secondary rate limit names no wait: "wait for at least one minute"
SECONDARY_WAIT = 60.0

_DEADLINE: ContextVar[float | None] = ContextVar("mlgate_github_deadline", default=None)


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole answer did not arrive within the deadline (a slow or trickling server)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no complete answer within {seconds:g} s")


class UnexpectedAnswer(requests.exceptions.RequestException):
    """GitHub, or something between mlgate and GitHub, answered without the API's JSON."""

    def __init__(self, status: int, reason: str, content_type: str, title: str, attempts: int, waited: float) -> None:
        self.status, self.reason, self.content_type, self.title = status, reason, content_type, title
        self.attempts, self.waited = attempts, waited
        what = f"a {content_type or 'untyped'} page" + (f" titled {title!r}" if title else "")
        super().__init__(f"{status} {reason}: {what} instead of the API's JSON")


# --- the deadline, enforced on every socket operation -----------------------------------------------


class _DeadlineSocket:
    """A connected socket whose every send and receive gets at most what is left of the current deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _arm(self) -> None:
        deadline = _DEADLINE.get()
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("the request's deadline has passed")
        self._sock.settimeout(left if self._timeout is None else min(left, self._timeout))

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return self._sock.recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return self._sock.recv_into(*args)

    def send(self, *args: Any) -> int:
        self._arm()
        return self._sock.send(*args)

    def sendall(self, *args: Any) -> None:
        self._arm()
        self._sock.sendall(*args)

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        # http.client reads the status line, headers and body through makefile("rb"): route them through recv_into
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)  # type: ignore[call-overload]  # typeshed takes literal modes only; any is passed on
        return io.BufferedReader(socket.SocketIO(self, "rb"), io.DEFAULT_BUFFER_SIZE)  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        """SocketIO.close() calls this; the socket itself is closed by its connection."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _HTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # the TLS handshake is bounded per operation only
        self.sock = _DeadlineSocket(self.sock)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


# --- when to try again --------------------------------------------------------------------------------


@dataclass
class Backoff:
    """How long to wait before trying again, and the forge's budget of waiting (``max_wait`` seconds in all)."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time  # wall clock: x-ratelimit-reset is an epoch time
    max_wait: float = 60.0
    waited: float = 0.0
    #: the rate-limit refusal that closes the forge's requests until ``closed_until`` (epoch seconds)
    closed_until: float = 0.0
    refusal: tuple[int, str, dict[str, str], bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close_until(self, when: float, response: requests.Response) -> None:
        """Send nothing more before ``when``: GitHub's rate limit ``response`` says no request would succeed."""
        with self._lock:
            if when > self.closed_until:
                headers = {k: v for k, v in response.headers.items() if not k.lower().startswith("x-mlgate-")}
                self.closed_until = when
                self.refusal = (response.status_code, response.reason or "", headers, response.content)

    def closed(self) -> tuple[int, str, dict[str, str], bytes] | None:
        """The refusal to answer with, while the limit is closed."""
        with self._lock:
            return self.refusal if self.refusal is not None and self.clock() < self.closed_until else None

    def reopens(self, response: requests.Response) -> float | None:
        """When a rate-limited ``response``'s limit lets requests through again (epoch seconds), else None."""
        headers = response.headers
        kind = rate_limit(response.status_code, headers, message_of(response.content))
        if kind is None:
            return None
        now = self.clock()
        after = retry_after(headers, now)
        if after is not None:
            return now + after
        reset = _int(headers.get("x-ratelimit-reset"))
        if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
            return float(reset)
        return now + SECONDARY_WAIT

    def take(self, seconds: float) -> bool:
        """Spend ``seconds`` of the budget, if that much is left."""
        with self._lock:
            if self.waited + seconds > self.max_wait + 1e-9:
                return False
            self.waited += seconds
            return True

    def wait_for(self, method: str, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before repeating the request, or None when it must not be repeated."""
        status, headers = response.status_code, response.headers
        if rate_limit(status, headers, message_of(response.content)):
            # GitHub's advice, in its order: Retry-After; else the reset time when no request is left; else a minute
            after = retry_after(headers, self.clock())
            if after is not None:
                return after
            reset = _int(headers.get("x-ratelimit-reset"))
            if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
                return max(float(reset) - self.clock(), 0.0) + 1.0
            return SECONDARY_WAIT
        if status >= 500 and method.upper() in REPEATABLE:
            after = retry_after(headers, self.clock())
            return after if after is not None else float(2 ** (attempt - 1))
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(float(text)) if text is not None else None
    except ValueError:
        return None


def retry_after(headers: Any, now: float) -> float | None:
    """``Retry-After`` in seconds (it may be a number of seconds or an HTTP date), or None."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if re.fullmatch(r"[0-9]+", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now, 0.0)


def message_of(body: bytes) -> str:
    """The ``message`` of a GitHub JSON error body, or ""."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else ""


def is_secondary_limit(message: str) -> bool:
    text = message.lower()
    return "secondary rate limit" in text or text.rstrip().endswith(
        ("please retry your request again later.", "please wait a few minutes before you try again.")
    )


def rate_limit(status: int, headers: Any, message: str) -> str | None:
    """Which of GitHub's rate limits a 403 or 429 is: "secondary" (too many requests at once: Retry-After or the
    secondary-limit message), "primary" (the hourly quota: no request left), or None (a 403 for another reason)."""
    if status not in (403, 429):
        return None
    if "retry-after" in headers or is_secondary_limit(message):
        return "secondary"
    if headers.get("x-ratelimit-remaining") == "0" or message.lower().startswith("api rate limit exceeded"):
        return "primary"
    return "secondary" if status == 429 else None


# --- the adapter --------------------------------------------------------------------------------------


_JSON = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)


class GitHubAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter with GitHub's retries, a total deadline per request, and JSON or an error."""

    def __init__(self, backoff: Backoff, deadline: float, **kwargs: Any) -> None:
        self.backoff = backoff
        self.deadline = deadline
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        closed = self.backoff.closed()
        if closed is not None:
            return self._refused(request, *closed)
        attempt, waited, gave_up = 1, 0.0, ""
        while True:
            response = self._once(request, timeout, verify, cert, proxies)
            delay = self.backoff.wait_for(request.method or "GET", response, attempt)
            if delay is None:
                break
            if attempt >= ATTEMPTS:
                break
            if not self.backoff.take(delay):
                gave_up = (
                    f"asked to wait {delay:.0f} s, more than is left of the {self.backoff.max_wait:.0f} s "
                    "mlgate waits in all"
                )
                break
            response.close()
            self.backoff.sleep(delay)
            attempt, waited = attempt + 1, waited + delay
        reopens = self.backoff.reopens(response)
        if reopens is not None:
            self.backoff.close_until(reopens, response)
        response.headers["x-mlgate-attempts"] = str(attempt)
        response.headers["x-mlgate-waited"] = f"{waited:g}"
        if gave_up:
            response.headers["x-mlgate-gave-up"] = gave_up
        self._check_json(response, attempt, waited)
        return response

    @staticmethod
    def _refused(
        request: requests.PreparedRequest, status: int, reason: str, headers: dict[str, str], body: bytes
    ) -> requests.Response:
        """GitHub's earlier rate-limit refusal, again, for a request that was not sent."""
        response = requests.Response()
        response.status_code, response.reason, response._content = status, reason, body
        response.headers = requests.structures.CaseInsensitiveDict(headers)
        response.headers["x-mlgate-not-sent"] = "1"
        response.url, response.request, response.encoding = request.url or "", request, "utf-8"
        return response

    def _once(
        self, request: requests.PreparedRequest, timeout: Any, verify: Any, cert: Any, proxies: Any
    ) -> requests.Response:
        deadline = time.monotonic() + self.deadline
        token = _DEADLINE.set(deadline)
        try:
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
            response.content  # noqa: B018 - read the whole body now, under the deadline
            return response
        except requests.RequestException:
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(self.deadline) from None
            raise
        finally:
            _DEADLINE.reset(token)

    @staticmethod
    def _check_json(response: requests.Response, attempts: int, waited: float) -> None:
        body = response.content
        if not body or not body.strip() or (300 <= response.status_code < 400 and "location" in response.headers):
            return  # nothing to read, or a redirect for PyGithub to follow (or refuse)
        content_type = (response.headers.get("content-type") or "").split(";")[0].strip()
        if _JSON.match(content_type):
            try:
                json.loads(body)
                return
            except ValueError:
                pass
        title = _TITLE.search(body[:65536])
        text = (
            re.sub(r"\s+", " ", html.unescape(title.group(1).decode("utf-8", "replace"))).strip()[:80] if title else ""
        )
        raise UnexpectedAnswer(response.status_code, response.reason or "", content_type, text, attempts, waited)
