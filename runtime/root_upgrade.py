"""Asking a running root to move to another registration (an edited spec).

Stage: the caller's side of the runtime, used by ``runtime.roots`` when a root runs an IR
other than the one deployed. Sends the ``upgrade`` update (the workflow side is
``runtime.upgrade``; the root passes the upgrade down its hierarchy) and gives an
``UpgradeOutcome``: facts, which the caller words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from rules.names import UPGRADE_UPDATE
from runtime.delivery import refusal

UPGRADE_TIMEOUT = 60.0  # seconds for a worker to take the `upgrade` update


@dataclass(frozen=True)
class UpgradeOutcome:
    """What became of an upgrade from ``from_hash`` to ``to_hash``. ``kind``: ``upgraded``
    (its hierarchy follows); ``refused`` (``reason``: the workflow's own words); ``unanswered``
    (no worker took the update within ``timeout`` seconds)."""

    kind: Literal["upgraded", "refused", "unanswered"]
    from_hash: str
    to_hash: str
    reason: str | None = None
    timeout: float | None = None


async def upgrade_root(handle: WorkflowHandle, current: str, ir_hash: str, *, tokens: dict[str, Any],
                       api_bases: dict[str, str], timeout: float = UPGRADE_TIMEOUT) -> UpgradeOutcome:
    """Ask the workflow of ``handle``, running IR ``current``, to move to ``ir_hash`` with
    ``tokens`` (sealed) and ``api_bases``. Never raises for a refusal."""
    request = {"ir_hash": ir_hash, "tokens": tokens, "api_bases": api_bases}
    try:
        await asyncio.wait_for(handle.execute_update(UPGRADE_UPDATE, request), timeout)
    except WorkflowUpdateFailedError as exc:
        return UpgradeOutcome("refused", current, ir_hash, reason=refusal(exc))
    except asyncio.TimeoutError:
        return UpgradeOutcome("unanswered", current, ir_hash, timeout=timeout)
    return UpgradeOutcome("upgraded", current, ir_hash)
