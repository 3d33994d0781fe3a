"""`BaselineRefresh`: reload every `every_ms`; continue as new at `history_limit` events (or
when Temporal suggests it), carrying the number of loads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.baseline import load


@workflow.defn(name="BaselineRefresh")
class BaselineRefresh:
    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        level = inp["levels"][0]
        while True:
            await load(level, inp["id"], inp["token"], inp["base_url"])
            inp["loads"] = inp.get("loads", 0) + 1
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() >= inp["history_limit"]:
                workflow.continue_as_new(inp)
            await workflow.sleep(timedelta(milliseconds=inp["every_ms"]))
