"""How ``swfc status`` and ``swfc deploy`` draw a hierarchy: a fixed status tree rendered
into ``Console(file=StringIO(), width=100)`` and compared with a golden text file
(``SWFC_UPDATE_GOLDEN=1`` rewrites it)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.console import Console

from cli.views import render_tree, summary_lines

GOLDEN = Path(__file__).parent / "golden" / "status_tree.txt"


def node(wid: str, wtype: str | None, status: str, loaded: bool, tokens: dict, last_error=None,
         children=()) -> dict:
    entity, _, key = wid.partition("-")
    return {"workflow_id": wid, "workflow_type": wtype, "entity": entity, "id": key, "status": status,
            "loaded": loaded, "last_error": last_error, "api_url": "http://127.0.0.1:8787",
            "tokens": tokens, "children": list(children)}


FP = "sha256:1f2e3d4c5b6a"
TREE = {**node("User-u1", "UserWorkflow", "running", True, {"crm": FP}, children=[
    node("Listing-l1", "ListingWorkflow", "running", True, {"crm": FP}, children=[
        node("Photo-p1", "PhotoWorkflow", "running", True, {"crm": None}),
    ]),
    node("Listing-l2", "ListingWorkflow", "waiting_for_token", False, {"crm": FP},
         last_error="HTTP 401: the crm token was refused; waiting for a new one"),
    {**node("Listing-l3", None, "unreachable", False, {}), "entity": "Listing", "id": "l3",
     "last_error": "not started yet (or not found)"},
    {**node("Listing-l4", "ListingWorkflow", "rate_limited", False, {"crm": FP},
            last_error="HTTP 403: api crm is rate limited; next try at 2026-11-30T20:00:05+00:00"),
     "next_try": "2026-11-30T20:00:05+00:00"},
]), "checked_at": "2026-11-30T19:59:00+00:00"}


def rendered() -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, highlight=False)
    console.print(render_tree(TREE))
    return out.getvalue()


def test_tree_matches_golden() -> None:
    if os.environ.get("SWFC_UPDATE_GOLDEN"):
        GOLDEN.write_text(rendered())
    assert rendered() == GOLDEN.read_text()


def test_summary_says_what_has_not_loaded_and_why() -> None:
    assert summary_lines([TREE]) == [
        "  Listing-l2 (ListingWorkflow): waiting_for_token: HTTP 401: the crm token was refused; "
        "waiting for a new one",
        "  Listing-l3 (?): unreachable: not started yet (or not found)",
        "  Listing-l4 (ListingWorkflow): rate_limited: HTTP 403: api crm is rate limited; next try at "
        "2026-11-30T20:00:05+00:00",
    ]
