"""The serving index: one JSON file with every model's aliases and artifacts, signed with ed25519.

``mlgate index`` writes it from a validated registry (publish.yml does so on every push to main, and daily to
re-sign it before it expires); :mod:`mlgate.serving` reads it, checks the digest and, given the public keys,
the signature, the expiry and the serial, and resolves without parsing any YAML.

What a signed index carries besides the models:

``serial``
    the first-parent commit count of the ref (``git rev-list --count --first-parent REF``): it grows with every
    merge, so serving refuses an index older than one it has accepted (a replay or rollback).
``expires``
    a UTC time (``--expires-in``, default 7 days): serving refuses it afterwards (a frozen mirror).
``signatures``
    ``[{"keyid": sha256 of the raw public key, "sig": base64 ed25519 signature}]`` over
    :func:`mlgate.serving.index_canonical` (everything but ``digest`` and ``signatures``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mlgate.errors import GitError, InputError, UsageError
from mlgate.registry.snapshot import Registry
from mlgate.serving import INDEX_FORMAT as FORMAT
from mlgate.serving import TIME_FORMAT, index_canonical, index_digest, key_id

DEFAULT_EXPIRES_IN = "7d"
MAX_EXPIRES_IN = timedelta(days=365)
_DURATION = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_KEY_FILE_MAX = 64 * 1024


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``...: a positive number and a unit (s, m, h, d), at most 365 days."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise UsageError(f"--expires-in {text!r}: expected a positive number and a unit s, m, h or d (e.g. 12h, 7d)")
    span = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    if span > MAX_EXPIRES_IN:
        raise UsageError(f"--expires-in {text!r}: at most 365d (re-sign more often instead)")
    return span


# --- keys ------------------------------------------------------------------------------------------------


def _private_key(raw: bytes, where: str) -> Any:
    """An ed25519 private key from PEM (PKCS#8, unencrypted) or the raw 32-byte seed. Never echoes the key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(raw.strip() + b"\n", password=None)
        except TypeError:
            raise InputError(f"{where}: the key is encrypted; mlgate needs an unencrypted PEM (PKCS#8) key") from None
        except Exception:  # noqa: BLE001 - ValueError, UnsupportedAlgorithm: their text may quote the input
            raise InputError(
                f"{where}: not a PEM private key mlgate can read (expected PKCS#8 ed25519, as "
                "mlgate index --generate-key writes)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InputError(f"{where}: a {type(key).__name__.lstrip('_')}, not an ed25519 private key")
        return key
    if len(raw) == 32:
        return Ed25519PrivateKey.from_private_bytes(raw)
    raise InputError(f"{where}: not an ed25519 private key (expected PEM, or a file of the raw 32-byte seed)")


def load_signing_key(path: str | os.PathLike[str] | None = None, env: str | None = None) -> Any:
    """The private key from a file (PEM or the raw 32-byte seed) or from an environment variable (PEM text);
    None when neither is given."""
    if path is not None and env is not None:
        raise UsageError("give the signing key once: --key FILE or --key-env NAME, not both")
    if path is not None:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(_KEY_FILE_MAX + 1)
        except OSError as e:
            raise InputError(f"cannot read the signing key: {e.strerror}", path=os.fspath(path)) from None
        if len(raw) > _KEY_FILE_MAX:
            raise InputError("larger than 64 KiB: not a key file", path=os.fspath(path))
        return _private_key(raw, os.fspath(path))
    if env is not None:
        value = os.environ.get(env, "")
        if not value.strip():
            raise UsageError(
                f"--key-env {env}: the environment variable is not set or empty (in GitHub Actions: add the "
                f"repository secret {env}; create a key with mlgate index --generate-key FILE)"
            )
        return _private_key(value.encode(), f"${env}")
    return None


@dataclass(frozen=True)
class KeyPair:
    """Where :func:`generate_key` wrote the keys, and the key id indexes will carry."""

    private: Path
    public: Path
    keyid: str


def generate_key(path: str | os.PathLike[str]) -> KeyPair:
    """A new ed25519 key pair: the private key in ``path`` (PEM PKCS#8, mode 600), the public key in
    ``path.pub`` (PEM). Refuses to overwrite either file; writes nothing then."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private, public = Path(path), Path(f"{os.fspath(path)}.pub")
    taken = [str(p) for p in (private, public) if os.path.lexists(p)]
    if taken:
        raise UsageError(f"refusing to overwrite {' and '.join(taken)}; nothing was written")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    written: list[Path] = []
    try:
        for target, data, mode in ((private, pem, 0o600), (public, pub, 0o644)):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
            written.append(target)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
    except OSError as e:
        for p in written:
            p.unlink(missing_ok=True)
        raise InputError(f"cannot write the key pair: {e.strerror}", path=str(e.filename or path)) from None
    return KeyPair(private, public, key_id(key.public_key()))


# --- the index -------------------------------------------------------------------------------------------


def _serial(reg: Registry, repo_path: str | os.PathLike[str], signing: bool) -> int:
    """The first-parent commit count of the indexed commit (of HEAD for a working tree; 0 outside git)."""
    from mlgate.infra.git import GitRepo

    try:
        git = reg.tree.repo if reg.tree.commit else GitRepo(repo_path)
        commit = reg.tree.commit or git.resolve("HEAD")
        if signing and git.git("rev-parse", "--is-shallow-repository").strip() == "true":
            raise UsageError(
                "the repository is a shallow clone, so its commit count (the index's serial) would be wrong; "
                "fetch the whole history (actions/checkout: fetch-depth: 0)"
            )
        return int(git.git("rev-list", "--count", "--first-parent", commit).strip())
    except GitError:
        if signing:
            raise
        return 0


def build_index(
    repo_path: str | os.PathLike[str] = ".",
    ref: str | None = None,
    *,
    key: Any = None,
    expires_in: timedelta | str = DEFAULT_EXPIRES_IN,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The index of the registry at ``ref`` (or the working tree). Every manifest is schema-checked on the way.

    With ``key`` (an ed25519 private key, see :func:`load_signing_key`) it is signed; signing needs ``ref``, since
    the serial counts that commit's first-parent history. ``expires_in`` counts from ``now`` (default: now).
    """
    if key is not None and ref is None:
        raise UsageError(
            "signing needs --ref REF: a signed index describes a commit (its serial is that commit's "
            "first-parent count), not a working tree"
        )
    span = parse_duration(expires_in) if isinstance(expires_in, str) else expires_in
    reg = Registry.open(repo_path, ref)
    models: dict[str, Any] = {}
    for name in reg.model_names():
        model = reg.model(name)
        versions = {}
        for n in reg.version_numbers(name):
            v = reg.version(name, n)
            versions[str(n)] = {
                "uri": v.artifact.uri,
                "sha256": v.artifact.sha256,
                "size": v.artifact.size,
                "format": v.artifact.format,
                "created_at": v.created_at,
                "run_id": v.lineage.get("run_id"),
            }
        models[name] = {
            "aliases": {a: al.version for a, al in reg.aliases(name).items()},
            "deprecated": sorted(d.version for d in model.deprecated),
            "versions": versions,
        }
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    data: dict[str, Any] = {
        "format": FORMAT,
        "commit": reg.tree.commit,
        "source": reg.tree.label,
        "serial": _serial(reg, repo_path, key is not None),
        "generated_at": now.strftime(TIME_FORMAT),
        "expires": (now + span).strftime(TIME_FORMAT),
        "models": models,
    }
    data["digest"] = index_digest(data)
    return sign_index(data, key) if key is not None else data


def sign_index(data: dict[str, Any], key: Any) -> dict[str, Any]:
    """``data`` with one ed25519 signature by ``key`` over :func:`mlgate.serving.index_canonical` (replacing any)."""
    signature = key.sign(index_canonical(data))
    return {**data, "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}]}


def write_index(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write atomically: serving never sees half an index."""
    target = Path(path)
    if (target.exists() or target.is_symlink()) and (target.is_symlink() or not target.is_file()):
        from mlgate.errors import UsageError

        raise UsageError(
            f"{target} exists and is not a regular file (a device, folder or symlink): "
            "the index replaces only a regular file"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, target)
