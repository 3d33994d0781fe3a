"""What the runtime commands show: status trees, the live view and the ``--until-loaded``
summary (a spec's diagnostics are shown by ``cli.main.report``, as ``swfc validate`` shows them).

Stage: the CLI's rendering, under ``cli/runtime_cmds.py``. Takes the runtime's data (status
trees of ``runtime.protocol.StatusNode`` as ``runtime.status_tree`` walks them, DESIGN.md §5;
``Summary`` and ``Filtered`` of ``runtime.status_summary``); gives rich renderables and output
on stdout/stderr. Talks to no server: the live view is handed a function that fetches.
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

from runtime.protocol import Status, StatusNode
from runtime.status_summary import Filtered, Summary, filter_trees, summarize
from runtime.status_tree import distinct, failed_for_good, not_loaded

_STATUS_STYLE = {Status.RUNNING: "green", Status.LOADING: "cyan", Status.WAITING_FOR_TOKEN: "yellow",
                 Status.RATE_LIMITED: "yellow", Status.ERROR: "red", Status.DELETED: "dim", Status.UNREACHABLE: "red"}


def say(message: str) -> None:
    print(message, flush=True)


def render_tree(tree: StatusNode) -> Tree:
    """A rich ``Tree`` of a status tree: id, type, status, loaded, tokens, last error."""

    def add(parent: Tree, node: StatusNode) -> None:
        branch = parent.add(_node_label(node))
        for child in node.children:
            add(branch, child)

    root = Tree(_node_label(tree))
    for child in tree.children:
        add(root, child)
    return root


def _node_label(node: StatusNode, *, with_error: bool = True) -> Text:
    text = Text()
    text.append(node.workflow_id, style="bold")
    if node.workflow_type:
        text.append(f" {node.workflow_type}", style="dim")
    text.append(f"  {node.status or '?'}", style=_STATUS_STYLE.get(node.status, ""))
    if node.next_try:  # within the hour: the time says it
        text.append(f" (next try {_utc(node.next_try)[11:]})", style="yellow")
    text.append("  loaded" if node.loaded else "  not loaded", style="" if node.loaded else "yellow")
    held = {api: fp for api, fp in sorted(node.tokens.items()) if fp}
    for api, fp in held.items():
        text.append(f"  {api} {fp}", style="magenta")
    if not held and node.status != Status.UNREACHABLE:
        text.append("  no tokens", style="dim")
    if node.proxy:
        text.append(f"  via proxy {node.proxy}", style="dim")
    if node.checked_at:
        text.append(f"  checked {_utc(node.checked_at)}", style="dim")
    if with_error and node.last_error:
        text.append(f"\n  last error: {node.last_error}", style="red")
    return text


def _utc(iso: str) -> str:
    """`2026-11-30T19:59:00.123+00:00` as `2026-11-30 19:59:00Z` (the queries answer in UTC)."""
    return iso[:10] + " " + iso[11:19] + "Z" if len(iso) >= 19 else iso


ATTENTION_SHOWN = 20  # workflows listed by name in a summary; the rest are counted
TREE_LIMIT = 50  # the live view of `deploy` draws trees up to this many workflows


VISIBILITY_NOTE = "counted by Temporal's visibility store (statuses as last settled, a moment late; --tree asks each)"


def render_summary(summary: Summary) -> Group:
    """``swfc status``'s default view: the root(s), how many workflows (and how many have
    loaded, when known), a table of counts by workflow type and status, and the workflows
    that need attention."""
    lines: list[Any] = [_node_label(r, with_error=False) for r in summary.roots]
    loaded = f", {summary.loaded} loaded" if summary.loaded is not None else ""
    lines.append(Text(f"{summary.workflows} workflows{loaded}"))
    table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
    table.add_column("workflow type")
    statuses = sorted({st for counts in summary.by_type.values() for st in counts})
    for st in statuses:
        table.add_column(st, justify="right", style=_STATUS_STYLE.get(st, ""))
    for wtype, counts in summary.by_type.items():
        table.add_row(wtype, *(str(counts.get(st, "")) for st in statuses))
    lines.append(table)
    if summary.attention_total:
        lines.append(Text(f"needs attention: {summary.attention_total}", style="bold red"))
        shown = summary.attention[:ATTENTION_SHOWN]
        lines += [_flat_label(n) for n in shown]
        if summary.attention_total > len(shown):
            lines.append(Text(f"  … and {summary.attention_total - len(shown)} more "
                              f"(swfc status ROOT --status STATUS, or --tree)", style="dim"))
    if summary.from_visibility:
        lines.append(Text(VISIBILITY_NOTE, style="dim"))
    return Group(*lines)


def render_filtered(filtered: Filtered) -> Group:
    """``swfc status --status S``: one line per workflow with that status."""
    return Group(Text(f"{len(filtered.matches)} of {filtered.total} workflows {filtered.status}"),
                 *(_flat_label(node) for node, _ in filtered.matches))


def _flat_label(node: StatusNode) -> Text:
    text = Text("  ")
    text.append_text(_node_label(node, with_error=False))
    if node.last_error:
        text.append(f"\n    last error: {node.last_error}", style="red")
    return text


def hierarchy(trees: list[StatusNode], *, tree: bool | None = None, status: str | None = None) -> Group:
    """The view of walked hierarchies: the workflows with ``status``; else the whole tree
    (``tree`` True) or the summary (False; None: the tree while it is small, as ``deploy``
    shows it)."""
    if status is not None:
        return render_filtered(filter_trees(trees, status))
    if tree is None:
        tree = len(distinct(trees)) <= TREE_LIMIT
    if tree:
        return Group(*(render_tree(t) for t in trees))
    return render_summary(summarize(trees))


def trees_or_summaries(data: list[StatusNode] | list[Summary]) -> Group:
    """``deploy``'s live view of what it fetched: walked trees (``hierarchy``) or summaries."""
    if data and isinstance(data[0], Summary):
        return Group(*(render_summary(s) for s in data))
    return hierarchy(data)


def summary_lines(trees: list[StatusNode]) -> list[str]:
    """One line per workflow that has not loaded, saying why (for ``--until-loaded``)."""
    lines = []
    for node in not_loaded(trees):
        why = node.last_error or f"status {node.status}"
        lines.append(f"  {node.workflow_id} ({node.workflow_type or '?'}): {node.status}: {why}")
    return lines


def console(file: Any = None) -> Console:
    """A console on ``file`` (stdout); 120 columns when piped or captured."""
    out = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 120  # piped or captured: don't wrap at rich's 80-column default
    return out


def print_trees(trees: list[StatusNode]) -> None:
    """The trees while they are small, else their summary (``hierarchy``)."""
    console().print(hierarchy(trees))


def print_loaded(trees: list[StatusNode]) -> None:
    """``--until-loaded`` succeeded: how many workflows, then the trees."""
    say(f"loaded: all {len(distinct(trees))} workflows of the hierarchy have loaded")
    print_trees(trees)


def print_not_loaded(trees: list[StatusNode], timeout: float) -> None:
    """``--until-loaded`` timed out: the trees, then what has not loaded and why (stderr)."""
    print_trees(trees)
    waiting = not_loaded(trees)
    when = "failed for good (not retried)" if failed_for_good(waiting) else f"not loaded after {timeout:g}s"
    print(f"swfc: {when}: {len(waiting)} workflow(s):", file=sys.stderr)
    print("\n".join(summary_lines(trees)), file=sys.stderr)


async def live_view(fetch: Callable[[], Awaitable[Any]], render: Callable[[Any], Any] = hierarchy) -> None:
    """The live hierarchy until cancelled (Ctrl-C): redrawn in a terminal, reprinted on change
    otherwise. ``fetch`` gives the current data (status trees, a summary), ``render`` what
    to show of it (a renderable or text)."""
    out = console()
    hint = "[dim]Ctrl-C to stop[/dim]"
    if not out.is_terminal:
        last = None
        while True:
            started = time.monotonic()
            data = await fetch()
            if data != last:
                view = render(data)
                if isinstance(view, str):
                    print(view)
                else:
                    out.print(view)
                sys.stdout.flush()
                last = data
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
