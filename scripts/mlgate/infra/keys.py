"""ed25519 keys of the serving index: reading public keys (serving) and private keys (the publisher),
generating a pair, and a key's id. The only importer of ``cryptography``, which is loaded only when a key is
used, so a server that checks no signature never imports it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from mlgate.errors import InputError, ServingError, UsageError

if TYPE_CHECKING:
    from pathlib import Path

TrustedKey = Union[str, bytes, "os.PathLike[str]"]
"""A public key serving trusts: PEM text or bytes (``-----BEGIN PUBLIC KEY-----``), 32 raw bytes, or the path
(``str`` not starting with ``-----BEGIN``, or a ``PathLike``) of a file holding either."""

_KEY_FILE_MAX = 64 * 1024


def _read_small(path: str, limit: int = _KEY_FILE_MAX) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ServingError(f"{path} is larger than {limit // 1024} KiB: not a key file")
    return data


def load_public_key(key: TrustedKey) -> Any:
    """An ed25519 public key (``cryptography``'s ``Ed25519PublicKey``) from PEM text or bytes, 32 raw bytes,
    or a path to a file holding either; :class:`ServingError` with a one-line reason otherwise."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, os.PathLike) or (isinstance(key, str) and not key.lstrip().startswith("-----BEGIN")):
        where = os.fspath(key)
        try:
            raw = _read_small(where)
        except OSError as e:
            raise ServingError(f"cannot read the trusted key {where}: {e.strerror}") from None
    elif isinstance(key, (str, bytes, bytearray)):
        where, raw = "a trusted key", key.encode() if isinstance(key, str) else bytes(key)
    else:
        raise ServingError(
            f"a trusted key of type {type(key).__name__}: expected PEM text or bytes, 32 raw bytes or a path"
        )
    if len(raw) == 32 and not raw.startswith(b"-----BEGIN"):
        return Ed25519PublicKey.from_public_bytes(raw)
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            loaded = serialization.load_pem_public_key(raw.strip() + b"\n")
        except (ValueError, TypeError) as e:
            raise ServingError(
                f"{where} is not a PEM public key ({str(e).splitlines()[0] if str(e) else 'unreadable'})"
            ) from None
        except Exception:  # noqa: BLE001 - cryptography's UnsupportedAlgorithm and friends
            raise ServingError(f"{where} is not a PEM public key of a supported kind") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise ServingError(f"{where} is a {type(loaded).__name__.lstrip('_')}, not an ed25519 public key")
        return loaded
    raise ServingError(f"{where} is not an ed25519 public key (expected PEM or 32 raw bytes)")


def key_id(public_key: Any) -> str:
    """A key's id as indexes record it: the sha256 of its 32 raw public bytes, in hex."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


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
    from pathlib import Path

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
