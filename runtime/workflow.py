"""`StatefulWorkflow`: the one dynamic Temporal workflow that interprets the IR.

Stage: runs inside the Temporal worker for every workflow type of every registration
(`@workflow.defn(dynamic=True)`: types show under their spec names). A thin shell: every
run, signal, update and query goes to a `runtime.interpreter.Interpreter` (see there for the
cycle, and for why the logic does not live in this module). Import helpers through
`imports_passed_through()` as `from runtime.x import name`: `from runtime import x` binds the
sandbox's own fresh copy of the package's attribute instead of the passed-through module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from rules.names import UPGRADE_UPDATE
    from runtime.interpreter import Interpreter

__all__ = ["StatefulWorkflow"]


# Outside the SDK's sandbox: the sandbox re-imports this module and checks every import for
# every run it starts, which is most of what a round costs a big hierarchy. The interpreter's
# determinism is kept by its own rules (runtime.interpreter: no I/O, clock or randomness but
# Temporal's) and checked by replaying stored histories (tests/runtime/test_secrecy_and_replay.py).
@workflow.defn(dynamic=True, sandboxed=False)
class StatefulWorkflow:
    """Interprets one workflow type of a registration; see `runtime.interpreter`."""

    def __init__(self) -> None:
        self._interpreter = Interpreter()

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> dict[str, Any]:
        return await self._interpreter.run(args)

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        self._interpreter.on_signal(name, args)

    @workflow.update(name=UPGRADE_UPDATE)
    async def upgrade(self, request: dict[str, Any]) -> dict[str, Any]:
        """Move to another registration (an edited spec): see `runtime.upgrade`."""
        return await self._interpreter.upgrade(request)

    @upgrade.validator
    def _validate_upgrade(self, request: dict[str, Any]) -> None:
        self._interpreter.validate_upgrade(request)

    @workflow.query(dynamic=True)
    def on_query(self, name: str, args: Sequence[RawValue]) -> Any:
        return self._interpreter.on_query(name, args)
