"""``collect_status`` walks ``children`` from the ``status`` query: every workflow queried once,
siblings concurrently, a relation cycle cut where it closes, an unanswerable workflow shown as
``unreachable`` with the reason (a stand-in client; the real one is in test_deploy.py)."""

from __future__ import annotations

import asyncio

from runtime.status_tree import collect_status, not_loaded


class FakeHandle:
    def __init__(self, client: "FakeClient", wid: str) -> None:
        self.client, self.wid = client, wid

    async def query(self, name: str, rpc_timeout=None):
        assert name == "status"
        self.client.calls.append(self.wid)
        self.client.in_flight += 1
        self.client.peak = max(self.client.peak, self.client.in_flight)
        await asyncio.sleep(0.05)
        self.client.in_flight -= 1
        if self.wid not in self.client.statuses:
            raise RuntimeError("workflow not found for ID: " + self.wid)
        return self.client.statuses[self.wid]


class FakeClient:
    def __init__(self, statuses: dict) -> None:
        self.statuses, self.calls, self.in_flight, self.peak = statuses, [], 0, 0

    def get_workflow_handle(self, wid: str) -> FakeHandle:
        return FakeHandle(self, wid)


def status(wid: str, children: list[str], loaded: bool = True) -> dict:
    entity, _, key = wid.partition("-")
    return {"workflow_id": wid, "workflow_type": f"{entity}Workflow", "entity": entity, "id": key,
            "status": "running", "loaded": loaded, "last_error": None, "api_url": None,
            "tokens": {"crm": None}, "children": children}


async def test_walks_the_hierarchy_concurrently_and_cuts_cycles() -> None:
    client = FakeClient({
        "User-u1": status("User-u1", ["Listing-l1", "Listing-l2", "Listing-l3"]),
        "Listing-l1": status("Listing-l1", ["User-u1"]),          # owner relation: a cycle
        "Listing-l2": status("Listing-l2", ["Photo-p1"]),
        "Listing-l3": status("Listing-l3", ["Photo-p1", "Photo-p9"], loaded=False),
        "Photo-p1": status("Photo-p1", []),                        # reached twice (a diamond)
    })
    tree = await collect_status(client, "User-u1")
    ids = [n.workflow_id for n in tree.walk()]
    assert ids == ["User-u1", "Listing-l1", "Listing-l2", "Photo-p1", "Listing-l3", "Photo-p1", "Photo-p9"]
    assert sorted(client.calls) == sorted(set(client.calls))      # each workflow queried once
    assert client.peak == 3                                        # the three listings at once
    missing = next(n for n in tree.walk() if n.workflow_id == "Photo-p9")
    assert missing.status == "unreachable" and "not started yet" in missing.last_error
    assert (missing.entity, missing.id, missing.children) == ("Photo", "p9", [])
    assert [n.workflow_id for n in not_loaded([tree])] == ["Listing-l3", "Photo-p9"]
