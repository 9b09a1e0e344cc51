"""One HTTP POST with bounded retries: exponential backoff on connection errors, timeouts, 5xx and 429 (honouring
Retry-After up to a cap), never on another 4xx; a per-request timeout; no redirects followed."""

from __future__ import annotations

import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping
from urllib.parse import urlsplit

from mlgate.core.notifications import is_loopback
from mlgate.errors import UsageError

#: the environment variable that sets the backoff base (seconds) when --backoff is not given
BACKOFF_ENV = "MLGATE_NOTIFY_BACKOFF"
#: how much of an error response is read (never printed whole: it is the receiver's text)
_MAX_ERROR_BODY = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a delivery is tried: ``attempts`` in all, waiting ``backoff * 2**(n-1)`` seconds after the n-th
    failure (or what a 429/503's Retry-After asks), never more than ``max_delay``; each request gives up after
    ``timeout`` seconds."""

    attempts: int = 5
    backoff: float = 1.0
    max_delay: float = 60.0
    timeout: float = 10.0

    def delay(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after the ``failures``-th failed attempt."""
        wanted = retry_after if retry_after is not None else self.backoff * 2 ** (failures - 1)
        return max(0.0, min(wanted, self.max_delay))

    @classmethod
    def from_options(
        cls, attempts: int | None, backoff: float | None, max_delay: float | None, timeout: float | None
    ) -> RetryPolicy:
        """From command-line values (None: the default; the backoff from $MLGATE_NOTIFY_BACKOFF when set)."""
        if backoff is None and os.environ.get(BACKOFF_ENV):
            text = os.environ[BACKOFF_ENV]
            try:
                backoff = float(text)
            except ValueError:
                raise UsageError(f"${BACKOFF_ENV} is {text!r}: expected a number of seconds") from None
            if not 0 <= backoff <= 3600:
                raise UsageError(f"${BACKOFF_ENV} is {text!r}: expected 0 to 3600 seconds")
        default = cls()
        return cls(
            attempts if attempts is not None else default.attempts,
            backoff if backoff is not None else default.backoff,
            max_delay if max_delay is not None else default.max_delay,
            timeout if timeout is not None else default.timeout,
        )


@dataclass(frozen=True)
class Outcome:
    """How a delivery ended: delivered or not, after how many attempts, the last HTTP status (None: no answer),
    the last problem in words, and each wait between attempts (seconds)."""

    delivered: bool
    attempts: int
    status: int | None
    error: str | None
    waits: tuple[float, ...] = ()


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination: the signed body goes only where the manifest says."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urlsplit(url).hostname or ""
    # a receiver on this machine is reached directly, whatever proxy the environment names
    proxies = urllib.request.ProxyHandler({}) if is_loopback(host) else urllib.request.ProxyHandler()
    return urllib.request.build_opener(proxies, _NoRedirect())


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST ``body`` to ``url`` until a 2xx, a final refusal (a 3xx or a 4xx other than 429) or the last attempt.

    ``sleep`` waits between attempts (a test passes one that records the waits instead)."""
    opener = _opener(url)
    waits: list[float] = []
    status: int | None = None
    error: str | None = None
    for attempt in range(1, policy.attempts + 1):
        after: float | None = None
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with opener.open(request, timeout=policy.timeout) as response:
                status = response.status
                response.read(_MAX_ERROR_BODY)
            if 200 <= status < 300:
                return Outcome(True, attempt, status, None, tuple(waits))
            error = f"HTTP {status}"
        except urllib.error.HTTPError as e:
            status = e.code
            after = retry_after(e.headers.get("Retry-After")) if status in (429, 503) else None
            error = f"HTTP {status}" + (" (a redirect: not followed)" if 300 <= status < 400 else "")
            e.close()
            if not _retryable(status):
                return Outcome(False, attempt, status, error, tuple(waits))
        except (TimeoutError, socket.timeout):
            status, error = None, f"no answer within {policy.timeout:g} s"
        except urllib.error.URLError as e:
            reason = e.reason
            timed_out = isinstance(reason, (TimeoutError, socket.timeout))
            status = None
            error = f"no answer within {policy.timeout:g} s" if timed_out else f"cannot connect: {reason}"
        except (OSError, http.client.HTTPException) as e:  # reset mid-response, a bad status line...
            status, error = None, f"connection failed: {type(e).__name__}: {e}"
        except (ValueError, UnicodeError) as e:  # a URL http.client cannot send to: no attempt will do better
            return Outcome(False, attempt, None, f"cannot send to this URL: {e}", tuple(waits))
        if attempt < policy.attempts:
            wait = policy.delay(attempt, after)
            waits.append(wait)
            if wait > 0:
                sleep(wait)
    return Outcome(False, policy.attempts, status, error, tuple(waits))
