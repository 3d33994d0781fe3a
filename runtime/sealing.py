"""Sealed tokens: how a token's plain text stays out of Temporal.

Stage: used by the CLI (`seal`) before a token leaves the process, by workflow code
(`is_sealed_token`, a shape check that needs no key), and by the HTTP activity
(`open_sealed`, the only place a token is opened). See docs/runtime.md "Secrets".

A `SealedToken` is `{"api", "fingerprint", "sealed"}`; `sealed` is `"v1." + base64(nonce ||
AES-256-GCM(token))` with `api` and `fingerprint` as associated data, so a sealed token
cannot be replayed under another api or a forged fingerprint. The seal key is
`SWFC_SEAL_KEY` (base64 of 32 bytes) or the file `.swfc/seal.key` (created 0600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path
from typing import Any

SEAL_KEY_ENV = "SWFC_SEAL_KEY"
DEFAULT_KEY_PATH = Path(".swfc") / "seal.key"
_PREFIX = "v1."
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{12}$")
_API = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SEALED = re.compile(r"^v1\.[A-Za-z0-9+/=]{40,}$")


class SealError(ValueError):
    """A sealed token could not be opened (wrong key, tampered, malformed). Never holds the token."""


def fingerprint(token: str) -> str:
    """`sha256:` + the first 12 hex digits of sha256(token): safe to show and to store."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


def is_sealed_token(obj: Any) -> bool:
    """True if `obj` has exactly the SealedToken shape (no key needed: usable in workflows)."""
    return (
        isinstance(obj, dict)
        and set(obj) == {"api", "fingerprint", "sealed"}
        and all(isinstance(obj[k], str) for k in obj)
        and bool(_API.match(obj["api"]))
        and bool(_FINGERPRINT.match(obj["fingerprint"]))
        and bool(_SEALED.match(obj["sealed"]))
    )


def load_key(path: Path | None = None, *, create: bool = True) -> bytes:
    """The seal key: `SWFC_SEAL_KEY` if set, else the key file (created 0600 when missing).

    Args:
        path: the key file, default `.swfc/seal.key` under the working directory.
        create: create the file with a fresh random key when it does not exist.
    """
    env = os.environ.get(SEAL_KEY_ENV)
    if env:
        return _decode_key(env, SEAL_KEY_ENV)
    path = path or DEFAULT_KEY_PATH
    if path.exists():
        return _decode_key(path.read_text().strip(), str(path))
    if not create:
        raise SealError(f"no seal key: set {SEAL_KEY_ENV} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(key).decode() + "\n")
    return key


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"seal key from {where} is not base64") from None
    if len(key) != 32:
        raise SealError(f"seal key from {where} must be 32 bytes, got {len(key)}")
    return key


def _aad(api: str, fp: str) -> bytes:
    return f"swfc-token\x00{api}\x00{fp}".encode()


def seal(api: str, token: str, key: bytes | None = None) -> dict[str, str]:
    """Seal `token` for `api`.

    Returns:
        The SealedToken dict, safe to put in a workflow input, signal or history.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = key if key is not None else load_key()
    fp = fingerprint(token)
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, token.encode("utf-8"), _aad(api, fp))
    return {"api": api, "fingerprint": fp, "sealed": _PREFIX + base64.b64encode(nonce + ct).decode()}


def open_sealed(sealed: dict[str, str], key: bytes | None = None) -> str:
    """Open a SealedToken. Only the HTTP activity calls this.

    Raises:
        SealError (whose text never contains the token) if the shape, key or tag is wrong.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not is_sealed_token(sealed):
        raise SealError("not a sealed token")
    key = key if key is not None else load_key(create=False)
    raw = base64.b64decode(sealed["sealed"][len(_PREFIX):])
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(sealed["api"], sealed["fingerprint"]))
    except InvalidTag:
        raise SealError(
            f"sealed token for api {sealed['api']} ({sealed['fingerprint']}) does not open with this seal key"
        ) from None
    token = plain.decode("utf-8")
    if fingerprint(token) != sealed["fingerprint"]:
        raise SealError("sealed token fingerprint mismatch")
    return token
