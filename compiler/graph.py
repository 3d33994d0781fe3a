"""The declared hierarchy as a Mermaid flowchart, for `swfc graph`.

Stage: a view of the IR (after `emit`). Takes the IR dict; gives Mermaid text. Nodes are
workflows (with their entity, source and `token none`), edges are child relations labelled
with the field, the list endpoint of a collection, and the tokens that travel down them; deployments are extra root nodes.
"""

from __future__ import annotations


UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def duration(ms: int) -> str:
    """300000 -> "5m": the largest unit that divides it."""
    return next(f"{ms // size}{unit}" for unit, size in UNITS if ms % size == 0)


def node(name: str) -> str:
    """A Mermaid node id that can never clash with a keyword such as `end`."""
    return "wf_" + name


def label(*lines: str) -> str:
    text = "<br/>".join(lines)
    return '"' + text.replace('"', "#quot;") + '"'


def workflow_node(name: str, wf: dict) -> str:
    lines = [f"<b>{name}</b>", f"manages {wf['entity']}"]
    src = wf["source"]
    if src is not None:
        every = f" every {duration(src['every_ms'])}" if src["every_ms"] else ""
        lines.append(f"{src['api']} GET {src['path']}{every}")
    if wf["token"] == "none":
        lines.append("token none")
    return f"  {node(name)}[{label(*lines)}]"


def child_edge(parent: str, child: dict) -> str:
    parts = [child["field"] + ("[]" if child["many"] else "")]
    col = child.get("collection")
    if col is not None:
        pages = f", paginate {col['paginate']['style']}" if col["paginate"] else ""
        every = f" every {duration(col['every_ms'])}" if col["every_ms"] else ""
        parts.append(f"from {col['api']} GET {col['template']}{pages}{every}")
    if child["tokens"]:
        parts.append("tokens: " + ", ".join(child["tokens"]))
    if child["stops_recursion"]:
        parts.append("stops recursion")
    arrow = "-.->" if child["stops_recursion"] or not child["autostart"] else "-->"
    return f"  {node(parent)} {arrow}|{label(*parts)}| {node(child['workflow'])}"


def to_mermaid(ir: dict) -> str:
    """Mermaid `flowchart TD` text of the IR's workflow hierarchy."""
    out = ["flowchart TD"]
    for name, wf in ir["workflows"].items():
        out.append(workflow_node(name, wf))
    for i, dep in enumerate(ir["deployments"]):
        tokens = "tokens: " + (", ".join(sorted(dep["tokens"])) or "none")
        out.append(f"  deploy{i}([{label('deploy ' + dep['workflow_id'], tokens)}])")
        out.append(f"  deploy{i} ==> {node(dep['workflow'])}")
    for name, wf in ir["workflows"].items():
        for child in wf["children"]:
            out.append(child_edge(name, child))
    none = [n for n, wf in ir["workflows"].items() if wf["token"] == "none"]
    if none:
        out.append("  classDef tokenNone stroke-dasharray: 5 5")
        out.append(f"  class {','.join(map(node, none))} tokenNone")
    return "\n".join(out) + "\n"
