"""Name resolution: one symbol table across every loaded file.

Stage: after `loader`. Takes the loaded `Spec`s; gives `Symbols` (apis, entities,
workflows, deployments by name, each with its single-use statements picked out) and
reports duplicates (SWF010-013, with a "first defined here" note) and unknown names
(SWF020-024, with "did you mean ...?"). Later passes only look names up in `Symbols`:
a name that did not resolve is simply absent, so they skip it without a second report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl import ast
from dsl.diagnostics import Collector, Note

PRIMITIVES = ("string", "number", "integer", "boolean", "datetime", "json")
# A type `key` is left only where no reading of the entity has `key` as a field name with
# every field typed and one key at most (dsl/keys.py): say so, since the text looks fine.
KEY_AS_TYPE = ("`key` after a field's type marks that field as the key, so the next word "
               "is read as a field and `key` as its type; read as a field named `key`, this "
               "entity does not work either (a field without a type, or two keys)")


@dataclass
class ApiView:
    """An api with its statements picked out (the first of each; repeats are SWF012)."""

    decl: ast.Api
    base: ast.BaseStmt | None = None
    auth: ast.AuthStmt | None = None
    allow: ast.AllowStmt | None = None
    timeout: ast.TimeoutStmt | None = None
    retry: ast.RetryStmt | None = None
    rate: ast.RateStmt | None = None

    @property
    def has_auth(self) -> bool:
        return self.auth is not None and self.auth.scheme != "none"


@dataclass
class EntityView:
    """An entity and its fields by name (the first of each name)."""

    decl: ast.Entity
    fields: dict[str, ast.Field] = field(default_factory=dict)

    def is_relation(self, f: ast.Field) -> bool:
        return f.type.name.value not in PRIMITIVES


@dataclass
class ChildView:
    """A child edge and its options; `autostart`/`cancel` are the option nodes or None.
    `collection` is the `from` option of a relation filled from a list endpoint, with its
    `select`, `paginate`, `every` and `max_pages` (each the option node or None)."""

    stmt: ast.ChildStmt
    autostart: ast.AutostartOpt | None = None
    cancel: ast.CancelOnDeleteOpt | None = None
    subscribe: list[ast.SubscribeOpt] = field(default_factory=list)
    collection: ast.FromOpt | None = None
    select: ast.SelectStmt | None = None
    paginate: ast.PaginateOpt | None = None
    every: ast.EveryOpt | None = None
    max_pages: ast.MaxPagesOpt | None = None


@dataclass
class WorkflowView:
    """A workflow with its statements picked out; `children` in source order."""

    decl: ast.Workflow
    source: ast.SourceStmt | None = None
    select: ast.SelectStmt | None = None
    token: ast.TokenStmt | None = None
    children: list[ChildView] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.decl.name.value

    @property
    def token_none(self) -> bool:
        return self.token is not None and self.token.mode == "none"

    def api_uses(self) -> list[ast.Name]:
        """Every api this workflow itself requests: its source's, then its collections'."""
        uses = [self.source.api] if self.source is not None else []
        return uses + [c.collection.api for c in self.children if c.collection is not None]


@dataclass
class DeployView:
    """A deploy block, its tokens by api name and its `with` values by field name."""

    decl: ast.Deploy
    tokens: dict[str, ast.DeployToken] = field(default_factory=dict)
    values: dict[str, ast.DeployWith] = field(default_factory=dict)


@dataclass
class Symbols:
    """Everything declared, by name, in declaration (load) order."""

    apis: dict[str, ApiView] = field(default_factory=dict)
    entities: dict[str, EntityView] = field(default_factory=dict)
    workflows: dict[str, WorkflowView] = field(default_factory=dict)
    deploys: list[DeployView] = field(default_factory=list)


def first_here(span: ast.Span) -> tuple[Note, ...]:
    return (Note("first defined here", span),)


def suggest(name: str, candidates) -> str | None:
    """A "did you mean" hint for `name` among `candidates`, or None."""
    import difflib  # only when a name is unknown

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


API_STMTS = {ast.BaseStmt: "base", ast.AuthStmt: "auth", ast.AllowStmt: "allow",
             ast.TimeoutStmt: "timeout", ast.RetryStmt: "retry", ast.RateStmt: "rate"}
WORKFLOW_STMTS = {ast.SourceStmt: "source", ast.SelectStmt: "select", ast.TokenStmt: "token"}
CHILD_OPTS = {ast.AutostartOpt: ("autostart", "autostart"),
              ast.CancelOnDeleteOpt: ("cancel", "cancel on delete"),
              ast.FromOpt: ("collection", "from"), ast.SelectStmt: ("select", "select"),
              ast.PaginateOpt: ("paginate", "paginate"), ast.EveryOpt: ("every", "every"),
              ast.MaxPagesOpt: ("max_pages", "max ... pages")}


class Declarer:
    """First walk: enter every declaration into the tables, reporting duplicates."""

    def __init__(self, diags: Collector):
        self.diags = diags
        self.symbols = Symbols()

    def run(self, specs: list[ast.Spec]) -> Symbols:
        for spec in specs:
            for decl in spec.decls:
                visit = getattr(self, "visit_" + type(decl).__name__, None)
                if visit is not None:
                    visit(decl)
        return self.symbols

    def declare(self, table: dict, kind: str, decl, view) -> bool:
        name = decl.name.value
        if name in table:
            first = table[name].decl.name.span
            self.diags.add("SWF010", f"{kind} `{name}` is already defined", decl.name.span,
                           notes=first_here(first))
            return False
        table[name] = view
        return True

    def once(self, view, attr: str, stmt, what: str) -> None:
        """Keep the first `stmt` for `attr`; a repeat is SWF012."""
        first = getattr(view, attr)
        if first is None:
            setattr(view, attr, stmt)
            return
        self.diags.add("SWF012", f"`{what}` is given twice", stmt.span,
                       notes=first_here(first.span))

    def visit_Api(self, decl: ast.Api) -> None:
        view = ApiView(decl)
        if self.declare(self.symbols.apis, "api", decl, view):
            for stmt in decl.body:
                attr = API_STMTS.get(type(stmt))
                if attr:
                    self.once(view, attr, stmt, attr)

    def visit_Entity(self, decl: ast.Entity) -> None:
        view = EntityView(decl)
        if not self.declare(self.symbols.entities, "entity", decl, view):
            return
        for f in decl.fields:
            name = f.name.value
            if name in view.fields:
                self.diags.add("SWF011", f"field `{name}` is already defined in entity "
                               f"`{decl.name.value}`", f.name.span,
                               notes=first_here(view.fields[name].name.span))
            else:
                view.fields[name] = f

    def visit_Workflow(self, decl: ast.Workflow) -> None:
        view = WorkflowView(decl)
        if not self.declare(self.symbols.workflows, "workflow", decl, view):
            return
        seen: dict[str, ast.ChildStmt] = {}
        for stmt in decl.body:
            if isinstance(stmt, ast.ChildStmt):
                self.child(view, stmt, seen)
            elif type(stmt) in WORKFLOW_STMTS:
                self.once(view, WORKFLOW_STMTS[type(stmt)], stmt, WORKFLOW_STMTS[type(stmt)])

    def child(self, view: WorkflowView, stmt: ast.ChildStmt, seen: dict) -> None:
        name = stmt.field.value
        if name in seen:
            self.diags.add("SWF012", f"`child {name}` is given twice", stmt.field.span,
                           notes=first_here(seen[name].field.span))
            return
        seen[name] = stmt
        child = ChildView(stmt)
        for opt in stmt.options:
            if isinstance(opt, ast.SubscribeOpt):
                child.subscribe.append(opt)
            elif type(opt) in CHILD_OPTS:
                attr, what = CHILD_OPTS[type(opt)]
                self.once(child, attr, opt, what)
        view.children.append(child)

    def visit_Deploy(self, decl: ast.Deploy) -> None:
        view = DeployView(decl)
        for tok in decl.tokens:
            name = tok.api.value
            if name in view.tokens:
                self.diags.add("SWF012", f"token for api `{name}` is given twice", tok.api.span,
                               notes=first_here(view.tokens[name].api.span))
            else:
                view.tokens[name] = tok
        for value in decl.values:
            name = value.field.value
            if name in view.values:
                self.diags.add("SWF012", f"`with {name}` is given twice", value.field.span,
                               notes=first_here(view.values[name].field.span))
            else:
                view.values[name] = value
        self.symbols.deploys.append(view)


class Referencer:
    """Second walk: every name used must be declared (SWF020-024); unknown ones are
    reported once, with a suggestion, and left for later passes to skip."""

    def __init__(self, symbols: Symbols, diags: Collector):
        self.s = symbols
        self.diags = diags

    def unknown(self, code: str, kind: str, name: ast.Name, candidates) -> None:
        self.diags.add(code, f"unknown {kind} `{name.value}`", name.span,
                       hint=suggest(name.value, candidates))

    def run(self) -> None:
        for ent in self.s.entities.values():
            for f in ent.fields.values():
                self.field_type(f.type)
        for wf in self.s.workflows.values():
            self.workflow(wf)
        for dep in self.s.deploys:
            self.deploy(dep)

    def field_type(self, t: ast.TypeRef) -> None:
        name = t.name.value
        if name not in PRIMITIVES and name not in self.s.entities:
            self.diags.add("SWF024", f"unknown type `{name}`", t.name.span,
                           hint=KEY_AS_TYPE if name == "key" else suggest(name, [*PRIMITIVES, *self.s.entities])
                           or "expected a type such as `string` or an entity name")

    def workflow(self, wf: WorkflowView) -> None:
        ent_name = wf.decl.entity
        entity = self.s.entities.get(ent_name.value)
        if entity is None:
            self.unknown("SWF020", "entity", ent_name, self.s.entities)
        for api in wf.api_uses():
            if api.value not in self.s.apis:
                self.unknown("SWF022", "api", api, self.s.apis)
        for child in wf.children:
            self.child(child.stmt, entity)

    def child(self, stmt: ast.ChildStmt, entity: EntityView | None) -> None:
        if entity is not None and stmt.field.value not in entity.fields:
            self.diags.add("SWF023", f"entity `{entity.decl.name.value}` has no field "
                           f"`{stmt.field.value}`", stmt.field.span,
                           hint=suggest(stmt.field.value, entity.fields))
        if stmt.workflow.value not in self.s.workflows:
            self.unknown("SWF021", "workflow", stmt.workflow, self.s.workflows)

    def deploy(self, dep: DeployView) -> None:
        if dep.decl.workflow.value not in self.s.workflows:
            self.unknown("SWF021", "workflow", dep.decl.workflow, self.s.workflows)
        for tok in dep.tokens.values():
            if tok.api.value not in self.s.apis:
                self.unknown("SWF022", "api", tok.api, self.s.apis)


def resolve(specs: list[ast.Spec], diags: Collector) -> Symbols:
    """Build the symbol table of `specs` and check every name used in them.

    Returns:
        the `Symbols`; findings go to `diags`.
    """
    symbols = Declarer(diags).run(specs)
    Referencer(symbols, diags).run()
    return symbols
