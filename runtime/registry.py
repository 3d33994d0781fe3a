"""Registrations held by this worker process, by IR hash.

Stage: filled by `runtime.worker` before the worker polls; read by the workflow (which
imports this module through `workflow.unsafe.imports_passed_through()`, so the sandbox sees
the same dict instead of a fresh copy) and by the activities. Keyed by hash so a replay
interprets exactly the registration its input names, even after a redeploy.
"""

from __future__ import annotations

from runtime.ir import IR

_REGISTRY: dict[str, IR] = {}


def register(ir: IR) -> None:
    """Make `ir` available to workflows and activities of this process."""
    _REGISTRY[ir.hash] = ir


def get(ir_hash: str) -> IR | None:
    """The registration for `ir_hash`, or None if this worker does not hold it."""
    return _REGISTRY.get(ir_hash)
