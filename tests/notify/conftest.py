"""A real HTTP receiver on 127.0.0.1 (the standard library's ThreadingHTTPServer in a thread) that checks each
request's signature with the shared secret the way the README tells receivers to, answers from a script
(500, then 429 with Retry-After, then 200...), and keeps every request; a registry with subscribers."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mlgate.testing import RegistryRepo

SECRET = "s3cret-shared-with-the-receiver"
CHAMPION = "registry/models/fraud-detector/aliases/champion.yaml"
CHALLENGER = "registry/models/search-ranker/aliases/challenger.yaml"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool  # the signature header matches HMAC-SHA256(SECRET, body)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The server's state: the scripted answers still to give (per path), and what it received."""

    secret: bytes = SECRET.encode()
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers: tuple[int, dict[str, str]]) -> None:
        """Answer the next requests to ``path`` so (then 200)."""
        self.script.setdefault(path, []).extend(answers)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


def _handler(state: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # the receiver's side of the README's snippet: HMAC of the exact bytes, compared in constant time
            expected = "sha256=" + hmac.new(state.secret, body, hashlib.sha256).hexdigest()
            got = self.headers.get("X-Mlgate-Signature-256", "")
            signed = hmac.compare_digest(expected, got)
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body, signed))
                queue = state.script.get(self.path, [])
                status, headers = queue.pop(0) if queue else (200, {})
            if not signed and self.path.startswith("/strict"):
                status, headers = 401, {}
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung receiver."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def subscribe(repo: RegistryRepo, *subscribers: dict[str, Any], message: str = "Subscribe") -> str:
    """Commit registry/notifications.yaml with these subscribers on the current branch; returns the commit."""
    repo.write(
        "registry/notifications.yaml",
        {"apiVersion": "mlgate/v1", "kind": "Notifications", "subscribers": list(subscribers)},
    )
    return repo.commit(message)


def promote(repo: RegistryRepo, path: str, version: int, message: str, author: str | None = None) -> str:
    repo.edit_yaml(path, version=version)
    return repo.commit(message, **({"author": author} if author else {}))


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    return "HOOK_SECRET"
