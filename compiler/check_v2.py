"""Semantic checks of language v2 (DESIGN.md §6): URL templates, collections, `with`.

Stage: part of `check`: its `Checker` inherits these methods (they use its `s`, `diags` and
`duration`). Reports SWF032 (a template name that is not a field path), SWF034/SWF036
(malformed templates; a literal URL outside `allow`), SWF037 (a root's template needing
more than its key and `with` values), SWF038 (bad collections), SWF039 (bad pagination),
SWF051 (bad `with` values) and SWF064 for a collection (its URL or a page parameter sets
the token's query parameter).
"""

from __future__ import annotations

from dsl import ast
from dsl.diagnostics import Note

from compiler import values
from compiler.resolve import ApiView, ChildView, DeployView, EntityView, WorkflowView, suggest

MAX_PAGES = 100_000
MAX_PAGE_SIZE = 100_000


class V2Checks:
    """The v2 checks, as methods of `check.Checker`."""

    def template(self, template: ast.Str, api: ast.Name, entity: EntityView | None,
                 malformed: str = "SWF036") -> None:
        """An RFC 6570 template: well-formed, a literal origin in the api's `allow`, and
        every name a field path of `entity`. Unpaired braces and spaces in a source are
        SWF034, as in language v1; a bad expression is SWF036."""
        names, problem = values.template_names(template.value)
        if problem:
            code = malformed if problem in values.TEMPLATE_SHAPE_PROBLEMS else \
                "SWF032" if problem.endswith("is not a field name") else "SWF036"
            self.diags.add(code, f"bad URL template `{template.value}`: {problem}",
                           template.span)
            return
        self.template_origin(template, api)
        if entity is not None:
            for name in names:
                self.field_path(template, name, entity)

    def template_origin(self, template: ast.Str, api_name: ast.Name) -> None:
        origin = values.template_origin(template.value)
        api = self.s.apis.get(api_name.value)
        if origin is None or api is None:
            return
        allowed = allowed_origins(api)
        if allowed is not None and origin not in allowed:
            self.diags.add("SWF036", f"URL template `{template.value}` goes to `{origin}`, which "
                           f"is not in the `allow` list of api `{api_name.value}`", template.span,
                           hint=f'add "{origin}" to `allow`, or write a path under the base URL')

    def field_path(self, template: ast.Str, name: str, entity: EntityView) -> None:
        """`{a.b.c}` must follow fields: relations (to their entity's fields), `json`
        (anything below), and end anywhere but on a list."""
        ent = entity
        segments = name.split(".")
        for i, seg in enumerate(segments):
            f = ent.fields.get(seg)
            if f is None:
                where = f"`{{{name}}}`" if i == 0 else f"`{{{name}}}`: `{seg}`"
                self.diags.add("SWF032", f"{where} is not a field of entity `{ent.decl.name.value}`",
                               template.span, hint=suggest(seg, ent.fields))
                return
            if f.type.is_list:
                self.diags.add("SWF032", f"`{{{name}}}`: `{seg}` is a list and cannot be part of "
                               "a URL", template.span)
                return
            kind = f.type.name.value
            if kind == "json" or i == len(segments) - 1:
                return
            if kind not in self.s.entities:
                self.diags.add("SWF032", f"`{{{name}}}`: `{seg}` is a `{kind}` and has no field "
                               f"`{segments[i + 1]}`", template.span)
                return
            ent = self.s.entities[kind]

    def collection(self, child: ChildView, entity: EntityView | None, f: ast.Field | None) -> None:
        """`from API get "TEMPLATE"` and its options (DESIGN.md §6 "Collections")."""
        src = child.collection
        if src.method.value.lower() != "get":
            self.diags.add("SWF038", f"unsupported method `{src.method.value}`: a collection "
                           "lists with `get`", src.method.span)
        if f is not None and entity is not None and entity.is_relation(f) and not f.type.is_list:
            self.diags.add("SWF038", f"`from` fills a list, but `{f.name.value}` is a single "
                           f"`{f.type.name.value}`", src.span,
                           notes=(Note("field defined here", f.span),),
                           hint=f"declare it as `{f.name.value} [{f.type.name.value}]`")
        if not values.template_start_ok(src.template.value):
            self.diags.add("SWF038", f"bad collection URL `{src.template.value}`: expected a "
                           "URL path such as \"/users/{id}/listings\", a URL variable such as "
                           "\"{+url}/items\" or an http(s) URL", src.template.span)
        else:
            self.template(src.template, src.api, entity)
        self.query_token_clash(src.template, self.s.apis.get(src.api.value))
        if child.select is not None and values.dotted(child.select.path.value) is None:
            self.diags.add("SWF035", f"bad select path `{child.select.path.value}`: expected "
                           "names separated by dots, such as \"data.items\"",
                           child.select.path.span)
        if child.every is not None:
            self.duration(child.every.duration)
        if child.paginate is not None:
            self.paginate(child.paginate)
            item = self.s.entities.get(f.type.name.value) if f is not None else None
            if child.paginate.style == "last" and item is not None:
                self.last_item_path(child.paginate, item)
            self.paging_token_clash(child.paginate, self.s.apis.get(src.api.value))
        if child.max_pages is not None and not 1 <= child.max_pages.count.value <= MAX_PAGES:
            self.diags.add("SWF039", f"`max {child.max_pages.count.value} pages`: the count must "
                           f"be from 1 to {MAX_PAGES}", child.max_pages.count.span)

    def without_from(self, child: ChildView) -> None:
        """`select`, `paginate`, `every` and `max ... pages` only mean something for a
        collection."""
        for opt, word in ((child.select, "select"), (child.paginate, "paginate"),
                          (child.every, "every"), (child.max_pages, "max ... pages")):
            if opt is not None:
                self.diags.add("SWF038", f"`{word}` in `child {child.stmt.field.value}` without "
                               "`from`: only a collection (a relation filled from its own list "
                               "endpoint) has it", opt.span,
                               hint='add `from API get "/path/{id}/items"`')

    def paginate(self, p: ast.PaginateOpt) -> None:
        params = [x for x in (p.as_param, p.size_param) if x is not None]
        paths = []
        if p.style in ("page", "offset"):
            params.append(p.param)
        elif p.param is not None:
            paths.append(p.param)
        paths += [x for x in (p.total, p.more) if x is not None]
        for param in params:
            if not param.value or any(c.isspace() or c in "&=#?" for c in param.value):
                self.diags.add("SWF039", f"bad query parameter name `{param.value}` in `paginate "
                               f"{p.style}`", param.span)
        for path in paths:
            if values.dotted(path.value) is None:
                self.diags.add("SWF039", f"bad body path `{path.value}` in `paginate {p.style}`: "
                               "expected names separated by dots, such as \"meta.next_cursor\"",
                               path.span)
        if p.size is not None and not 1 <= p.size.value <= MAX_PAGE_SIZE:
            self.diags.add("SWF039", f"page size {p.size.value}: it must be from 1 to "
                           f"{MAX_PAGE_SIZE}", p.size.span)

    def last_item_path(self, p: ast.PaginateOpt, item: EntityView) -> None:
        """`paginate last "id"` names a field of the listed entity (or a path into an
        embedded object or `json` field) whose value in a page's last item is sent on."""
        path = values.dotted(p.param.value)
        if path is None:
            return  # reported by `paginate`
        f = item.fields.get(path[0])
        entity = item.decl.name.value
        if f is None:
            self.diags.add("SWF039", f"`paginate last \"{p.param.value}\"`: `{path[0]}` is not a field "
                           f"of entity `{entity}`", p.param.span, hint=suggest(path[0], item.fields))
        elif f.type.is_list:
            self.diags.add("SWF039", f"`paginate last \"{p.param.value}\"`: `{path[0]}` is a list; the "
                           "value sent for the next page is one string or number, such as the key",
                           p.param.span)
        elif len(path) > 1 and not (f.type.name.value == "json" or item.is_relation(f)):
            self.diags.add("SWF039", f"`paginate last \"{p.param.value}\"`: `{path[0]}` is a "
                           f"`{f.type.name.value}` and has no field `{path[1]}`", p.param.span)

    def paging_token_clash(self, p: ast.PaginateOpt, api: ApiView | None) -> None:
        """A page's query parameter that is the token's would replace the token (SWF064)."""
        auth = api.auth if api is not None else None
        if auth is None or auth.query is None:
            return
        params = (p.as_param, p.size_param, p.param if p.style in ("page", "offset") else None)
        for param in params:
            if param is not None and param.value == auth.query.value:
                self.diags.add("SWF064", f"`paginate {p.style}` sets the query parameter "
                               f"`{param.value}`, which `auth query` fills with the "
                               f"{api.decl.name.value} token", param.span,
                               notes=(Note("the token's parameter is named here", auth.query.span),),
                               hint="name the parameter the API reads for pages")

    def with_value(self, value: ast.DeployWith, entity: EntityView) -> None:
        """`with FIELD "value"`: a scalar field other than the key, the value of its type."""
        name = value.field.value
        f = entity.fields.get(name)
        if f is None:
            self.diags.add("SWF023", f"entity `{entity.decl.name.value}` has no field `{name}`",
                           value.field.span, hint=suggest(name, entity.fields))
        elif f is entity_key(entity):
            self.diags.add("SWF051", f"`with {name}`: `{name}` is the key, given by the deploy id",
                           value.field.span)
        elif f.type.is_list or entity.is_relation(f) or f.type.name.value == "json":
            self.diags.add("SWF051", f"`with {name}`: only a string, number, integer, boolean or "
                           f"datetime field can be given a value here", value.field.span)
        elif values.typed_value(value.value.value, f.type.name.value) is None:
            self.diags.add("SWF051", f"`with {name} \"{value.value.value}\"`: field `{name}` is "
                           f"a `{f.type.name.value}` and this value is not one", value.value.span)

    def root_templates(self, dep: DeployView, wf: WorkflowView, entity: EntityView) -> None:
        """A root starts with its key and its `with` values only: its `source` (or, with no
        source, its collections) may name nothing else."""
        key = entity_key(entity)
        given = {key.name.value} if key is not None else set()
        given |= set(dep.values)
        templates = [wf.source.path] if wf.source is not None else \
            [c.collection.template for c in wf.children if c.collection is not None]
        for template in templates:
            names, problem = values.template_names(template.value)
            for name in [] if problem else names:
                if name not in given and name.split(".")[0] in entity.fields:
                    self.diags.add("SWF037", f"deployed root `{wf.name}` starts with only its key "
                                   f"and its `with` values, but `{template.value}` needs "
                                   f"`{{{name}}}`", dep.decl.workflow.span,
                                   notes=(Note("template written here", template.span),),
                                   hint=root_hint(name))


def root_hint(name: str) -> str:
    if "." in name:
        return (f"`{name}` is only known once the record has loaded; use a field of its own "
                "that a `with` line can give")
    return f'add `with {name} "..."` to the deploy block'


def entity_key(entity: EntityView) -> ast.Field | None:
    """The entity's key field: the one marked `key`, else `id`; None when it has neither."""
    keys = [f for f in entity.fields.values() if f.is_key]
    return keys[0] if keys else entity.fields.get("id")


def allowed_origins(api: ApiView) -> set[str] | None:
    """The origins a request of `api` may go to (its `allow`, else its base's origin);
    None when they cannot be known (no base, a malformed allow entry)."""
    base_url = base_default(api)
    if api.allow is None:
        origin = values.url_origin(base_url) if base_url else None
        return {origin} if origin else None
    allowed = {values.parse_origin(o.value, values.default_port(base_url)) for o in api.allow.origins}
    return None if None in allowed else allowed



def base_default(api: ApiView) -> str | None:
    """The api's base URL as written, or env(...)'s default; None when there is none."""
    if api.base is None:
        return None
    value = api.base.value
    if isinstance(value, ast.EnvValue):
        return value.default.value if value.default is not None else None
    return value.value
