"""The S3 test server itself (mlgate.testing.s3): other tests count on its request log to prove what a client
sent and downloaded, e.g. that a conditional poll of an unchanged index transfers no body."""

from __future__ import annotations

import botocore.exceptions
import fsspec
import pytest

from mlgate.testing.s3 import S3Server, s3_server


def test_the_log_counts_requests_and_body_bytes_per_key(s3: S3Server) -> None:
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="dir/index.json", Body=b"x" * 1000)
    client.put_object(Bucket=s3.bucket, Key="other", Body=b"y" * 10)
    assert [(r.method, r.key, r.sent) for r in s3.traffic.writes()] == [
        ("PUT", "dir/index.json", 1000),
        ("PUT", "other", 10),
    ]

    etag = client.get_object(Bucket=s3.bucket, Key="dir/index.json")["ETag"]
    assert s3.traffic.body_bytes("dir/index.json", "GET") == 1000
    client.head_object(Bucket=s3.bucket, Key="dir/index.json")
    with pytest.raises(botocore.exceptions.ClientError, match="304"):
        client.get_object(Bucket=s3.bucket, Key="dir/index.json", IfNoneMatch=etag)
    polls = s3.traffic.requests("dir/index.json", "GET")
    assert [(r.status, r.received) for r in polls] == [(200, 1000), (304, 0)]
    assert polls[1].headers["if-none-match"] == etag
    assert s3.traffic.body_bytes(f"{s3.bucket}/dir/index.json") == 1000  # HEAD and 304 send no body
    assert s3.traffic.count("other") == 1 and s3.traffic.count("nothing") == 0

    with fsspec.open(s3.url("dir/index.json"), "rb") as fh:  # s3fs here, through the fixture's environment
        assert fh.read(10) == b"x" * 10
    assert s3.traffic.body_bytes("dir/index.json", "GET") >= 1010

    s3.traffic.clear()
    assert s3.traffic.log == []


def test_each_test_gets_an_empty_bucket_and_storage_options_reach_it(s3: S3Server) -> None:
    assert s3.keys() == []
    with fsspec.open(s3.url("a/b"), "wb", **s3.storage_options) as fh:
        fh.write(b"through storage options")
    assert s3.keys() == ["a/b"] and s3.keys("a/") == ["a/b"]
    assert s3.head("a/b")["ContentLength"] == len(b"through storage options")


def test_a_second_server_runs_beside_the_first_and_stops_cleanly(s3: S3Server) -> None:
    with s3_server() as other:
        assert other.endpoint_url != s3.endpoint_url and other.endpoint_url.startswith("http://127.0.0.1:")
        other.client().put_object(Bucket=other.bucket, Key="k", Body=b"v")
        assert other.traffic.count("k", "PUT") == 1 and s3.traffic.count("k") == 0
        url = other.endpoint_url
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)  # noqa: S310 - the stopped server on 127.0.0.1


def test_a_removed_bucket_takes_its_objects_and_pending_uploads(s3: S3Server) -> None:
    bucket = s3.create_bucket()
    s3.client().put_object(Bucket=bucket, Key="a", Body=b"1")
    s3.client().create_multipart_upload(Bucket=bucket, Key="b")
    s3.remove_bucket(bucket)
    assert bucket not in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
