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
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from runtime.client import distinct, failed_for_good, not_loaded, summarize, with_status
from runtime.protocol import Status

_STATUS_STYLE = {Status.RUNNING: "green", Status.LOADING: "cyan", Status.WAITING_FOR_TOKEN: "yellow",
                 Status.RATE_LIMITED: "yellow", Status.ERROR: "red", Status.DELETED: "dim", Status.UNREACHABLE: "red"}


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
    if not held and node["status"] != Status.UNREACHABLE:
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


ATTENTION_SHOWN = 20  # workflows listed by name in a summary; the rest are counted
TREE_LIMIT = 50  # the live view of `deploy` draws trees up to this many workflows


def render_summary(trees: list[dict]) -> Group:
    """``swfc status``'s default view: the root(s), how many workflows have loaded, a table
    of counts by workflow type and status, and the workflows that need attention."""
    data = summarize(trees)
    lines: list[Any] = [_node_label({**t, "last_error": None}) for t in trees]
    lines.append(Text(f"{data['workflows']} workflows, {data['loaded']} loaded"))
    table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
    table.add_column("workflow type")
    statuses = sorted({st for counts in data["by_type"].values() for st in counts})
    for st in statuses:
        table.add_column(st, justify="right", style=_STATUS_STYLE.get(st, ""))
    for wtype, counts in data["by_type"].items():
        table.add_row(wtype, *(str(counts.get(st, "")) for st in statuses))
    lines.append(table)
    attention = data["attention"]
    if attention:
        lines.append(Text(f"needs attention: {len(attention)}", style="bold red"))
        lines += [_flat_label(n) for n in attention[:ATTENTION_SHOWN]]
        if len(attention) > ATTENTION_SHOWN:
            lines.append(Text(f"  … and {len(attention) - ATTENTION_SHOWN} more "
                              f"(swfc status ROOT --status STATUS, or --tree)", style="dim"))
    return Group(*lines)


def render_with_status(trees: list[dict], status: str) -> Group:
    """``swfc status --status S``: one line per workflow with that status."""
    nodes = with_status(trees, status)
    return Group(Text(f"{len(nodes)} of {len(distinct(trees))} workflows {status}"),
                 *(_flat_label(n) for n in nodes))


def _flat_label(node: dict) -> Text:
    text = Text("  ")
    text.append_text(_node_label({**node, "last_error": None}))
    if node["last_error"]:
        text.append(f"\n    last error: {node['last_error']}", style="red")
    return text


def hierarchy(trees: list[dict], *, tree: bool | None = None, status: str | None = None) -> Group:
    """The view of running hierarchies: the workflows with ``status``; else the whole tree
    (``tree`` True) or the summary (False; None: the tree while it is small, as ``deploy``
    shows it)."""
    if status is not None:
        return render_with_status(trees, status)
    if tree is None:
        tree = len(distinct(trees)) <= TREE_LIMIT
    if tree:
        return Group(*(render_tree(t) for t in trees))
    return render_summary(trees)


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
    """The trees while they are small, else their summary (``hierarchy``)."""
    console().print(hierarchy(trees))


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


async def live_view(fetch: Callable[[], Awaitable[list[dict]]],
                    render: Callable[[list[dict]], Any] = hierarchy) -> None:
    """The live hierarchy until cancelled (Ctrl-C): redrawn in a terminal, reprinted on change
    otherwise. ``fetch`` gives the current status trees, ``render`` what to show of them."""
    out = console()
    hint = "[dim]Ctrl-C to stop[/dim]"
    if not out.is_terminal:
        last = None
        while True:
            started = time.monotonic()
            trees = await fetch()
            if trees != last:
                view = render(trees)
                if isinstance(view, str):
                    print(view)
                else:
                    out.print(view)
                sys.stdout.flush()
                last = trees
            await _pause(started)
    with Live(console=out, refresh_per_second=4) as live:
        while True:
            started = time.monotonic()
            view = render(await fetch())
            live.update(Group(Text(view) if isinstance(view, str) else view, hint))
            await _pause(started)


async def _pause(started: float) -> None:
    """Wait as long as the last fetch took, at least 1 s: the walk of a 10,000-workflow tree
    queries every workflow, and a live view should not keep the workers busy answering."""
    await asyncio.sleep(max(1.0, time.monotonic() - started))
