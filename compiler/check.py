"""Semantic checks: everything of DESIGN.md §2 that is neither a name nor a token route.

Stage: after `resolve`. Takes the `Symbols`; reports SWF013/014, SWF030-035, SWF040-045,
SWF048/049, SWF050, SWF064 and the SWF081/082 warnings; the checks of language v2's templates,
collections and `with` values (SWF032, SWF036-039, SWF051) are `compiler.check_v2`'s. Names that did not resolve are skipped (resolve
already reported them), so one mistake gives one finding.
"""

from __future__ import annotations

from dsl import ast
from dsl.diagnostics import Collector, Note

from compiler import values
from compiler.check_v2 import V2Checks, base_default
from compiler.resolve import (ApiView, ChildView, DeployView, EntityView, Symbols, WorkflowView,
                              suggest)

KEY_TYPES = ("string", "integer")
HEADER_CHARS = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Checker(V2Checks):
    """Walks the symbol table with `visit_<View>` methods, one per kind of declaration."""

    def __init__(self, symbols: Symbols, diags: Collector):
        self.s = symbols
        self.diags = diags

    def run(self) -> None:
        for group in (self.s.apis.values(), self.s.entities.values(),
                      self.s.workflows.values(), self.s.deploys):
            for view in group:
                getattr(self, "visit_" + type(view).__name__)(view)
        self.deploy_duplicates()
        self.one_workflow_per_entity()
        # A spec without workflows is a library (like common.swf): its declarations are
        # for the files that import it. And an unknown name may be the missing use.
        if self.s.workflows and not any(d.code.startswith("SWF02") for d in self.diags.items):
            self.unused()

    # ------------------------------------------------------------------ api

    def visit_ApiView(self, api: ApiView) -> None:
        name = api.decl.name
        if api.base is None:
            self.diags.add("SWF044", f"api `{name.value}` has no `base` URL", name.span,
                           hint='add `base "http://host:port"`')
        else:
            self.base(api.base)
        if api.auth is not None and api.auth.scheme == "header":
            self.auth_header(api.auth)
        if api.auth is not None:
            self.auth_value(api.auth)
        if api.rate is not None:
            self.rate(api.rate)
        if api.allow is not None:
            self.allow(api)
        if api.timeout is not None:
            self.duration(api.timeout.duration)
        if api.retry is not None:
            self.retry(api.retry)

    def base(self, stmt: ast.BaseStmt) -> None:
        value = stmt.value
        if isinstance(value, ast.EnvValue):
            if not values.ENV_RE.match(value.var.value):
                self.diags.add("SWF042", f"`{value.var.value}` is not an environment variable "
                               "name", value.var.span)
            if value.default is None:
                self.diags.add("SWF042", "`env(...)` needs a default URL as its second argument",
                               value.span, hint='env("API_URL", "http://127.0.0.1:8787")')
                return
            value = value.default
        problem = values.url_problem(value.value)
        if problem:
            self.diags.add("SWF042", f"bad base URL `{value.value}`: {problem}", value.span)
            return
        problem = values.base_origin_problem(value.value)
        if problem:
            self.diags.add("SWF046", f"base URL `{value.value}` has no origin a token may go to: "
                           f"{problem}", value.span,
                           hint="write the URL as scheme://host:port/path, nothing else")

    def auth_header(self, stmt: ast.AuthStmt) -> None:
        header = stmt.header
        if header is None or not header.value or not set(header.value) <= HEADER_CHARS:
            span = header.span if header is not None else stmt.span
            self.diags.add("SWF045", "`auth header` needs an HTTP header name such as "
                           "\"X-Api-Key\"", span)

    def auth_value(self, stmt: ast.AuthStmt) -> None:
        """The prefix goes into a header and the parameter name into every URL as written."""
        if stmt.prefix is not None:
            problem = values.header_value_problem(stmt.prefix.value)
            if problem:
                self.diags.add("SWF049", f"bad `prefix`: {problem}", stmt.prefix.span,
                               hint='a prefix is text such as "token " or "Bearer "')
        if stmt.query is not None and not values.QUERY_NAME_RE.match(stmt.query.value):
            self.diags.add("SWF049", "`auth query` needs a query parameter name such as \"api_key\" "
                           "(letters, digits, `-`, `.`, `_` or `~`)", stmt.query.span)

    def rate(self, stmt: ast.RateStmt) -> None:
        problem = values.rate_problem(stmt.count.value, stmt.unit.value)
        if problem:
            self.diags.add("SWF048", f"`rate {stmt.count.value}/{stmt.unit.value}`: {problem}", stmt.span,
                           hint="for example `rate 10/s` or `rate 5000/h`")

    def allow(self, api: ApiView) -> None:
        base_url = base_default(api)
        base_origin = values.url_origin(base_url) if base_url else None
        port = values.default_port(base_url)
        allowed = set()
        for origin in api.allow.origins:
            parsed = values.parse_origin(origin.value, port)
            if parsed is None:
                self.diags.add("SWF043", f"bad origin `{origin.value}`: expected `host:port`",
                               origin.span)
            downgrade = values.downgrade_problem(origin.value, base_url)
            if downgrade:
                self.diags.add("SWF047", f"`allow` entry `{origin.value}`: {downgrade}",
                               origin.span, notes=(Note("base URL given here", api.base.span),),
                               hint="write it as `host:port`, or with https://")
            allowed.add(parsed)
        if base_origin and base_origin not in allowed and None not in allowed:
            self.diags.add("SWF043", f"the base URL's origin `{base_origin}` is not in the "
                           f"`allow` list of api `{api.decl.name.value}`", api.allow.span,
                           notes=(Note("base URL given here", api.base.span),),
                           hint=f'add "{base_origin}" to `allow`')

    def duration(self, d: ast.Duration | None) -> None:
        if d is None:
            return
        problem = values.duration_problem(d.text)
        if problem:
            self.diags.add("SWF040", f"bad duration `{d.text}`: {problem}", d.span)

    def retry(self, stmt: ast.RetryStmt) -> None:
        if not 0 <= stmt.times.value <= values.MAX_RETRIES:
            self.diags.add("SWF041", f"`retry {stmt.times.value} times`: the count must be "
                           f"from 0 to {values.MAX_RETRIES}", stmt.times.span)
        self.duration(stmt.backoff_min)
        self.duration(stmt.backoff_max)
        lo = values.duration_ms(stmt.backoff_min.text) if stmt.backoff_min else None
        hi = values.duration_ms(stmt.backoff_max.text) if stmt.backoff_max else None
        if lo is not None and hi is not None and lo > hi:
            self.diags.add("SWF041", f"backoff range `{stmt.backoff_min.text} .. "
                           f"{stmt.backoff_max.text}`: the minimum is above the maximum",
                           stmt.backoff_min.span)

    # --------------------------------------------------------------- entity

    def visit_EntityView(self, ent: EntityView) -> None:
        keys = [f for f in ent.fields.values() if f.is_key]
        for extra in keys[1:]:
            self.diags.add("SWF033", f"entity `{ent.decl.name.value}` has more than one `key` "
                           "field", extra.span, notes=(Note("first key here", keys[0].span),))
        key = keys[0] if keys else ent.fields.get("id")
        if key is None:
            self.diags.add("SWF033", f"entity `{ent.decl.name.value}` has no key", ent.decl.name.span,
                           hint="add a field `id string`, or mark a field `key`")
        elif key.type.is_list or key.type.optional or key.type.name.value not in KEY_TYPES:
            self.diags.add("SWF033", f"field `{key.name.value}` cannot be the key of entity "
                           f"`{ent.decl.name.value}`: a key is a required `string` or `integer`",
                           key.type.span)

    # ------------------------------------------------------------- workflow

    def visit_WorkflowView(self, wf: WorkflowView) -> None:
        entity = self.s.entities.get(wf.decl.entity.value)
        if wf.source is not None:
            self.source(wf.source, entity)
        if wf.select is not None:
            self.select(wf)
        for child in wf.children:
            self.child(child, entity)

    def source(self, src: ast.SourceStmt, entity: EntityView | None) -> None:
        if src.method.value.lower() != "get":
            self.diags.add("SWF034", f"unsupported method `{src.method.value}`: a source "
                           "loads data with `get`", src.method.span)
        path = src.path.value
        if not values.template_start_ok(path):
            self.diags.add("SWF034", f"bad source path `{path}`: expected a URL path such as "
                           "\"/users/{id}\", a URL variable such as \"{+url}\" or an "
                           "http(s) URL", src.path.span)
        else:
            self.template(src.path, src.api, entity, malformed="SWF034")
        self.query_token_clash(src.path, self.s.apis.get(src.api.value))
        self.duration(src.every)

    def query_token_clash(self, path: ast.Str, api: ApiView | None) -> None:
        """A URL that already sets the token's parameter would send it twice, or not at all."""
        auth = api.auth if api is not None else None
        if auth is None or auth.query is None or auth.query.value not in values.query_names(path.value):
            return
        self.diags.add("SWF064", f"this URL sets the query parameter `{auth.query.value}`, which "
                       f"`auth query` fills with the {api.decl.name.value} token", path.span,
                       notes=(Note("the token's parameter is named here", auth.query.span),),
                       hint="remove it from the URL: the token is added to every request")

    def select(self, wf: WorkflowView) -> None:
        stmt = wf.select
        if values.dotted(stmt.path.value) is None:
            self.diags.add("SWF035", f"bad select path `{stmt.path.value}`: expected names "
                           "separated by dots, such as \"data.user\"", stmt.path.span)
        if wf.source is None:
            self.diags.add("SWF035", "`select` without a `source`: there is no response to "
                           "select from", stmt.span)

    def child(self, child: ChildView, entity: EntityView | None) -> None:
        stmt = child.stmt
        target = self.s.workflows.get(stmt.workflow.value)
        fields = self.s.entities.get(target.decl.entity.value) if target else None
        for sub in child.subscribe:
            self.selector(sub.selector, fields)
        if child.autostart is None:
            self.diags.add("SWF082", f"`child {stmt.field.value}` has no `autostart`: it only "
                           "attaches to workflows started elsewhere", stmt.span)
        f = entity.fields.get(stmt.field.value) if entity else None
        if f is not None:
            self.relation(stmt, entity, f)
        if child.collection is not None:
            self.collection(child, entity, f)
        else:
            self.without_from(child)

    def selector(self, sel: ast.Str, entity: EntityView | None) -> None:
        """`*`, `**`, or a dotted path whose first segment is a field of the child's entity."""
        segments = values.dotted(sel.value, star=True)
        if segments is None:
            self.diags.add("SWF035", f"bad subscribe selector `{sel.value}`: expected \"*\" or "
                           "a field path such as \"price\"", sel.span)
        elif entity is not None and segments[0] not in ("*", "**") \
                and segments[0] not in entity.fields:
            self.diags.add("SWF035", f"subscribe selector `{sel.value}`: entity "
                           f"`{entity.decl.name.value}` has no field `{segments[0]}`", sel.span,
                           hint=suggest(segments[0], entity.fields))

    def relation(self, stmt: ast.ChildStmt, entity: EntityView, f: ast.Field) -> None:
        """A child edge must follow a relation, to a workflow managing its target."""
        target = f.type.name.value
        if not entity.is_relation(f):
            self.diags.add("SWF030", f"field `{f.name.value}` of entity "
                           f"`{entity.decl.name.value}` is a `{target}`, not a relation to an "
                           "entity", stmt.field.span, notes=(Note("field defined here", f.span),))
            return
        wf = self.s.workflows.get(stmt.workflow.value)
        if wf is None or target not in self.s.entities or wf.decl.entity.value == target:
            return
        self.diags.add("SWF031", f"workflow `{wf.name}` manages `{wf.decl.entity.value}`, but "
                       f"`{f.name.value}` relates to `{target}`", stmt.workflow.span,
                       notes=(Note(f"`{wf.name}` declared here", wf.decl.name.span),))

    # --------------------------------------------------------------- deploy

    def visit_DeployView(self, dep: DeployView) -> None:
        ident = dep.decl.entity_id
        if not ident.value or any(not c.isprintable() or c.isspace() for c in ident.value) \
                or len(ident.value) > 200:
            shown = f"`{ident.value}`" if ident.value.isprintable() else repr(ident.value)
            self.diags.add("SWF050", f"bad deploy id {shown}: expected a non-empty id without "
                           "spaces, at most 200 characters", ident.span)
        for tok in dep.tokens.values():
            if not values.ENV_RE.match(tok.env_var.value):
                self.diags.add("SWF050", f"`{tok.env_var.value}` is not an environment "
                               "variable name", tok.env_var.span)
        wf = self.s.workflows.get(dep.decl.workflow.value)
        entity = self.s.entities.get(wf.decl.entity.value) if wf else None
        if entity is not None:
            for value in dep.values.values():
                self.with_value(value, entity)
            self.root_templates(dep, wf, entity)

    def deploy_duplicates(self) -> None:
        seen: dict[str, DeployView] = {}
        for dep in self.s.deploys:
            wid = workflow_id(self.s, dep)
            if wid is None:
                continue
            if wid in seen:
                self.diags.add("SWF013", f"`{wid}` is deployed twice", dep.decl.span,
                               notes=(Note("first deployed here", seen[wid].decl.span),))
            else:
                seen[wid] = dep

    def one_workflow_per_entity(self) -> None:
        """Workflow ids are `<Entity>-<id>`: two workflow types of one entity would collide."""
        managers: dict[str, WorkflowView] = {}
        for wf in self.s.workflows.values():
            entity = wf.decl.entity.value
            first = managers.setdefault(entity, wf)
            if first is not wf and entity in self.s.entities:
                self.diags.add("SWF014", f"entity `{entity}` is already managed by workflow "
                               f"`{first.name}`: both would run as `{entity}-<id>`",
                               wf.decl.entity.span,
                               notes=(Note("first managed here", first.decl.entity.span),))

    # --------------------------------------------------------------- unused

    def unused(self) -> None:
        used_apis = {api.value for wf in self.s.workflows.values() for api in wf.api_uses()}
        for name, api in self.s.apis.items():
            if name not in used_apis:
                self.diags.add("SWF081", f"api `{name}` is never used by a `source`",
                               api.decl.name.span)
        used = {wf.decl.entity.value for wf in self.s.workflows.values()}
        for ent in self.s.entities.values():
            used.update(f.type.name.value for f in ent.fields.values())
        for name, ent in self.s.entities.items():
            if name not in used:
                self.diags.add("SWF081", f"entity `{name}` is never managed or related to",
                               ent.decl.name.span)


def workflow_id(symbols: Symbols, dep: DeployView) -> str | None:
    """`<Entity>-<id>` of a deployment, or None when its workflow is unknown."""
    wf = symbols.workflows.get(dep.decl.workflow.value)
    if wf is None:
        return None
    return f"{wf.decl.entity.value}-{dep.decl.entity_id.value}"


def check(symbols: Symbols, diags: Collector) -> None:
    """Run every semantic check of this pass over `symbols`; findings go to `diags`."""
    Checker(symbols, diags).run()
