"""``mlgate catalog --serve``: the built site on 127.0.0.1, for local browsing (stdlib http.server)."""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def server(folder: str | os.PathLike[str], port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server of ``folder`` (port 0: any free port); call ``serve_forever()``, and ``server_close()`` after."""
    handler = functools.partial(_Quiet, directory=os.fspath(folder))
    return ThreadingHTTPServer((host, port), handler)


def serve(folder: str | os.PathLike[str], port: int = 8000, host: str = "127.0.0.1") -> None:
    """Serve ``folder`` until interrupted."""
    httpd = server(folder, port, host)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()
