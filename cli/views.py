"""What the runtime commands show: status trees, the live view and the ``--until-loaded``
summary (a spec's diagnostics are shown by ``cli.main.report``, as ``swfc validate`` shows them).

Stage: the CLI's rendering, under ``cli/runtime_cmds.py``. Takes plain data (status objects
as ``runtime.client.collect_status`` gives them, DESIGN.md §5; diagnostics); gives rich
renderables and output on stdout/stderr. Talks to no server: the live view is handed a
function that fetches the trees.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from runtime.client import distinct, failed_for_good, not_loaded

_STATUS_STYLE = {"running": "green", "loading": "cyan", "waiting_for_token": "yellow", "rate_limited": "yellow",
                 "error": "red", "deleted": "dim", "unreachable": "red"}


def say(message: str) -> None:
    print(message, flush=True)


def render_tree(tree: dict) -> Tree:
    """A rich ``Tree`` of a status object: id, type, status, loaded, tokens, last error."""

    def add(parent: Tree, node: dict) -> None:
        branch = parent.add(_node_label(node))
        for child in node["children"]:
            add(branch, child)

    root = Tree(_node_label(tree))
    for child in tree["children"]:
        add(root, child)
    return root


def _node_label(node: dict) -> Text:
    text = Text()
    text.append(node["workflow_id"], style="bold")
    if node["workflow_type"]:
        text.append(f" {node['workflow_type']}", style="dim")
    text.append(f"  {node['status'] or '?'}", style=_STATUS_STYLE.get(node["status"], ""))
    if node.get("next_try"):  # within the hour: the time says it
        text.append(f" (next try {_utc(node['next_try'])[11:]})", style="yellow")
    text.append("  loaded" if node["loaded"] else "  not loaded", style="" if node["loaded"] else "yellow")
    held = {api: fp for api, fp in sorted(node["tokens"].items()) if fp}
    for api, fp in held.items():
        text.append(f"  {api} {fp}", style="magenta")
    if not held and node["status"] != "unreachable":
        text.append("  no tokens", style="dim")
    if node.get("proxy"):
        text.append(f"  via proxy {node['proxy']}", style="dim")
    if node.get("checked_at"):
        text.append(f"  checked {_utc(node['checked_at'])}", style="dim")
    if node["last_error"]:
        text.append(f"\n  last error: {node['last_error']}", style="red")
    return text


def _utc(iso: str) -> str:
    """`2026-11-30T19:59:00.123+00:00` as `2026-11-30 19:59:00Z` (the queries answer in UTC)."""
    return iso[:10] + " " + iso[11:19] + "Z" if len(iso) >= 19 else iso


def summary_lines(trees: list[dict]) -> list[str]:
    """One line per workflow that has not loaded, saying why (for ``--until-loaded``)."""
    lines = []
    for node in not_loaded(trees):
        why = node["last_error"] or f"status {node['status']}"
        lines.append(f"  {node['workflow_id']} ({node['workflow_type'] or '?'}): {node['status']}: {why}")
    return lines


def console(file: Any = None) -> Console:
    """A console on ``file`` (stdout); 120 columns when piped or captured."""
    out = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # piped or captured: don't wrap at rich's 80-column default
    return out


def print_trees(trees: list[dict]) -> None:
    out = console()
    for tree in trees:
        out.print(render_tree(tree))


def print_loaded(trees: list[dict]) -> None:
    """``--until-loaded`` succeeded: how many workflows, then the trees."""
    say(f"loaded: all {len(distinct(trees))} workflows of the hierarchy have loaded")
    print_trees(trees)


def print_not_loaded(trees: list[dict], timeout: float) -> None:
    """``--until-loaded`` timed out: the trees, then what has not loaded and why (stderr)."""
    print_trees(trees)
    waiting = not_loaded(trees)
    when = "failed for good (not retried)" if failed_for_good(waiting) else f"not loaded after {timeout:g}s"
    print(f"swfc: {when}: {len(waiting)} workflow(s):", file=sys.stderr)
    print("\n".join(summary_lines(trees)), file=sys.stderr)


async def live_view(fetch: Callable[[], Awaitable[list[dict]]]) -> None:
    """The live hierarchy until cancelled (Ctrl-C): redrawn in a terminal, reprinted on change
    otherwise. ``fetch`` gives the current status trees."""
    out = console()
    hint = "[dim]Ctrl-C to stop[/dim]"
    if not out.is_terminal:
        last = None
        while True:
            trees = await fetch()
            if trees != last:
                print_trees(trees)
                last = trees
            await asyncio.sleep(1)
    with Live(console=out, refresh_per_second=4) as live:
        while True:
            trees = await fetch()
            live.update(Group(*(render_tree(t) for t in trees), hint))
            await asyncio.sleep(1)
