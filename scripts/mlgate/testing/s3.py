"""A real S3 API on 127.0.0.1 for tests: moto's S3 server (``pip install "moto[server]" s3fs``), with a log of
every request it answers, so a test can count requests and the body bytes sent per object.

>>> with s3_server() as s3:                         # moto on a free port, one bucket created
...     env = s3.environ()                          # AWS_ENDPOINT_URL_S3, test credentials, no ~/.aws
...     subprocess.run(["mlgate", "register", ..., "--store", s3.url("models")], env=env)
...     s3.traffic.writes("models/sha256/ab/...")    # the PUT and POST requests that wrote that key
...     s3.traffic.body_bytes("registry-index.json", "GET")   # bytes a poll downloaded (0 for a 304)
...     s3.client().put_object(Bucket=s3.bucket, Key="x", Body=b"...")   # boto3, to alter what mlgate stored

In this process, set :attr:`S3Server.env` in ``os.environ`` before s3fs makes its first client (the pytest
fixture in ``tests/s3/conftest.py`` does, with ``monkeypatch``); or pass :attr:`S3Server.storage_options` to
fsspec yourself. moto keeps its state in this process, in memory: every server in it shares the buckets.

Importing this module imports neither moto nor boto3: they are imported when a server starts.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

REGION = "us-east-1"
#: what moto accepts as long as it does not enforce authentication (see :meth:`S3Server.enforcing_auth`)
ACCESS_KEY = "mlgate-test-key"
SECRET_KEY = "mlgate-test-secret"

#: variables that would send a client to another account or endpoint than the server's (removed by
#: :meth:`S3Server.environ` and the pytest fixture)
UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "FSSPEC_S3",
    "FSSPEC_S3_ENDPOINT_URL",
)

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class S3Request:
    """One request the server answered. ``key`` is the object key ("" for a request on the bucket itself);
    ``sent`` the request body's length; ``received`` the response body bytes that went back to the client
    (0 for HEAD, 204 and 304)."""

    method: str
    bucket: str
    key: str
    query: str
    status: int
    sent: int
    received: int
    headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)


class S3Traffic:
    """The requests a server answered, in order; thread-safe. Filters: ``key`` (an object key, or
    ``"bucket/key"`` to pin the bucket), ``method``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log: list[S3Request] = []

    def record(self, request: S3Request) -> None:
        with self._lock:
            self._log.append(request)

    @property
    def log(self) -> list[S3Request]:
        with self._lock:
            return list(self._log)

    def requests(self, key: str | None = None, method: str | None = None) -> list[S3Request]:
        """The requests on ``key`` (any when None) with ``method`` (any when None)."""
        return [
            r
            for r in self.log
            if (key is None or key in (r.key, f"{r.bucket}/{r.key}")) and (method is None or r.method == method)
        ]

    def count(self, key: str | None = None, method: str | None = None) -> int:
        """How many requests :meth:`requests` selects."""
        return len(self.requests(key, method))

    def body_bytes(self, key: str | None = None, method: str | None = None) -> int:
        """Response body bytes sent for the requests :meth:`requests` selects (what a client downloaded)."""
        return sum(r.received for r in self.requests(key, method))

    def writes(self, key: str | None = None) -> list[S3Request]:
        """The requests that create or change an object: PUT and POST (a multipart upload's start and end)."""
        return [r for r in self.requests(key) if r.method in ("PUT", "POST")]

    def clear(self) -> None:
        with self._lock:
            self._log.clear()


class _Counting:
    """WSGI middleware in front of moto's app: records each request and the response bytes it sends."""

    def __init__(self, app: Any, traffic: S3Traffic) -> None:
        self.app, self.traffic = app, traffic

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status: list[int] = []

        def start(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(int(code.split()[0]))
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        body = self.app(environ, start)
        try:
            # recorded before the first byte goes out, so a client that has its answer finds its request logged
            chunks = list(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        method, code = environ["REQUEST_METHOD"], status[0] if status else 0
        bucket, _, key = unquote(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
        self.traffic.record(
            S3Request(
                method=method,
                bucket=bucket,
                key=key,
                query=environ.get("QUERY_STRING", ""),
                status=code,
                sent=int(environ.get("CONTENT_LENGTH") or 0),
                # the server sends no body for these, whatever the app produced
                received=0 if method == "HEAD" or code in (204, 304) else sum(map(len, chunks)),
                headers={k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")},
            )
        )
        return chunks


class S3Server:
    """moto's S3 server on ``host`` and a free port (start it with ``with``, or :func:`s3_server`).

    ``endpoint_url``: its URL; ``bucket``: the bucket created at start; ``traffic``: every request answered.
    """

    def __init__(self, bucket: str | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.bucket = bucket or f"mlgate-{secrets.token_hex(4)}"
        self.traffic = S3Traffic()
        self.endpoint_url = ""
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    # --- life cycle --------------------------------------------------------------------------------------

    def start(self) -> S3Server:
        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server
        except ImportError as e:  # pragma: no cover - the test extra installs it
            raise RuntimeError(f'mlgate.testing.s3 needs moto\'s server: pip install "moto[server]" ({e})') from None

        class Quiet(MotoRequestHandler):
            def log_request(self, *args: Any) -> None:  # no line on stderr per request
                pass

        app = _Counting(DomainDispatcherApplication(create_backend_app), self.traffic)
        self._server = make_server(self.host, 0, app, threaded=True, request_handler=Quiet)
        port = self._server.server_address[1]
        self.endpoint_url = f"http://{self.host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="mlgate-s3", daemon=True)
        self._thread.start()
        self.create_bucket(self.bucket)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- pointing clients at it ------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The variables that point boto3, s3fs (and so mlgate) at this server, with test credentials and no
        user configuration (``~/.aws``) or instance metadata lookups."""
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) without what could point a client elsewhere (:data:`UNSET`: a
        profile, a session token, another endpoint, fsspec settings), with :attr:`env`: for a subprocess."""
        base = os.environ if base is None else base
        kept = {k: v for k, v in base.items() if k not in UNSET and not k.startswith(("FSSPEC_S3", "AWS_ENDPOINT_URL"))}
        return {**kept, **self.env}

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec's options for this server: ``fsspec.open(s3.url("x"), **s3.storage_options)``."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "client_kwargs": {"region_name": REGION},
        }

    def url(self, key: str = "", bucket: str | None = None) -> str:
        """``s3://BUCKET/KEY`` (the server's bucket unless another is named)."""
        return f"s3://{bucket or self.bucket}/{key.lstrip('/')}".rstrip("/")

    def client(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
        """A boto3 S3 client on this server (imports boto3; one per credentials, made once)."""
        if (key, secret) not in self._clients:
            import boto3

            self._clients[key, secret] = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                region_name=REGION,
            )
        return self._clients[key, secret]

    # --- state -------------------------------------------------------------------------------------------------

    def use_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name when None) and make it the one :meth:`url`, :meth:`keys` and
        :meth:`head` use; its name. The pytest fixture gives each test its own this way."""
        self.bucket = self.create_bucket(name)
        return self.bucket

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name when None); its name."""
        name = name or f"mlgate-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def remove_bucket(self, name: str | None = None) -> None:
        """Delete a bucket (the current one when None) with its objects and pending multipart uploads, freeing
        the memory moto holds them in."""
        name = name or self.bucket
        client = self.client()
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        for key in self.keys(bucket=name):
            client.delete_object(Bucket=name, Key=key)
        client.delete_bucket(Bucket=name)

    def head(self, key: str, bucket: str | None = None) -> dict[str, Any]:
        """The object's metadata (``ETag``, ``LastModified``, ``ContentLength``...); the request is logged in
        :attr:`traffic` like any other."""
        got: dict[str, Any] = self.client().head_object(Bucket=bucket or self.bucket, Key=key)
        return got

    def keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        """Every object key under ``prefix``, sorted."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    @contextmanager
    def enforcing_auth(self, deny_writes: Iterable[str] = ()) -> Iterator[tuple[str, str]]:
        """Within the block the server checks every request's signature against IAM users it knows (moto's
        ``reset-auth``): yields the access key and secret of a user allowed ``s3:*``; anything else (the default
        test credentials, a wrong secret) is refused with 403. The whole process's moto enforces it meanwhile.

        ``deny_writes``: keys of the current bucket (``*`` matches anything) that user may not write
        (``s3:PutObject`` denied: a PUT there fails with 403 Access Denied, as with a narrower IAM policy)."""
        import json
        import urllib.request

        statements: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
        denied = [f"arn:aws:s3:::{self.bucket}/{key}" for key in deny_writes]
        if denied:
            statements.append({"Effect": "Deny", "Action": "s3:PutObject", "Resource": denied})
        iam = self._iam()
        user = f"mlgate-{secrets.token_hex(4)}"
        iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName=user,
            PolicyName="s3",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        created = iam.create_access_key(UserName=user)["AccessKey"]

        def reset_auth(count: str) -> None:
            request = urllib.request.Request(
                f"{self.endpoint_url}/moto-api/reset-auth", data=count.encode(), headers={"Content-Type": "text/plain"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own server
                answer.read()

        reset_auth("0")
        try:
            yield created["AccessKeyId"], created["SecretAccessKey"]
        finally:
            reset_auth("inf")

    def _iam(self) -> Any:
        import boto3

        return boto3.client(
            "iam",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )


@contextmanager
def s3_server(bucket: str | None = None, host: str = "127.0.0.1") -> Iterator[S3Server]:
    """moto's S3 server on ``host`` and a free port, with ``bucket`` (random when None) created; stopped on exit."""
    with S3Server(bucket, host) as server:
        yield server
