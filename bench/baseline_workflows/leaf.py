"""`BaselineLeaf`: load the entity, then hold the token (updated by `apiToken`)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.baseline import load


@workflow.defn(name="BaselineLeaf")
class BaselineLeaf:
    def __init__(self) -> None:
        self.token: dict[str, str] = {}

    @workflow.run
    async def run(self, inp: dict[str, Any]) -> None:
        self.token = inp["token"]
        await load(inp["levels"][0], inp["id"], self.token, inp["base_url"])
        await workflow.wait_condition(lambda: False)  # runs until cancelled/terminated

    @workflow.signal
    def apiToken(self, sealed: dict[str, str]) -> None:  # noqa: N802 - swfc's signal name
        self.token = sealed

    @workflow.query
    def fingerprint(self) -> str:
        return self.token["fingerprint"]
