"""A real S3 API for the tests here: moto's S3 server on 127.0.0.1 (:mod:`mlgate.testing.s3`), started once per
session, and a fresh bucket per test with this process pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlgate.testing.s3 import S3Server, s3_server


@pytest.fixture(scope="session")
def s3_session() -> Iterator[S3Server]:
    """moto's S3 server, one per test session (starting it imports moto and Flask: about a second)."""
    with s3_server() as server:
        yield server


@pytest.fixture
def s3(s3_session: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """The session's S3 server with a new empty bucket (``s3.bucket``, ``s3.url(KEY)``), its request log cleared,
    and this process's environment pointed at it (``s3.env``: endpoint, credentials, no ``~/.aws``), so mlgate,
    s3fs and boto3 here reach it; subprocesses get it with ``s3.environ()``."""
    import importlib

    import s3fs

    from mlgate.testing.s3 import UNSET

    # fsspec remembers s3fs's class once it has loaded it, for the whole process: forgotten after the test, so
    # that a later test making s3fs unimportable finds it missing
    registry = importlib.import_module("fsspec.registry")._registry  # (the attribute fsspec.registry is a view)
    loaded = set(registry)

    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_session.env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # a client made before this test's environment is not reused
    bucket = s3_session.use_bucket()
    s3_session.traffic.clear()
    yield s3_session
    s3fs.S3FileSystem.clear_instance_cache()
    s3_session.remove_bucket(bucket)  # moto holds objects in this process's memory
    s3_session.traffic.clear()
    for name in set(registry) - loaded:
        del registry[name]
