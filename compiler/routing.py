"""Token routing and the workflow graph, exactly as docs/ir.md "Token routing" says.

Stage: after `check`. Takes the `Symbols`; gives `Routes`: each workflow's `needs` (the
apis whose token it must hold) and the child edges that close a relation cycle
(`stops_recursion`). Reports SWF060 (a need crosses `token none`), SWF061 (a deployed
root lacks a token), SWF062 (an auth api no deployment can reach), SWF063 (a deploy gives
a token nobody needs) and the SWF080 warning for relation cycles.

Needs flow up the child edges from the sources that use an `auth` api: a worklist over
the reverse edges, linear in the size of the graph, and cycles need no special case.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from dsl import ast
from dsl.diagnostics import Collector, Note

from compiler.resolve import Symbols, WorkflowView

Edge = tuple[str, int]  # (parent workflow, index into its children)


@dataclass
class Routes:
    """`needs[W]`: sorted apis; `stops`: edges that close a relation cycle."""

    needs: dict[str, list[str]] = field(default_factory=dict)
    stops: set[Edge] = field(default_factory=set)


class Graph:
    """The workflow graph: child edges whose target workflow is declared."""

    def __init__(self, symbols: Symbols):
        self.s = symbols
        self.out: dict[str, list[tuple[int, str]]] = {w: [] for w in symbols.workflows}
        self.parents: dict[str, list[str]] = {w: [] for w in symbols.workflows}
        for name, wf in symbols.workflows.items():
            for i, child in enumerate(wf.children):
                target = child.stmt.workflow.value
                if target in self.out:
                    self.out[name].append((i, target))
                    self.parents[target].append(name)
        self.own = {name: self.own_needs(wf) for name, wf in symbols.workflows.items()}

    def own_needs(self, wf: WorkflowView) -> dict[str, ast.Name]:
        """The `auth` apis `wf` itself requests (its source, its collections), each with
        where it is first used."""
        needs: dict[str, ast.Name] = {}
        for use in wf.api_uses():
            api = self.s.apis.get(use.value)
            if api is not None and api.has_auth:
                needs.setdefault(use.value, use)
        return needs

    def path_to_user(self, start: str, api: str) -> list[str]:
        """The shortest path from `start` to a workflow whose source uses `api`, through
        workflows that are not `token none` (`start` itself may be)."""
        prev: dict[str, str | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if api in self.own[node]:
                path = [node]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return path[::-1]
            for _, target in self.out[node]:
                if target not in prev and not self.s.workflows[target].token_none:
                    prev[target] = node
                    queue.append(target)
        return [start]


class Router:
    """Computes `Routes` and reports the token findings."""

    def __init__(self, symbols: Symbols, diags: Collector):
        self.s = symbols
        self.diags = diags
        self.g = Graph(symbols)
        self.routes = Routes()

    def run(self) -> Routes:
        raw = self.propagate()
        for name, wf in self.s.workflows.items():
            if wf.token_none:
                self.crossing(wf, raw[name])
                self.routes.needs[name] = []
            else:
                self.routes.needs[name] = sorted(raw[name])
        for dep in self.s.deploys:
            self.deploy(dep)
        roots = [d.decl.workflow.value for d in self.s.deploys]
        if roots and all(r in self.s.workflows for r in roots):  # else: unknowable
            self.unreachable(roots)
        self.cycles()
        return self.routes

    def propagate(self) -> dict[str, set[str]]:
        """Every workflow's needs before `token none` cuts its own (needs stop going up
        at a `token none` workflow; it is reported instead)."""
        raw: dict[str, set[str]] = {w: set() for w in self.s.workflows}
        work = []
        for name, apis in self.g.own.items():
            for api in apis:
                raw[name].add(api)
                work.append((name, api))
        while work:
            node, api = work.pop()
            if self.s.workflows[node].token_none:
                continue
            for parent in self.g.parents[node]:
                if api not in raw[parent]:
                    raw[parent].add(api)
                    work.append((parent, api))
        return raw

    def crossing(self, wf: WorkflowView, wanted: set[str]) -> None:
        for api in sorted(wanted):
            path = self.g.path_to_user(wf.name, api)
            user = self.s.workflows[path[-1]]
            self.diags.add(
                "SWF060",
                f"workflow `{wf.name}` is `token none`, but it needs a token for api "
                f"`{api}`: {describe(path, api, self.s)}",
                wf.token.span,
                notes=(Note(f"api `{api}` used here", self.g.own[user.name][api].span),)
                if api in self.g.own[user.name] else (),
                hint=f"remove `token none`, or stop `{path[-1]}` from using api `{api}`")

    def deploy(self, dep) -> None:
        root = self.s.workflows.get(dep.decl.workflow.value)
        if root is None:
            return
        needs = self.routes.needs[root.name]
        for api in needs:
            if api not in dep.tokens:
                path = self.g.path_to_user(root.name, api)
                self.diags.add(
                    "SWF061",
                    f"deployed root `{root.name}` needs a token for api `{api}` "
                    f"({describe(path, api, self.s)}), but its deploy block gives none",
                    dep.decl.workflow.span,
                    hint=f'add `token {api} from env "{api.upper()}_TOKEN"` to the deploy block')
        for api, tok in dep.tokens.items():
            if api in self.s.apis and api not in needs:
                self.diags.add("SWF063", f"deployed root `{root.name}` needs no token for api "
                               f"`{api}`: {self.why_not(root, api)}", tok.span,
                               hint="remove this line: a root holds only the tokens it needs")

    def why_not(self, root: WorkflowView, api: str) -> str:
        if not self.s.apis[api].has_auth:
            return f"api `{api}` has no `auth`"
        if root.token_none:
            return f"`{root.name}` is `token none`"
        return f"no workflow below `{root.name}` uses api `{api}`"

    def unreachable(self, roots: list[str]) -> None:
        seen = set()
        queue = deque(roots)
        while queue:
            node = queue.popleft()
            if node not in seen:
                seen.add(node)
                queue.extend(t for _, t in self.g.out[node])
        for name, apis in self.g.own.items():
            for api, use in apis.items() if name not in seen else ():
                self.diags.add(
                    "SWF062",
                    f"workflow `{name}` uses api `{api}` (auth {self.s.apis[api].auth.scheme}), "
                    "but no deployed root reaches it, so it can never receive a token",
                    use.span,
                    hint=f"deploy `{name}`, or make it a child of a deployed workflow")

    def cycles(self) -> None:
        """Depth-first from the deployed roots, then every workflow in declaration order;
        an edge back to a workflow on the current path closes a cycle (SWF080)."""
        starts = [d.decl.workflow.value for d in self.s.deploys] + list(self.s.workflows)
        done: set[str] = set()
        for start in starts:
            if start in self.g.out and start not in done:
                self.dfs(start, done)

    def dfs(self, start: str, done: set[str]) -> None:
        path = [start]
        on_path = {start}
        stack = [iter(self.g.out[start])]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
                continue
            i, target = edge
            if target in on_path:
                self.cycle(path[-1], i, path[path.index(target):] + [target])
            elif target not in done:
                path.append(target)
                on_path.add(target)
                stack.append(iter(self.g.out[target]))

    def cycle(self, parent: str, index: int, loop: list[str]) -> None:
        self.routes.stops.add((parent, index))
        stmt = self.s.workflows[parent].children[index].stmt
        self.diags.add(
            "SWF080",
            "relation cycle " + " -> ".join(loop) + f": the runtime stops recursion at "
            f"`child {stmt.field.value} -> {stmt.workflow.value}` in `{parent}` (no workflow "
            "is started for an entity already managed above it)",
            stmt.span)


def describe(path: list[str], api: str, symbols: Symbols) -> str:
    """Why a workflow needs `api`'s token, for the message: its own source or collection, or
    a path to one."""
    user = symbols.workflows[path[-1]]
    what = "source" if user.source is not None and user.source.api.value == api else "collection"
    if len(path) == 1:
        return f"its own {what} uses api `{api}`"
    return f"{' -> '.join(path)}, and `{path[-1]}`'s {what} uses api `{api}`"


def route(symbols: Symbols, diags: Collector) -> Routes:
    """Compute every workflow's token needs and the recursion stops; report findings."""
    return Router(symbols, diags).run()
