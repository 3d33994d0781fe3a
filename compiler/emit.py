"""IR emission: the runtime registrations of docs/ir.md, as a plain JSON-ready dict.

Stage: after `routing`, only for specs without errors. Takes `Symbols` and `Routes`;
gives the IR dict with its `hash`. Nothing here depends on file names or the clock, so
identical input gives byte-identical `dump_ir` output from any directory.
"""

from __future__ import annotations

import json

from dsl import ast

from compiler import values
from compiler.check import base_default, workflow_id
from compiler.resolve import PRIMITIVES, ApiView, ChildView, EntityView, Symbols, WorkflowView
from compiler.routing import Routes
from rules.ir import ir_hash

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_MAX_PAGES = 1000
DEFAULT_RETRY = {"max_attempts": 3, "initial_interval_ms": 1000, "max_interval_ms": 30_000}
RELATION_VALUE = {"anyOf": [{"type": ["string", "integer"]}, {"type": "object"}]}
SCALAR_SCHEMA = {
    "string": {"type": "string"}, "number": {"type": "number"},
    "integer": {"type": "integer"}, "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"}, "json": {},
}


def emit_api(api: ApiView) -> dict:
    base = base_default(api)
    env = api.base.value.var.value if isinstance(api.base.value, ast.EnvValue) else None
    port = values.default_port(base)
    allow = [values.parse_origin(o.value, port) for o in api.allow.origins] if api.allow \
        else [values.url_origin(base)]
    auth = api.auth
    return {
        "base": base,
        "base_env": env,
        "auth": emit_auth(auth),
        "allow": list(dict.fromkeys(allow)),
        "timeout_ms": values.duration_ms(api.timeout.duration.text) if api.timeout
        else DEFAULT_TIMEOUT_MS,
        "retry": emit_retry(api.retry),
        "rate": {"requests": api.rate.count.value, "per_ms": values.RATE_UNITS_MS[api.rate.unit.value]}
        if api.rate else None,
    }


def emit_auth(auth: ast.AuthStmt | None) -> dict:
    """Where the token goes: `header: prefix + token`, or the query parameter `query`."""
    if auth is None or auth.scheme == "none":
        return {"scheme": "none", "header": None, "prefix": None, "query": None}
    if auth.scheme == "bearer":
        return {"scheme": "bearer", "header": "Authorization", "prefix": "Bearer ", "query": None}
    if auth.scheme == "query":
        return {"scheme": "query", "header": None, "prefix": None, "query": auth.query.value}
    return {"scheme": "header", "header": auth.header.value, "prefix": auth.prefix.value if auth.prefix else "",
            "query": None}


def emit_retry(stmt: ast.RetryStmt | None) -> dict:
    if stmt is None:
        return dict(DEFAULT_RETRY)
    lo = values.duration_ms(stmt.backoff_min.text) if stmt.backoff_min else None
    hi = values.duration_ms(stmt.backoff_max.text) if stmt.backoff_max else None
    # `retry 5 times` is five retries after the first attempt: six attempts in all.
    return {"max_attempts": stmt.times.value + 1,
            "initial_interval_ms": lo or DEFAULT_RETRY["initial_interval_ms"],
            "max_interval_ms": hi or max(lo or 0, DEFAULT_RETRY["max_interval_ms"])}


def emit_entity(ent: EntityView, collections: set[str]) -> dict:
    """An entity's fields and record schema; the relations in `collections` are filled
    from their own list endpoints, so the schema of a record body leaves them out."""
    fields = {}
    properties = {}
    required = []
    for name, f in ent.fields.items():
        t = f.type
        kind = "scalar" if t.name.value in PRIMITIVES else "relation"
        fields[name] = {"kind": kind, "type": t.name.value, "list": t.is_list,
                        "optional": t.optional, "collection": name in collections}
        if name in collections:
            continue
        properties[name] = field_schema(t, kind)
        if not t.optional:
            required.append(name)
    keys = [f.name.value for f in ent.fields.values() if f.is_key]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "required": required, "properties": properties, "additionalProperties": True}
    return {"key": keys[0] if keys else "id", "fields": fields, "schema": schema}


def field_schema(t: ast.TypeRef, kind: str) -> dict:
    """One property of an entity record schema (see docs/ir.md)."""
    item = dict(RELATION_VALUE) if kind == "relation" else dict(SCALAR_SCHEMA[t.name.value])
    if t.is_list:
        item = {"type": "array", "items": item}
    if t.optional:
        item = nullable(item)
    return item


def nullable(schema: dict) -> dict:
    if not schema:
        return schema
    if "anyOf" in schema:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def emit_workflow(wf: WorkflowView, symbols: Symbols, routes: Routes) -> dict:
    children = []
    for i, child in enumerate(wf.children):
        target = symbols.workflows[child.stmt.workflow.value]
        f = symbols.entities[wf.decl.entity.value].fields[child.stmt.field.value]
        children.append({
            "field": child.stmt.field.value,
            "workflow": target.name,
            "entity": target.decl.entity.value,
            "many": f.type.is_list,
            "autostart": child.autostart is not None,
            "cancel_on_delete": child.cancel is not None,
            "subscribe": [s.selector.value for s in child.subscribe],
            "tokens": list(routes.needs[target.name]),
            "stops_recursion": (wf.name, i) in routes.stops,
            "collection": emit_collection(child, wf),
        })
    return {"entity": wf.decl.entity.value, "source": emit_source(wf),
            "token": "none" if wf.token_none else "inherit",
            "needs": list(routes.needs[wf.name]), "children": children}


def emit_source(wf: WorkflowView) -> dict | None:
    src = wf.source
    if src is None:
        return None
    return {"api": src.api.value, "method": "GET", "path": src.path.value,
            "placeholders": values.template_names(src.path.value)[0],
            "every_ms": values.duration_ms(src.every.text) if src.every else None,
            "select": values.dotted(wf.select.path.value) if wf.select else None}


def emit_collection(child: ChildView, parent: WorkflowView) -> dict | None:
    """A child edge's `from` (docs/ir.md "Collections"); `every` defaults to the parent's."""
    src = child.collection
    if src is None:
        return None
    if child.every is not None:
        every = values.duration_ms(child.every.duration.text)
    else:
        every = values.duration_ms(parent.source.every.text) \
            if parent.source is not None and parent.source.every else None
    return {"api": src.api.value, "method": "GET", "template": src.template.value,
            "variables": values.template_names(src.template.value)[0],
            "select": values.dotted(child.select.path.value) if child.select else None,
            "paginate": emit_paginate(child.paginate),
            "every_ms": every,
            "max_pages": child.max_pages.count.value if child.max_pages else DEFAULT_MAX_PAGES}


def emit_paginate(p: ast.PaginateOpt | None) -> dict | None:
    """`param` is a query parameter (page, offset, and the `as` of cursor and last); `path`
    a body path (cursor, next), or a path in the last item (last); `total` the body path of
    an item count (offset); `more` that of the boolean saying more pages follow (last)."""
    if p is None:
        return None
    query = p.as_param if p.style in ("cursor", "last") else p.param if p.style in ("page", "offset") else None
    path = p.param if p.style in ("cursor", "next", "last") else None
    return {"style": p.style,
            "param": query.value if query else None,
            "path": values.dotted(path.value) if path else None,
            "size_param": p.size_param.value if p.size_param else None,
            "size": p.size.value if p.size else None,
            "total": values.dotted(p.total.value) if p.total else None,
            "more": values.dotted(p.more.value) if p.more else None}


def emit_deploy(dep, symbols: Symbols) -> dict:
    wf = symbols.workflows[dep.decl.workflow.value]
    fields = symbols.entities[wf.decl.entity.value].fields
    return {"workflow": dep.decl.workflow.value, "id": dep.decl.entity_id.value,
            "workflow_id": workflow_id(symbols, dep),
            "tokens": {api: {"env": tok.env_var.value} for api, tok in dep.tokens.items()},
            "with": {name: values.typed_value(v.value.value, fields[name].type.name.value)
                     for name, v in dep.values.items()}}


def collection_fields(symbols: Symbols) -> dict[str, set[str]]:
    """`{entity: relations filled by a collection}` (one workflow manages an entity)."""
    out: dict[str, set[str]] = {}
    for wf in symbols.workflows.values():
        for child in wf.children:
            if child.collection is not None:
                out.setdefault(wf.decl.entity.value, set()).add(child.stmt.field.value)
    return out


def emit(symbols: Symbols, routes: Routes) -> dict:
    """The IR of an error-free spec, `hash` included.

    Args:
        symbols: the resolved declarations (no errors reported on them).
        routes: token needs and recursion stops from `routing`.
    Returns:
        the IR as a JSON-ready dict.
    """
    collections = collection_fields(symbols)
    ir = {
        "swf_ir": 1,
        "apis": {n: emit_api(a) for n, a in symbols.apis.items()},
        "entities": {n: emit_entity(e, collections.get(n, set()))
                     for n, e in symbols.entities.items()},
        "workflows": {n: emit_workflow(w, symbols, routes) for n, w in symbols.workflows.items()},
        "deployments": [emit_deploy(d, symbols) for d in symbols.deploys],
    }
    ir["hash"] = ir_hash(ir)
    return ir


def dump_ir(ir: dict) -> str:
    """The canonical text of an IR (docs/ir.md "Determinism")."""
    return json.dumps(ir, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
