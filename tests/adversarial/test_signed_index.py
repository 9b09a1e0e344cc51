"""The signed serving index: whoever can write the index file, a mirror or the network, a server given the
publisher's public key serves only what the publisher signed, unexpired and never older than it has seen.

Real git repositories, real ed25519 keys made here, real files; the attacker edits JSON like anyone could.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlgate import serving
from mlgate.cli import main
from mlgate.registry.index import build_index, generate_key, load_signing_key, sign_index, write_index
from mlgate.testing import RegistryRepo

MODEL = "search-ranker"
CHAMPION = f"registry/models/{MODEL}/aliases/champion.yaml"


class World:
    def __init__(self, repo: RegistryRepo, tmp: Path) -> None:
        self.repo, self.tmp = repo, tmp
        self.arts: dict[int, Path] = {}
        (tmp / "keys").mkdir()
        self.key = generate_key(tmp / "keys" / "index-key")
        self.other = generate_key(tmp / "keys" / "other-key")
        self.index = tmp / "serve" / "registry-index.json"
        self.state = tmp / "state" / "index-state.json"

    def sign(self, out: Path | None = None, ref: str = "main", key: Path | None = None, **kw) -> Path:
        out = out or self.index
        write_index(build_index(self.repo.root, ref, key=load_signing_key(key or self.key.private), **kw), out)
        return out

    def open(self, **kw) -> serving.IndexSource:
        kw.setdefault("trusted_keys", [self.key.public])
        kw.setdefault("state_file", self.state)
        return serving.open_source(self.index, **kw)

    def promote(self, version: int) -> None:
        self.repo.edit_yaml(CHAMPION, version=version)
        self.repo.commit(f"Promote v{version} to champion")


@pytest.fixture
def world(repo: RegistryRepo, tmp_path: Path) -> World:
    """search-ranker v3 and v4 with real artifacts on disk, v3 champion on main; a key pair and another one."""
    w = World(repo, tmp_path)
    (tmp_path / "store").mkdir()
    for v in (3, 4):
        art = tmp_path / "store" / f"ranker-v{v}.bin"
        art.write_bytes(os.urandom(4096 + v))
        w.arts[v] = art
        repo.add_version(MODEL, v, like=2)
        path = f"registry/models/{MODEL}/versions/{v}/version.yaml"
        data = repo.read_yaml(path)
        data["artifact"] = {
            "uri": art.as_uri(),
            "sha256": hashlib.sha256(art.read_bytes()).hexdigest(),
            "size": art.stat().st_size,
            "format": "bin",
        }
        repo.write(path, data)
    champion = {k: v for k, v in repo.read_yaml(CHAMPION).items() if k != "rollout"}  # the example's canary ends
    repo.write(CHAMPION, {**champion, "version": 3})
    repo.commit("v3 and v4; v3 champion")
    return w


def _champion(source: serving.Source) -> serving.ResolvedModel:
    return serving.resolve(f"models:/{MODEL}@champion", source)


def _first_parent_count(repo: RegistryRepo, ref: str = "main") -> int:
    return int(repo.git.git("rev-list", "--count", "--first-parent", ref).strip())


def _forge_champion(index: Path, uri: str, payload: bytes) -> dict:
    """What an attacker with write access to the index does: point the champion's version at their bytes and
    recompute the digest with mlgate's own function."""
    data = json.loads(index.read_text())
    version = data["models"][MODEL]["aliases"]["champion"]
    data["models"][MODEL]["versions"][str(version)].update(
        uri=uri, sha256=hashlib.sha256(payload).hexdigest(), size=len(payload)
    )
    data["digest"] = serving.index_digest(data)
    index.write_text(json.dumps(data))
    return data


def test_a_signed_index_is_served_with_its_serial_and_expiry(world: World, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "-C",
            str(world.repo.root),
            "index",
            "--ref",
            "main",
            "--key",
            str(world.key.private),
            "--expires-in",
            "2d",
            "-o",
            str(world.index),
        ]
    )
    err = capsys.readouterr()[1]
    assert code == 0, err
    serial = _first_parent_count(world.repo)
    assert f"serial {serial}" in err and f"signed by key {world.key.keyid[:16]}" in err
    data = json.loads(world.index.read_text())
    assert data["serial"] == serial and data["signatures"][0]["keyid"] == world.key.keyid
    expires = serving.parse_time(data["expires"])
    assert timedelta(days=2) - timedelta(minutes=5) < expires - datetime.now(timezone.utc) <= timedelta(days=2)
    source = world.open()
    model = _champion(source)
    assert model.version == 3 and model.commit == world.repo.rev("main")
    assert serving.fetch(model, cache_dir=tmp_path / "cache").read_bytes() == world.arts[3].read_bytes()
    state = json.loads(world.state.read_text())
    assert state["indexes"][str(world.index)]["serial"] == serial


def test_a_forged_index_with_a_recomputed_digest_is_refused(world: World, tmp_path: Path) -> None:
    world.sign()
    evil = tmp_path / "evil.bin"
    evil.write_bytes(b"attacker weights" * 100)
    _forge_champion(world.index, evil.as_uri(), evil.read_bytes())
    # without keys the digest is all there is, and anyone can recompute it: this is why keys matter
    unauthenticated = serving.open_source(world.index)
    assert serving.fetch(_champion(unauthenticated), cache_dir=tmp_path / "c1").read_bytes() == evil.read_bytes()
    with pytest.raises(
        serving.IndexBadSignature, match="does not match the content; refusing an index altered after it was signed"
    ):
        world.open()
    assert not (tmp_path / "c2").exists()
    assert not world.state.exists()  # nothing accepted, nothing remembered


def test_an_index_signed_by_another_key_is_refused(world: World, tmp_path: Path) -> None:
    world.sign(key=world.other.private)
    with pytest.raises(
        serving.IndexUntrustedKey,
        match=f"signed by key {world.other.keyid[:16]}, which is not trusted "
        rf"\(trusted: {world.key.keyid[:16]}\)",
    ):
        world.open()
    # the attacker forges the content and signs it with their own key
    world.sign()
    evil = tmp_path / "evil.bin"
    evil.write_bytes(b"x" * 10)
    forged = _forge_champion(world.index, evil.as_uri(), evil.read_bytes())
    write_index(sign_index(forged, load_signing_key(world.other.private)), world.index)
    with pytest.raises(serving.IndexUntrustedKey):
        world.open()
    # trusting both keys (a rotation) accepts either signer
    assert _champion(world.open(trusted_keys=[world.key.public, world.other.public])).artifact_uri == evil.as_uri()


def test_an_unsigned_index_is_refused_when_keys_are_given(world: World, capsys) -> None:
    assert main(["-C", str(world.repo.root), "index", "--ref", "main", "-o", str(world.index)]) == 0
    assert "warning: the index is NOT signed" in capsys.readouterr()[1]
    with pytest.raises(serving.IndexUnsigned, match="is not signed; refusing it"):
        world.open()
    assert _champion(serving.open_source(world.index)).version == 3  # no keys: today's behaviour
    # stripping the signature from a signed index does not help either
    world.sign()
    data = json.loads(world.index.read_text())
    del data["signatures"]
    world.index.write_text(json.dumps(data))
    with pytest.raises(serving.IndexUnsigned):
        world.open()


def test_an_expired_index_is_refused(world: World) -> None:
    week_ago = datetime.now(timezone.utc) - timedelta(days=8)
    world.sign(now=week_ago)  # signed eight days ago for the default seven
    with pytest.raises(
        serving.IndexExpired,
        match=r"expired at \d{4}-\d\d-\d\dT.*Z \(serial \d+\); refusing a stale or "
        "frozen index",
    ):
        world.open()
    world.sign(now=week_ago, expires_in=timedelta(days=9))  # the same commit, re-signed with a later expiry
    assert _champion(world.open()).version == 3


def test_an_older_index_is_refused_also_by_a_new_process(world: World, tmp_path: Path) -> None:
    old = world.sign(tmp_path / "old-index.json")
    world.promote(4)
    world.sign()
    assert _champion(world.open()).version == 4
    world.index.write_bytes(old.read_bytes())  # a mirror replays last week's index: champion back to v3
    with pytest.raises(
        serving.IndexRollback,
        match=r"has serial \d+, older than serial \d+ accepted before; refusing a "
        "replayed or rolled-back index",
    ):
        world.open()
    # a fresh process knows it from the state file
    code = (
        "import sys; from mlgate import serving\n"
        "try:\n    serving.open_source(sys.argv[1], trusted_keys=[sys.argv[2]], state_file=sys.argv[3])\n"
        "except serving.IndexRefused as e:\n    print(type(e).__name__); sys.exit(1)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(world.index), str(world.key.public), str(world.state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout.strip()) == (1, "IndexRollback"), proc.stderr
    # only the index's own location is remembered: a state file that never saw it takes it (documented)
    assert _champion(world.open(state_file=tmp_path / "elsewhere.json")).version == 3


def test_the_same_serial_is_accepted_re_signed_but_not_for_another_commit(world: World) -> None:
    world.sign(expires_in="1d")
    world.open()
    world.sign(expires_in="7d")  # the daily re-sign: same serial, later expiry
    assert _champion(world.open()).version == 3
    # another commit with the same first-parent count (a rewritten main, or another branch signed by mistake)
    world.repo.git.git("switch", "--quiet", "-c", "rewritten", "main~1")
    world.promote(4)
    assert _first_parent_count(world.repo, "rewritten") == _first_parent_count(world.repo, "main")
    world.sign(ref="rewritten")
    with pytest.raises(serving.IndexRollback, match="was accepted for commit .*history rewritten"):
        world.open()


def test_the_watcher_keeps_the_last_good_index(world: World, tmp_path: Path) -> None:
    old = world.sign(tmp_path / "old-index.json")
    world.index.parent.mkdir(exist_ok=True)
    world.index.write_bytes(old.read_bytes())
    source = world.open()
    seen: list = []
    watcher = serving.Watcher(source, lambda moves, error: seen.append((moves, error)), interval=3600)
    world.promote(4)
    world.sign()
    good = world.index.read_bytes()
    assert watcher.poll_once() == [serving.AliasMove(MODEL, "champion", 3, 4)]
    evil = tmp_path / "evil.bin"
    evil.write_bytes(b"evil")
    attacks = {
        "replay": lambda: world.index.write_bytes(old.read_bytes()),
        "forgery": lambda: (world.index.write_bytes(good), _forge_champion(world.index, evil.as_uri(), b"evil")),
        "foreign key": lambda: world.sign(key=world.other.private),
        "expired": lambda: world.sign(now=datetime.now(timezone.utc) - timedelta(days=30)),
        "unsigned": lambda: write_index(build_index(world.repo.root, "main"), world.index),
    }
    expected = {
        "replay": serving.IndexRollback,
        "forgery": serving.IndexBadSignature,
        "foreign key": serving.IndexUntrustedKey,
        "expired": serving.IndexExpired,
        "unsigned": serving.IndexUnsigned,
    }
    for name, attack in attacks.items():
        attack()
        assert watcher.poll_once() == [], name
        assert type(seen[-1][1]) is expected[name] and seen[-1][0] == [], name
        assert watcher.state[(MODEL, "champion")] == 4, name
        assert _champion(source).version == 4, name  # the source keeps serving the last good index
    world.index.write_bytes(good)
    assert watcher.poll_once() == []  # back to the good index: no move, no error
    assert len(seen) == 1 + len(attacks)


def test_malformed_signatures_are_refused(world: World) -> None:
    world.sign()
    data = json.loads(world.index.read_text())
    for bad, cls in (
        (["x"], serving.IndexBadSignature),
        ({"keyid": 1}, serving.IndexBadSignature),
        ([{"keyid": world.key.keyid, "sig": "not base64!"}], serving.IndexBadSignature),
        ([{"keyid": world.key.keyid, "sig": base64.b64encode(b"\0" * 64).decode()}], serving.IndexBadSignature),
    ):
        world.index.write_text(json.dumps({**data, "signatures": bad}))
        with pytest.raises(cls):
            world.open()


def test_trusted_keys_in_every_documented_form(world: World) -> None:
    from cryptography.hazmat.primitives import serialization

    world.sign()
    pem = world.key.public.read_text()
    raw = serving.load_public_key(pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw_file = world.tmp / "keys" / "index-key.raw"
    raw_file.write_bytes(raw)
    for form in (pem, pem.encode(), world.key.public, str(world.key.public), raw, raw_file):
        assert _champion(world.open(trusted_keys=[form], state_file=False)).version == 3, type(form)
    assert _champion(world.open(trusted_keys=world.key.public, state_file=False)).version == 3  # one key, not a list
    for bad, message in (
        ([], "trusted_keys is empty"),
        ([world.key.private], "is not a PEM public key"),
        ([world.tmp / "nope.pub"], "cannot read the trusted key"),
        ([b"short"], "not an ed25519 public key"),
        ([42], "expected PEM text or bytes"),
    ):
        with pytest.raises(serving.ServingError, match=message):
            world.open(trusted_keys=bad)
    with pytest.raises(serving.ServingError, match="a git or checkout source is not signed"):
        serving.open_source(world.repo.root, trusted_keys=[world.key.public])


def test_state_file_false_remembers_in_memory_only(world: World, tmp_path: Path) -> None:
    old = world.sign(tmp_path / "old-index.json")
    world.promote(4)
    world.sign()
    source = world.open(state_file=False)
    world.index.write_bytes(old.read_bytes())
    with pytest.raises(serving.IndexRollback):
        source.token()
    assert not world.state.exists()


def test_a_corrupt_state_file_is_an_error_not_a_reset(world: World) -> None:
    world.sign()
    world.state.parent.mkdir(parents=True)
    world.state.write_text("{not json")
    with pytest.raises(serving.ServingError, match="index state file .* is corrupt .*delete it to start over"):
        world.open()


# --- the command line -----------------------------------------------------------------------------------


def test_index_help_examples_work(repo: RegistryRepo, tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["index", "--help"]) == 0
    help_text = capsys.readouterr()[0]
    examples = re.findall(r"^\s+(mlgate index .*?|MLGATE_INDEX_KEY=.*?)(?:\s+#.*)?$", help_text, re.M)
    assert len(examples) == 6  # the sixth writes to S3: tests/s3/test_index_upload.py runs it on moto's server
    monkeypatch.chdir(tmp_path)
    assert main(["-C", str(repo.root), *shlex.split(examples[0])[1:]]) == 0
    assert "index-key.pub (public" in capsys.readouterr()[0]
    assert main(["-C", str(repo.root), *shlex.split(examples[1])[1:]]) == 0
    monkeypatch.setenv("MLGATE_INDEX_KEY", (tmp_path / "index-key").read_text())
    assert main(["-C", str(repo.root), *shlex.split(examples[2].split('" ', 1)[1])[1:]]) == 0
    source = serving.open_source(
        tmp_path / "registry-index.json", trusted_keys=[tmp_path / "index-key.pub"], state_file=tmp_path / "state.json"
    )
    assert serving.resolve("models:/fraud-detector@champion", source).version == 2
    # the sharded layout, then an incremental build on top of it
    assert main(["-C", str(repo.root), *shlex.split(examples[3])[1:]]) == 0
    assert main(["-C", str(repo.root), *shlex.split(examples[4])[1:]]) == 0
    sharded = serving.open_source(tmp_path / "registry-index" / "index.json", models=["fraud-detector"])
    assert serving.resolve("models:/fraud-detector@champion", sharded).version == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--generate-key", "{keys}/index-key"],
            "refusing to overwrite .*index-key and .*index-key.pub; nothing was written",
        ),
        (["--key", "{keys}/index-key"], "signing needs --ref REF"),
        (["--ref", "main", "--key", "{keys}/index-key.pub"], "not a PEM private key mlgate can read"),
        (["--ref", "main", "--key", "{keys}/missing"], "cannot read the signing key: No such file or directory"),
        (
            ["--ref", "main", "--key-env", "MLGATE_TEST_UNSET_KEY"],
            "--key-env MLGATE_TEST_UNSET_KEY: the environment variable is not set or empty",
        ),
        (["--ref", "main", "--key", "{keys}/index-key", "--key-env", "X"], "--key FILE or --key-env NAME, not both"),
        (
            ["--ref", "main", "--key", "{keys}/index-key", "--expires-in", "0d"],
            "--expires-in '0d': expected a positive number",
        ),
        (["--ref", "main", "--key", "{keys}/index-key", "--expires-in", "366d"], "at most 365d"),
        (["--generate-key", "{keys}/new", "-o", "x.json"], "--generate-key creates a key pair and nothing else"),
    ],
)
def test_index_command_errors_are_one_line_exit_2(repo: RegistryRepo, tmp_path: Path, capsys, args, message) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    assert main(["index", "--generate-key", str(keys / "index-key")]) == 0
    capsys.readouterr()
    code = main(["-C", str(repo.root), "index", *[a.format(keys=keys) for a in args]])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1 and re.search(message, err), err
    assert not (keys / "new").exists()


def test_a_generated_private_key_is_private_and_a_raw_seed_signs_too(tmp_path: Path, repo: RegistryRepo) -> None:
    pair = generate_key(tmp_path / "k")
    assert (pair.private.stat().st_mode & 0o777) == 0o600
    assert pair.private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert pair.public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    seed = tmp_path / "seed"
    seed.write_bytes(os.urandom(32))
    index = tmp_path / "i.json"
    assert main(["-C", str(repo.root), "index", "--ref", "main", "--key", str(seed), "-o", str(index)]) == 0
    public = load_signing_key(seed).public_key()
    assert (
        serving.resolve(
            "models:/fraud-detector@champion", serving.open_source(index, trusted_keys=[public], state_file=False)
        ).version
        == 2
    )


def test_signing_a_shallow_clone_is_refused(repo: RegistryRepo, tmp_path: Path, capsys) -> None:
    repo.write("registry/README.md", "second commit\n")
    repo.commit("second")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", repo.root.as_uri(), str(shallow)], check=True)
    generate_key(tmp_path / "k")
    code = main(["-C", str(shallow), "index", "--ref", "HEAD", "--key", str(tmp_path / "k")])
    assert code == 2
    assert "shallow clone" in capsys.readouterr()[1]
