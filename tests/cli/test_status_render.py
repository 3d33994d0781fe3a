"""How ``swfc status`` and ``swfc deploy`` draw a hierarchy: a fixed status tree rendered
into ``Console(file=StringIO(), width=100)`` and compared with a golden text file
(``SWFC_UPDATE_GOLDEN=1`` rewrites it)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.console import Console

from cli.views import hierarchy, render_tree, summary_lines
from runtime.protocol import StatusNode
from runtime.status_summary import ATTENTION_STATUSES, filter_trees
from runtime.status_tree import NEEDS_ATTENTION, needs_attention

GOLDEN = Path(__file__).parent / "golden" / "status_tree.txt"


def node(wid: str, wtype: str | None, status: str, loaded: bool, tokens: dict, last_error=None,
         children=(), **more) -> StatusNode:
    entity, _, key = wid.partition("-")
    return StatusNode(wid, wtype, entity, key, status, loaded, last_error, api_url="http://127.0.0.1:8787",
                      tokens=tokens, children=list(children), **more)


FP = "sha256:1f2e3d4c5b6a"
TREE = node("User-u1", "UserWorkflow", "running", True, {"crm": FP}, children=[
    node("Listing-l1", "ListingWorkflow", "running", True, {"crm": FP}, children=[
        node("Photo-p1", "PhotoWorkflow", "running", True, {"crm": None}),
    ]),
    node("Listing-l2", "ListingWorkflow", "waiting_for_token", False, {"crm": FP},
         last_error="HTTP 401: the crm token was refused; waiting for a new one"),
    node("Listing-l3", None, "unreachable", False, {}, last_error="not started yet (or not found)"),
    node("Listing-l4", "ListingWorkflow", "rate_limited", False, {"crm": FP},
         last_error="HTTP 403: api crm is rate limited; next try at 2026-11-30T20:00:05+00:00",
         next_try="2026-11-30T20:00:05+00:00"),
], checked_at="2026-11-30T19:59:00+00:00")


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


def _text(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None, highlight=False).print(renderable)
    return out.getvalue()


def _big_tree(members: int, errors: int) -> StatusNode:
    """A root with `members` children, the first `errors` of them in error."""
    children = [node(f"Member-m{i}", "MemberWorkflow", "error" if i < errors else "running", i >= errors,
                     {"hr": FP}, last_error="HTTP 500 from /members" if i < errors else None)
                for i in range(members)]
    return node("Group-g1", "GroupWorkflow", "running", True, {"hr": FP}, children=children)


def test_the_summary_counts_by_type_and_status_and_lists_what_needs_attention() -> None:
    text = _text(hierarchy([_big_tree(10_000, 25)], tree=False))
    lines = text.splitlines()
    assert lines[0] == "Group-g1 GroupWorkflow  running  loaded  hr sha256:1f2e3d4c5b6a"
    assert lines[1] == "10001 workflows, 9976 loaded"
    assert lines[2].split() == ["workflow", "type", "error", "running"]
    assert lines[3].split() == ["GroupWorkflow", "1"] and lines[4].split() == ["MemberWorkflow", "25", "9975"]
    assert lines[5] == "needs attention: 25"
    assert "Member-m0 MemberWorkflow  error  not loaded" in lines[6] and "HTTP 500 from /members" in lines[7]
    assert "… and 5 more" in lines[-1]
    assert len(lines) < 60  # a summary, not 10,001 lines


def test_a_workflow_running_with_a_refused_signal_needs_attention() -> None:
    text = _text(hierarchy([TREE], tree=False))
    assert "needs attention: 3" in text and "Listing-l2" in text and "Listing-l4" in text and "Listing-l1" not in text


def test_what_the_visibility_store_is_asked_for_is_what_the_summary_lists() -> None:
    # The count of workflows needing attention comes from the visibility store (by status),
    # the list from their answers: a rate-limited workflow is in both, with or without an error.
    waiting = node("Listing-l5", "ListingWorkflow", "rate_limited", False, {"crm": FP})
    assert needs_attention(waiting)
    assert set(ATTENTION_STATUSES) == set(NEEDS_ATTENTION) - {"unreachable"}


def test_status_filter_lists_only_workflows_with_that_status() -> None:
    text = _text(hierarchy([_big_tree(100, 3)], status="error"))
    assert text.splitlines()[0] == "3 of 101 workflows error"
    assert [line.split()[0] for line in text.splitlines()[1:] if line.startswith("  Member")] == \
        ["Member-m0", "Member-m1", "Member-m2"]
    [(first, children), *_] = filter_trees([_big_tree(100, 3)], "error").matches
    assert (first.workflow_id, first.children, children) == ("Member-m0", [], [])


def test_deploy_draws_small_hierarchies_as_trees_and_big_ones_as_summaries() -> None:
    assert _text(hierarchy([TREE])) == rendered()
    assert "workflows," in _text(hierarchy([_big_tree(100, 0)]))
