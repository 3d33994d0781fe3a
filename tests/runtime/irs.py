"""IR documents and API data for the runtime tests.

The IRs start from the compiler's golden output for specs/marketplace.swf
(tests/golden/marketplace.ir.json) and are re-pointed at a test API; variants add the
relation cycle `ListingWorkflow child owner -> UserWorkflow`. Every IR is checked against
compiler/ir.schema.json here, so the runtime is only ever fed documents the CLI would accept.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

from rules.ir import ir_hash
from runtime.protocol import GENERATION
from runtime.sealing import deployment, seal

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "marketplace.ir.json"
SCHEMA = json.loads((REPO / "compiler" / "ir.schema.json").read_text())


def rehash(ir: dict[str, Any]) -> dict[str, Any]:
    """Set `hash` as docs/ir.md defines it, and validate against the IR schema."""
    ir["hash"] = ir_hash(ir)
    jsonschema.validate(ir, SCHEMA)
    return ir


def marketplace_ir(api: Any, *, cycle: bool = False, retry: tuple[int, int, int] = (3, 100, 500),
                   timeout_ms: int = 3000, every_ms: int | None = None) -> dict[str, Any]:
    """The marketplace IR against the SampleAPI `api` (allow: its 127.0.0.1 and localhost
    origins), fast retries; `cycle` adds `child owner -> UserWorkflow` to ListingWorkflow."""
    ir = copy.deepcopy(json.loads(GOLDEN.read_text()))
    crm = ir["apis"]["crm"]
    crm["base"] = api.url
    crm["allow"] = [f"127.0.0.1:{api.port}", f"localhost:{api.port}"]
    crm["timeout_ms"] = timeout_ms
    crm["retry"] = {"max_attempts": retry[0], "initial_interval_ms": retry[1], "max_interval_ms": retry[2]}
    ir["workflows"]["UserWorkflow"]["source"]["every_ms"] = every_ms
    if cycle:
        ir["workflows"]["ListingWorkflow"]["children"].append({
            "field": "owner", "workflow": "UserWorkflow", "entity": "User", "many": False,
            "autostart": True, "cancel_on_delete": False, "subscribe": [], "tokens": ["crm"],
            "stops_recursion": True, "collection": None,
        })
    return rehash(ir)


def root_input(ir: dict[str, Any], uid: str, token: str | None, task_queue: str, **extra: Any) -> dict[str, Any]:
    """The input `swfc deploy` gives a UserWorkflow root (docs/runtime.md), its token sealed
    for the deployment that runs it (namespace `default`, `task_queue`)."""
    return {
        "ir_hash": ir["hash"],
        "entity_id": uid,
        "data": None,
        "tokens": {"crm": seal("crm", token, deployment=deployment("default", task_queue))} if token else {},
        "api_bases": {"crm": ir["apis"]["crm"]["base"]},
        "ancestors": [],
        "subscribers": [],
        "carried": None,
        "generation": GENERATION,
        **extra,
    }


def listing(lid: str, owner: str, photos: int = 1, title: str | None = None, price: float = 10) -> dict[str, Any]:
    return {
        "id": lid,
        "title": title or f"listing {lid}",
        "price": price,
        "owner": owner,
        "photos": [{"id": f"{lid}-p{i}", "url": f"https://img.example/{lid}/{i}.jpg"} for i in range(photos)],
    }


def put_user(api: Any, uid: str, listings: list[dict[str, Any]], *, nested: bool = False, name: str = "Ann") -> None:
    """Serve user `uid` under `{"data": ...}` and each of its listings at /listings/ID."""
    api.set_entity(f"/users/{uid}", {"data": {
        "id": uid, "name": name, "email": None, "tags": ["seller"],
        "listings": [copy.deepcopy(x) for x in listings] if nested else [x["id"] for x in listings],
    }})
    for x in listings:
        api.set_entity(f"/listings/{x['id']}", x)
