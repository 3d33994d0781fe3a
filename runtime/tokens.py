"""Tokens on the caller's side: the seal key, tokens read from the environment and sealed,
and rotating a running workflow's token.

Stage: the caller's side of the runtime (``runtime.roots`` seals the roots' tokens with
it; ``swfc token set`` rotates one). Takes the environment and a client; gives sealed
tokens (``runtime.sealing``: a token's plain text never leaves this process) or the typed
errors of ``runtime.client_errors``, which name variables and apis, never a token.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client

from runtime.client_errors import ApiNotUsed, BadToken, NoSealKey, SealKeyUnusable
from runtime.sealing import DEFAULT_KEY_PATH, SEAL_KEY_ENV, SealError, load_key, seal, token_problem

TOKEN_QUERY_TIMEOUT = timedelta(seconds=15)  # generous: a busy 2-core machine is still "answering"


def seal_key(on_new_key: Callable[[Path], None] | None = None) -> bytes:
    """The seal key (``SWFC_SEAL_KEY``, else ``.swfc/seal.key``, made when missing).

    Args:
        on_new_key: told the key file's path when a new one was made, since every worker
            and every client of a deployment must share the key.
    Raises:
        SealKeyUnusable.
    """
    fresh = not os.environ.get(SEAL_KEY_ENV) and not DEFAULT_KEY_PATH.exists()
    try:
        key = load_key()
    except SealError as exc:
        raise SealKeyUnusable(str(exc)) from None
    if fresh and on_new_key is not None:
        on_new_key(DEFAULT_KEY_PATH)
    return key


def workers_key() -> bytes:
    """The deployment's existing seal key, never a fresh one (no worker could open what it
    seals, and a worker with a fresh key could open nothing).

    Raises:
        NoSealKey, saying where it was looked for.
    """
    try:
        return load_key(create=False)
    except SealError as exc:
        raise NoSealKey(str(exc)) from None


def token_from_env(api: str, environ: Mapping[str, str], var: str) -> str:
    """The token in ``$var``, checked (visible ASCII only).

    Raises:
        BadToken naming the variable and what is wrong with its value (never the value).
    """
    problem = token_problem(environ.get(var, ""))
    if problem:
        raise BadToken(var, api, problem)
    return environ[var]


def seal_from_env(api: str, environ: Mapping[str, str], var: str, key: bytes | None,
                  deployment: str) -> dict[str, str]:
    """The token in ``$var`` sealed for ``api`` in ``deployment``.

    Raises:
        BadToken (never the value).
    """
    return seal(api, token_from_env(api, environ, var), key=key, deployment=deployment)


async def rotate_token(client: Client, workflow_id: str, sealed: dict[str, str]) -> bool:
    """Send ``sealed`` (a SealedToken) to ``workflow_id`` as its ``apiToken`` signal; the
    workflow forwards it to the workflows below that need that api.

    Returns:
        Whether the workflow answered its ``status`` query first (it is asked which apis it
        holds tokens for; a workflow that does not answer is sent the token anyway, and
        refuses it if it does not use that api).
    Raises:
        ApiNotUsed when the workflow answers that it holds no token for the sealed token's api.
    """
    api = sealed["api"]
    handle = client.get_workflow_handle(workflow_id)
    try:
        status = await handle.query("status", rpc_timeout=TOKEN_QUERY_TIMEOUT)
    except Exception:  # noqa: BLE001 - no answer (no worker, an old one): send anyway
        status = None
    # `needs`: the apis this workflow holds tokens for (older workers answer only `tokens`).
    held = status.get("needs", status.get("tokens")) if isinstance(status, dict) else None
    if held is not None and api not in held:
        raise ApiNotUsed(workflow_id, api, sorted(held))
    await handle.signal("apiToken", sealed)
    return held is not None
