"""Whole mlgate processes against moto's S3 server: each way a user points mlgate at a non-AWS endpoint works for
register, verify, the index and fetch alike; a large artifact is streamed in bounded memory; a machine without
s3fs gets one line and exit 2."""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.testing import TrainingRun
from mlgate.testing.s3 import S3Server
from tests.s3.test_register_serve import BRANCH, MODEL, register

MiB = 1 << 20


def clean_env(s3: S3Server, **extra: str) -> dict[str, str]:
    """The server's credentials and ``extra``, but no endpoint: what a user's shell would hold."""
    env = {k: v for k, v in s3.environ().items() if not k.startswith("AWS_ENDPOINT_URL")}
    return {**env, **extra}


#: register, verify, publish the index on S3, then serve from it, all in one new process
ROUND_TRIP = textwrap.dedent(
    """
    import json, sys
    import fsspec
    from mlgate import serving
    from mlgate.cli import main
    repo, store, index_url, cache, *register = sys.argv[1:]
    codes = [main(["-C", repo, *register, "--store", store])]
    codes.append(main(["-C", repo, "verify", "--ref", "{branch}", "{model}/4"]))
    codes.append(main(["-C", repo, "index", "--ref", "{branch}", "-o", cache + "/index.json"]))
    with open(cache + "/index.json", "rb") as src, fsspec.open(index_url, "wb") as out:
        out.write(src.read())
    model = serving.resolve("models:/{model}/4", serving.open_source(index_url))
    print(json.dumps({{"codes": codes, "uri": model.artifact_uri, "fetched": str(serving.fetch(model, cache))}}))
    """
).format(branch=BRANCH, model=MODEL)


@pytest.mark.parametrize(
    "how",
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "FSSPEC_S3_ENDPOINT_URL", "FSSPEC_S3", "fsspec config file"],
)
def test_each_way_of_naming_the_endpoint_serves_every_command(repo, s3: S3Server, tmp_path: Path, how: str) -> None:
    ep = s3.endpoint_url
    settings = {
        "AWS_ENDPOINT_URL_S3": {"AWS_ENDPOINT_URL_S3": ep},
        "AWS_ENDPOINT_URL": {"AWS_ENDPOINT_URL": ep},
        "FSSPEC_S3_ENDPOINT_URL": {"FSSPEC_S3_ENDPOINT_URL": ep},
        "FSSPEC_S3": {"FSSPEC_S3": json.dumps({"endpoint_url": ep})},
        "fsspec config file": {"FSSPEC_CONFIG_DIR": str(tmp_path / "fsspec")},
    }[how]
    (tmp_path / "fsspec").mkdir()
    (tmp_path / "fsspec" / "s3.json").write_text(json.dumps({"s3": {"endpoint_url": ep}}))
    run = TrainingRun.write(tmp_path / "run", artifact=f"a model for {how}".encode(), metrics={"auc": 0.93})
    (tmp_path / "cache").mkdir()
    args = [*run.register_args(MODEL), "--as", "alice", "--no-pr"]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            ROUND_TRIP,
            repo.root,
            s3.url("models"),
            s3.url("index.json"),
            tmp_path / "cache",
            *args,
        ],
        capture_output=True,
        text=True,
        env=clean_env(s3, **settings),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["codes"] == [0, 0, 0], proc.stdout + proc.stderr
    assert got["uri"].startswith(s3.url("models/sha256/"))
    assert Path(got["fetched"]).read_bytes() == run.artifact.read_bytes()
    assert s3.traffic.count(got["uri"].removeprefix(f"s3://{s3.bucket}/"), "GET") >= 2  # verify's and fetch's


#: runs ``python ARGS...`` (``-m mlgate ...`` or ``-c CODE ...``) and, at exit, writes the peak resident memory of
#: that program to the file $PEAK_FILE. /proc's VmHWM counts this process's own memory since it started running
#: Python (the rusage of a child also counts the test process it was forked from)
PEAK = textwrap.dedent(
    """
    import atexit, os, runpy, sys

    def peak():
        with open("/proc/self/status") as fh:
            kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        with open(os.environ["PEAK_FILE"], "w") as out:
            out.write(str(kb * 1024))

    atexit.register(peak)
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
        exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
    """
)


def max_rss(args: list[str], env: dict[str, str], peak_file: Path) -> tuple[int, str, int]:
    """Run ``python ARGS``; its exit code, stderr and peak resident memory in bytes."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, *args],
        env={**env, "PEAK_FILE": str(peak_file)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stderr, int(peak_file.read_text())


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak memory from /proc")
def test_a_large_artifact_is_streamed_through_register_verify_and_fetch(repo, s3: S3Server, tmp_path: Path) -> None:
    size = 64 * MiB
    big = tmp_path / "big" / "model.bin"
    run = TrainingRun.write(tmp_path / "big", metrics={"auc": 0.93})
    with big.open("wb") as fh:
        for i in range(size // MiB):
            fh.write(i.to_bytes(4, "big") * (MiB // 4))
    small = TrainingRun.write(tmp_path / "small", artifact=b"a small model", metrics={"auc": 0.93})
    # 5 MiB parts (S3's smallest; s3fs's default is 50 MiB), set the way a user would
    env = clean_env(s3, AWS_ENDPOINT_URL_S3=s3.endpoint_url, FSSPEC_S3=json.dumps({"default_block_size": 5 * MiB}))
    mlgate = [sys.executable, "-m", "mlgate", "-C", str(repo.root)]

    def peak(*args: str) -> int:
        code, err, rss = max_rss(["-m", "mlgate", "-C", str(repo.root), *args], env, tmp_path / "peak")
        assert code == 0, err
        return rss

    store = s3.url("models")
    small_register = peak(*small.register_args("churn-predictor"), "--as", "alice", "--no-pr", "--store", store)
    big_register = peak(*run.register_args(MODEL), "--as", "alice", "--no-pr", "--store", store)
    small_verify = peak("verify", "--ref", "mlgate/register-churn-predictor-v5", "churn-predictor/5")
    big_verify = peak("verify", "--ref", BRANCH, f"{MODEL}/4")
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    parts = [r for r in s3.traffic.requests(f"models/sha256/{digest[:2]}/{digest}", "PUT") if "partNumber" in r.query]
    assert len(parts) == -(-size // (5 * MiB))  # uploaded in 5 MiB parts, not one body
    # a 64 MiB artifact costs about one part's worth of memory more than a 13-byte one, not its size
    assert big_register - small_register < 40 * MiB, (big_register, small_register)
    # a folder holding it: archived into a temporary file, not in memory, then uploaded the same way
    folder = TrainingRun.write(tmp_path / "folder", metrics={"auc": 0.93})
    (tmp_path / "folder" / "model").mkdir()
    os.link(big, tmp_path / "folder" / "model" / "weights.bin")
    args = folder.register_args("search-ranker")
    args[args.index("--artifact") + 1] = str(tmp_path / "folder" / "model")
    folder_register = peak(*args, "--as", "alice", "--no-pr", "--store", store)
    assert folder_register - small_register < 40 * MiB, (folder_register, small_register)
    assert big_verify - small_verify < 40 * MiB, (big_verify, small_verify)

    fetch = "import sys; from mlgate import serving; s = serving.open_source(sys.argv[1]); "
    fetch += "print(serving.fetch(serving.resolve(sys.argv[2], s), sys.argv[3]))"

    def fetched(ref: str, uri: str) -> int:
        index = tmp_path / f"{ref.replace('/', '-')}.json"
        assert (
            subprocess.run([*mlgate, "index", "--ref", ref, "-o", index], env=env, capture_output=True).returncode == 0
        )
        code, err, rss = max_rss(["-c", fetch, str(index), uri, str(tmp_path / "cache")], env, tmp_path / "peak")
        assert code == 0, err
        return rss

    small_fetch = fetched("mlgate/register-churn-predictor-v5", "models:/churn-predictor/5")
    big_fetch = fetched(BRANCH, f"models:/{MODEL}/4")
    assert big_fetch - small_fetch < 40 * MiB, (big_fetch, small_fetch)
    assert filecmp.cmp(serving.cache_path(digest, tmp_path / "cache"), big, shallow=False)


def blocked_s3fs(tmp_path: Path) -> Path:
    """A folder whose sitecustomize.py makes ``import s3fs`` fail, as on a machine without it."""
    folder = tmp_path / "no-s3fs"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class NoS3fs:
                def find_spec(self, name, path=None, target=None):
                    if name == "s3fs" or name.startswith("s3fs."):
                        raise ModuleNotFoundError("No module named 's3fs'", name="s3fs")
                    return None

            sys.meta_path.insert(0, NoS3fs())
            """
        )
    )
    return folder


def test_without_s3fs_every_command_says_so_in_one_line_with_exit_2(
    repo, run_cli, s3: S3Server, tmp_path: Path
) -> None:
    run = TrainingRun.write(tmp_path / "run", artifact=b"a model", metrics={"auc": 0.93})
    code, _, err = register(run_cli, repo, run, s3.url("models"))  # here, with s3fs: a version to verify
    assert code == 0, err
    env = clean_env(s3, AWS_ENDPOINT_URL_S3=s3.endpoint_url, PYTHONPATH=str(blocked_s3fs(tmp_path)))
    mlgate = [sys.executable, "-m", "mlgate", "-C", str(repo.root)]
    check = subprocess.run([sys.executable, "-c", "import s3fs"], env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "No module named 's3fs'" in check.stderr  # the blocker works

    before = repo.status()
    other = TrainingRun.write(tmp_path / "other", artifact=b"another model", metrics={"auc": 0.93})
    args = [*other.register_args("churn-predictor"), "--as", "alice", "--no-pr", "--store", s3.url("models")]
    for argv, expected in [
        (args, f"artifact store {s3.url('models')!r} needs s3fs (pip install s3fs)"),
        (["verify", "--ref", BRANCH, f"{MODEL}/4"], "needs the package s3fs (pip install s3fs)"),
        (["index", "--ref", BRANCH, "-o", s3.url("i.json")], f"writing the index to {s3.url('i.json')} needs s3fs"),
        (["index", "--ref", BRANCH, "--sharded", "-o", s3.url("idx")], "needs s3fs (pip install s3fs)"),
        (
            ["index", "--ref", BRANCH, "--previous", s3.url("i.json"), "-o", str(tmp_path / "i.json")],
            f"reading {s3.url('i.json')} needs the package s3fs",
        ),
    ]:
        proc = subprocess.run([*mlgate, *argv], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert repo.status() == before

    code = textwrap.dedent(
        f"""
        from mlgate import serving
        model = serving.ResolvedModel("models:/m/1", "m", None, 1, {s3.url("m.bin")!r}, "0" * 64, 1, "bin", None)
        try:
            serving.fetch(model, {str(tmp_path / "cache")!r})
        except serving.StoreError as e:
            print(type(e).__name__, e)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.startswith(f"StorePackageMissing reading {s3.url('m.bin')} needs the package s3fs"), proc
