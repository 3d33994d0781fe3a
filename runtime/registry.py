"""Registrations held by this worker process, by IR hash.

Stage: filled by `runtime.worker` before the worker polls; read by the workflow (which
imports this module through `workflow.unsafe.imports_passed_through()`, so the sandbox sees
the same dict instead of a fresh copy) and by the activities. Keyed by hash so a replay
interprets exactly the registration its input names, even after a redeploy.

Also per task queue: how long a new workflow whose registration no worker holds waits for
one that does (`unknown_ir_grace_s`) before it fails.
"""

from __future__ import annotations

from runtime.ir import IR

DEFAULT_UNKNOWN_IR_GRACE_S = 300.0  # time for a rolling deploy to bring up a worker that holds it

_REGISTRY: dict[str, IR] = {}
_GRACE_S: dict[str, float] = {}
_CURRENT: set[str] = set()


def register(ir: IR, *, current: bool = False) -> None:
    """Make `ir` available to workflows and activities of this process.

    Args:
        current: `ir` is the spec a worker was started with (named on its command line), not
            one kept only for the workflows started under it: only a current registration
            may be the target of an `upgrade` (no rolling back to an older spec by request).
    """
    _REGISTRY[ir.hash] = ir
    if current:
        _CURRENT.add(ir.hash)


def is_current(ir_hash: str) -> bool:
    """True when a worker of this process was started with the registration `ir_hash`."""
    return ir_hash in _CURRENT


def get(ir_hash: str) -> IR | None:
    """The registration for `ir_hash`, or None if this worker does not hold it."""
    return _REGISTRY.get(ir_hash)


def holding(workflow_type: str) -> list[IR]:
    """The registrations this worker holds that declare `workflow_type`, by hash."""
    return [ir for _, ir in sorted(_REGISTRY.items()) if workflow_type in ir.workflows]


def set_unknown_ir_grace(task_queue: str, seconds: float) -> None:
    """How long, on `task_queue`, a new workflow of a registration this worker lacks fails
    its task (so that a worker holding it can take it) before it fails for good."""
    _GRACE_S[task_queue] = seconds


def unknown_ir_grace_s(task_queue: str) -> float:
    return _GRACE_S.get(task_queue, DEFAULT_UNKNOWN_IR_GRACE_S)
