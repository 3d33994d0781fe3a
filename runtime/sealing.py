"""Sealed tokens: how a token's plain text stays out of Temporal.

Stage: used by the CLI (`seal`) before a token leaves the process, by workflow code
(`is_sealed_token`, `sealed_at`: shape checks that need no key), and by the HTTP activity
(`open_sealed`, the only place a token is opened). See docs/runtime.md "Secrets".

A `SealedToken` is `{"api", "fingerprint", "sealed"}`. `sealed` is
`"v2.<sealed at, epoch ms>." + base64(nonce || AES-256-GCM(token))`, with the api, the
fingerprint, the *deployment* (`namespace/task queue`) and the time as associated data: a
sealed token opens only for the api it names, in the deployment it was sealed for, and
cannot claim to be newer than it is. `v1.` tokens (api and fingerprint only) still pass the
shape check, so histories recorded before v2 replay unchanged, but no longer open.

The seal key is `SWFC_SEAL_KEY` (base64 of 32 bytes) or the file `.swfc/seal.key` (created
0600, atomically). Fingerprints are keyed (HMAC-SHA-256 under a key derived from the seal
key): one cannot guess a token from its fingerprint without the seal key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from pathlib import Path
from typing import Any

SEAL_KEY_ENV = "SWFC_SEAL_KEY"
DEFAULT_KEY_PATH = Path(".swfc") / "seal.key"
_V1, _V2 = "v1.", "v2."
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{12}$")
_API = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SEALED = re.compile(r"^(v1\.|v2\.(?P<at>[0-9]{1,16})\.)[A-Za-z0-9+/=]{40,}$")


class SealError(ValueError):
    """A sealed token could not be opened (wrong key or deployment, tampered, malformed,
    too old a format), or no usable key. Never holds the token."""


class TokenError(ValueError):
    """A token that cannot go into an HTTP header. Its text never holds the token."""


def token_problem(token: str) -> str | None:
    """Why `token` cannot be sent as a header value (never quoting it), or None.

    Only visible ASCII (`!` to `~`) is accepted: anything else is either refused by the
    HTTP layer, whose error would quote the header, or a copy-paste accident (a trailing
    newline from a secret file)."""
    if not token:
        return "the token is empty"
    for position, c in enumerate(token, 1):
        if not "!" <= c <= "~":
            kind = "a space or control character" if c <= " " or c == "\x7f" else "a non-ASCII character"
            where = "at its end (a trailing newline?)" if position == len(token) else f"at position {position}"
            return f"the token has {kind} {where}; only visible ASCII characters are accepted"
    return None


def deployment(namespace: str, task_queue: str) -> str:
    """The deployment a token is sealed for: the Temporal namespace and task queue whose
    workers run the hierarchy (`default/swfc`)."""
    return f"{namespace}/{task_queue}"


def fingerprint(token: str, key: bytes | None = None) -> str:
    """`sha256:` + 12 hex digits of HMAC-SHA-256(token) under a key derived from the seal
    key: safe to show and to store, and no help in guessing the token."""
    key = key if key is not None else load_key(create=False)
    fp_key = hmac.new(key, b"swfc-fingerprint", hashlib.sha256).digest()
    return "sha256:" + hmac.new(fp_key, token.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


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


def sealed_at(obj: Any) -> int:
    """When a sealed token says it was sealed (epoch ms; 0 for v1 or a malformed one).
    Authenticated when the token is opened, so a forged time only makes it unopenable."""
    m = _SEALED.match(obj.get("sealed", "")) if isinstance(obj, dict) and isinstance(obj.get("sealed"), str) else None
    return int(m.group("at")) if m and m.group("at") else 0


def load_key(path: Path | None = None, *, create: bool = True) -> bytes:
    """The seal key: `SWFC_SEAL_KEY` if set, else the key file (created 0600 when missing).

    Args:
        path: the key file, default `.swfc/seal.key` under the working directory.
        create: create the file with a fresh random key when it does not exist.
    Raises:
        SealError naming where the key was looked for (`SWFC_SEAL_KEY` set but empty is
        an error, not a reason to look elsewhere).
    """
    env = os.environ.get(SEAL_KEY_ENV)
    if env is not None:
        if not env.strip():
            raise SealError(f"{SEAL_KEY_ENV} is set but empty: set it to the base64 key, or unset it to use {path or DEFAULT_KEY_PATH}")
        return _decode_key(env, SEAL_KEY_ENV)
    path = path or DEFAULT_KEY_PATH
    if path.exists():
        return _decode_key(path.read_text().strip(), str(path))
    if not create:
        raise SealError(f"no seal key: set {SEAL_KEY_ENV} or create {path.resolve()}")
    return _create_key(path)


def _create_key(path: Path) -> bytes:
    """Write a fresh key to `path` atomically: the file appears whole or not at all, and of
    several processes racing to create it, every one returns the key that won."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(key).decode() + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if another process got there first: then use theirs
    except FileExistsError:
        return _decode_key(path.read_text().strip(), str(path))
    finally:
        tmp.unlink(missing_ok=True)
    return key


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SealError(f"seal key from {where} is not base64") from None
    if len(key) != 32:
        raise SealError(f"seal key from {where} must be 32 bytes, got {len(key)}")
    return key


def _aad(api: str, fp: str, where: str, at: int) -> bytes:
    return f"swfc-token-v2\x00{api}\x00{fp}\x00{where}\x00{at}".encode()


def seal(api: str, token: str, key: bytes | None = None, *, deployment: str) -> dict[str, str]:
    """Seal `token` for `api` in `deployment` (see `deployment()`).

    Returns:
        The SealedToken dict, safe to put in a workflow input, signal or history.
    Raises:
        TokenError (never quoting the token) when it is not visible ASCII.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    problem = token_problem(token)
    if problem:
        raise TokenError(problem)
    key = key if key is not None else load_key()
    fp = fingerprint(token, key)
    at = time.time_ns() // 1_000_000
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, token.encode("ascii"), _aad(api, fp, deployment, at))
    return {"api": api, "fingerprint": fp, "sealed": f"{_V2}{at}." + base64.b64encode(nonce + ct).decode()}


def open_sealed(sealed: dict[str, str], key: bytes | None = None, *, deployment: str) -> str:
    """Open a SealedToken in `deployment`. Only the HTTP activity calls this.

    Raises:
        SealError (whose text never contains the token) if the shape, format, key,
        deployment or tag is wrong.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not is_sealed_token(sealed):
        raise SealError("not a sealed token")
    if sealed["sealed"].startswith(_V1):
        raise SealError(f"the {sealed['api']} token ({sealed['fingerprint']}) was sealed before tokens were bound "
                        f"to a deployment: set it again (swfc token set, or deploy again)")
    key = key if key is not None else load_key(create=False)
    at = sealed_at(sealed)
    raw = base64.b64decode(sealed["sealed"].rsplit(".", 1)[1])
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], _aad(sealed["api"], sealed["fingerprint"], deployment, at))
    except InvalidTag:
        raise SealError(
            f"the {sealed['api']} token ({sealed['fingerprint']}) does not open in deployment {deployment}: it was "
            f"sealed for another namespace or task queue, or with another seal key") from None
    token = plain.decode("ascii")
    if fingerprint(token, key) != sealed["fingerprint"]:
        raise SealError("sealed token fingerprint mismatch")
    return token
