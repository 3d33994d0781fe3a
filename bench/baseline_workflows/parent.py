"""`BaselineParent`: load the entity, start one child per id of its relation (the next
level), and forward every `apiToken` to all its children at once (see bench/baseline.py
for the two ways, `mode` "client" and "child")."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.baseline import load

LOCAL_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="BaselineParent")
class BaselineParent:
    def __init__(self) -> None:
        self.token: dict[str, str] = {}
        self.children: list[str] = []
        self.pending: list[dict[str, str]] = []

    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        self.token = inp["token"]
        level, below = inp["levels"][0], inp["levels"][1:]
        record = await load(level, inp["id"], self.token, inp["base_url"])
        kind = "BaselineParent" if len(below) > 1 else "BaselineLeaf"
        children = [
            {"id": f"{below[0]['entity']}-{cid}", "workflow": kind,
             "arg": {**inp, "id": cid, "levels": below, "token": self.token}}
            for cid in record[level["field"]]
        ]
        self.children = [c["id"] for c in children]
        await self._start(inp["mode"], children)
        while True:
            await workflow.wait_condition(lambda: bool(self.pending))
            sealed, self.pending = self.pending[-1], []
            await self._forward(inp["mode"], sealed)

    async def _start(self, mode: str, children: list[dict[str, Any]]) -> None:
        if mode == "client":
            await workflow.execute_local_activity(
                "baseline_start", {"children": children, "task_queue": workflow.info().task_queue},
                start_to_close_timeout=LOCAL_TIMEOUT)
            return
        await asyncio.gather(*(
            workflow.start_child_workflow(c["workflow"], c["arg"], id=c["id"],
                                          parent_close_policy=workflow.ParentClosePolicy.ABANDON)
            for c in children))

    async def _forward(self, mode: str, sealed: dict[str, str]) -> None:
        if mode == "client":
            await workflow.execute_local_activity(
                "baseline_signal", {"ids": self.children, "signal": "apiToken", "arg": sealed},
                start_to_close_timeout=LOCAL_TIMEOUT)
            return
        await asyncio.gather(*(workflow.get_external_workflow_handle(wid).signal("apiToken", sealed)
                               for wid in self.children))

    @workflow.signal
    def apiToken(self, sealed: dict[str, str]) -> None:  # noqa: N802 - swfc's signal name
        self.token = sealed
        self.pending.append(sealed)

    @workflow.query
    def fingerprint(self) -> str:
        return self.token["fingerprint"]
