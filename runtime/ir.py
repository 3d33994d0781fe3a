"""The IR as the runtime sees it: frozen dataclasses decoded from the IR JSON.

Stage: input of `runtime/`. Takes the IR document (a dict, `docs/ir.md`) and gives an `IR`
tree the interpreter walks. The JSON Schema check belongs to the caller (the CLI validates
with `compiler/ir.schema.json`, which `runtime/` must not import); `load` only checks the
version and the keys it reads, so that a wrong document fails here with a clear message
instead of a `KeyError` deep inside a workflow task.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from rules.names import api_task_queue, workflow_queue_of
from rules.origins import allows, scheme_of, url_origin

IR_VERSION = 1


class IRError(ValueError):
    """The document is not an IR this runtime can interpret."""


@dataclass(frozen=True, slots=True)
class Retry:
    """Activity retry policy: attempts and the backoff range, in milliseconds."""

    max_attempts: int
    initial_interval_ms: int
    max_interval_ms: int


@dataclass(frozen=True, slots=True)
class Auth:
    """How a token is sent: `scheme` bearer|header|query|none; `header` and `prefix` for
    bearer and header (the header's value is `prefix + token`), `query` the parameter name
    for scheme query."""

    scheme: str
    header: str | None
    prefix: str | None = None
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Api:
    """An HTTP API: deploy-time `base` (and its `base_env` override), `auth`, the
    origins (`host:port`) a token may go to, request timeout and retry policy, and
    `rate_per_s`: the most requests a second the deployment may send it (None: no limit)."""

    name: str
    base: str
    base_env: str | None
    auth: Auth
    allow: tuple[str, ...]
    timeout_ms: int
    retry: Retry
    rate_per_s: float | None = None

    @property
    def needs_token(self) -> bool:
        return self.auth.scheme != "none"

    @property
    def scheme(self) -> str:
        """The scheme of the spec's base: an https api's token never travels over http."""
        return scheme_of(self.base)

    def allows(self, url: str) -> bool:
        """May this api's token go to `url` (`rules.origins`: scheme, host and port)?"""
        return allows(self.allow, self.scheme, url_origin(url))

    def task_queue(self, workflow_queue: str) -> str:
        """The task queue this api's requests are scheduled on: the workflows' own, or for
        an api with a `rate`, one of its own that every worker polls with that rate (the
        server enforces it across all of them)."""
        return api_task_queue(workflow_queue, self.name) if self.rate_per_s is not None else workflow_queue

    def workflow_queue(self, activity_queue: str) -> str:
        """The workflows' task queue of a request that ran on `activity_queue` (`task_queue`
        undone): what a sealed token is bound to."""
        return workflow_queue_of(activity_queue, self.name) if self.rate_per_s is not None else activity_queue


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an entity: `kind` scalar|relation, `type` (primitive or entity name);
    `collection` when the relation is filled from its own list endpoint (never from a body)."""

    name: str
    kind: str
    type: str
    list: bool
    optional: bool
    collection: bool = False


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity: its key field, fields in source order, and the JSON Schema of a record."""

    name: str
    key: str
    fields: tuple[Field, ...]
    schema: Mapping[str, Any]

    @property
    def relations(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind == "relation")

    @property
    def collections(self) -> tuple[str, ...]:
        """The relations filled by a collection: a body's value for them is not read."""
        return tuple(f.name for f in self.fields if f.collection)

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a workflow loads its record: api, method, path template and its placeholders,
    the reload period (`every_ms`, or None) and the `select` path into the body."""

    api: str
    method: str
    path: str
    placeholders: tuple[str, ...]
    every_ms: int | None
    select: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class Paginate:
    """How a collection's pages follow each other (docs/ir.md "Collections"): `style` link |
    page | cursor | last | next | offset; `param` a query parameter (page number, offset, or
    the value a cursor or last item gives), `path` a body path (cursor, next URL) or a path
    in the last item (last), `size_param`/`size` the page size sent, `total` the body path
    of the item count, `more` that of the boolean saying more pages follow (last)."""

    style: str
    param: str | None
    path: tuple[str, ...] | None
    size_param: str | None
    size: int | None
    total: tuple[str, ...] | None
    more: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Collection:
    """A child edge's `from`: the list endpoint (an RFC 6570 template over the parent's
    fields, with its `variables`), where the list sits (`select`), how pages follow, the
    re-list period and the most pages one listing reads."""

    api: str
    template: str
    variables: tuple[str, ...]
    select: tuple[str, ...] | None
    paginate: Paginate | None
    every_ms: int | None
    max_pages: int


@dataclass(frozen=True, slots=True)
class Child:
    """A `child FIELD -> WORKFLOW { ... }` edge, with the tokens that travel down it."""

    field: str
    workflow: str
    entity: str
    many: bool
    autostart: bool
    cancel_on_delete: bool
    subscribe: tuple[str, ...]
    tokens: tuple[str, ...]
    stops_recursion: bool
    collection: Collection | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow type: the entity it manages, its source (or None), token mode, the apis
    whose token it must hold, and its child edges in source order."""

    name: str
    entity: str
    source: Source | None
    token: str
    needs: tuple[str, ...]
    children: tuple[Child, ...]

    def edge(self, field: str) -> Child | None:
        return next((c for c in self.children if c.field == field), None)

    @property
    def leaf(self) -> bool:
        """No child edges: its runs' workflow task timeout is a leaf's (`runtime.protocol.task_timeout`)."""
        return not self.children

    @property
    def collections(self) -> tuple[Child, ...]:
        """The child edges filled from their own list endpoints."""
        return tuple(c for c in self.children if c.collection is not None)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A `deploy` block: the root workflow, its entity id, workflow id, the env var each
    of its tokens is read from at deploy time, and its `with` field values."""

    workflow: str
    id: str
    workflow_id: str
    tokens: Mapping[str, str]
    with_values: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IR:
    """A whole IR document; `hash` identifies the registration a workflow runs under."""

    hash: str
    apis: Mapping[str, Api]
    entities: Mapping[str, Entity]
    workflows: Mapping[str, Workflow]
    deployments: tuple[Deployment, ...]


def load(doc: Mapping[str, Any]) -> IR:
    """Decode an IR document.

    Args:
        doc: the parsed IR JSON.
    Returns:
        The `IR`. Raises `IRError` naming the first missing or wrong key.
    """
    if not isinstance(doc, Mapping):
        raise IRError("the IR must be a JSON object")
    if doc.get("swf_ir") != IR_VERSION:
        raise IRError(f"unsupported IR version {doc.get('swf_ir')!r} (this runtime reads swf_ir == {IR_VERSION})")
    try:
        ir = IR(
            hash=_str(doc["hash"], "hash"),
            apis={n: _api(n, a) for n, a in doc["apis"].items()},
            entities={n: _entity(n, e) for n, e in doc["entities"].items()},
            workflows={n: _workflow(n, w) for n, w in doc["workflows"].items()},
            deployments=tuple(_deployment(d) for d in doc["deployments"]),
        )
    except KeyError as exc:
        raise IRError(f"the IR lacks the key {exc.args[0]!r}") from None
    except (TypeError, AttributeError) as exc:
        raise IRError(f"the IR is malformed: {exc}") from None
    _check_references(ir)
    return ir


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise IRError(f"{what} must be a string")
    return value


def _api(name: str, a: Mapping[str, Any]) -> Api:
    r = a["retry"]
    return Api(
        name=name,
        base=_str(a["base"], f"apis.{name}.base"),
        base_env=a["base_env"],
        auth=_auth(a["auth"]),
        allow=tuple(a["allow"]),
        timeout_ms=int(a["timeout_ms"]),
        retry=Retry(int(r["max_attempts"]), int(r["initial_interval_ms"]), int(r["max_interval_ms"])),
        rate_per_s=_rate(a.get("rate")),  # absent from IRs emitted before `rate` existed
    )


def _rate(rate: Mapping[str, Any] | None) -> float | None:
    """`{"requests": N, "per_ms": P}` as requests a second."""
    return None if rate is None else rate["requests"] * 1000 / rate["per_ms"]


def _auth(a: Mapping[str, Any]) -> Auth:
    scheme, header = a["scheme"], a["header"]
    if scheme == "bearer":  # IRs emitted before `prefix` existed say only "bearer"
        return Auth(scheme, header or "Authorization", a.get("prefix") or "Bearer ")
    return Auth(scheme, header, a.get("prefix"), a.get("query"))


def _entity(name: str, e: Mapping[str, Any]) -> Entity:
    fields = tuple(
        Field(fname, f["kind"], f["type"], bool(f["list"]), bool(f["optional"]), bool(f.get("collection", False)))
        for fname, f in e["fields"].items()
    )
    return Entity(name=name, key=_str(e["key"], f"entities.{name}.key"), fields=fields, schema=dict(e["schema"]))


def _source(s: Mapping[str, Any] | None) -> Source | None:
    if s is None:
        return None
    select = s["select"]
    return Source(
        api=s["api"],
        method=s["method"],
        path=_str(s["path"], "source.path"),
        placeholders=tuple(s["placeholders"]),
        every_ms=s["every_ms"],
        select=tuple(select) if select is not None else None,
    )


def _child(c: Mapping[str, Any]) -> Child:
    return Child(
        field=c["field"],
        workflow=c["workflow"],
        entity=c["entity"],
        many=bool(c["many"]),
        autostart=bool(c["autostart"]),
        cancel_on_delete=bool(c["cancel_on_delete"]),
        subscribe=tuple(c["subscribe"]),
        tokens=tuple(c["tokens"]),
        stops_recursion=bool(c["stops_recursion"]),
        collection=_collection(c.get("collection")),
    )


def _path(p: Any) -> tuple[str, ...] | None:
    return tuple(p) if p is not None else None


def _collection(c: Mapping[str, Any] | None) -> Collection | None:
    if c is None:
        return None
    p = c["paginate"]
    paginate = None if p is None else Paginate(
        style=_str(p["style"], "paginate.style"), param=p["param"], path=_path(p["path"]),
        size_param=p["size_param"], size=p["size"], total=_path(p["total"]), more=_path(p.get("more")))
    return Collection(
        api=c["api"],
        template=_str(c["template"], "collection.template"),
        variables=tuple(c["variables"]),
        select=_path(c["select"]),
        paginate=paginate,
        every_ms=c["every_ms"],
        max_pages=int(c["max_pages"]),
    )


def _workflow(name: str, w: Mapping[str, Any]) -> Workflow:
    return Workflow(
        name=name,
        entity=w["entity"],
        source=_source(w["source"]),
        token=w["token"],
        needs=tuple(w["needs"]),
        children=tuple(_child(c) for c in w["children"]),
    )


def _deployment(d: Mapping[str, Any]) -> Deployment:
    return Deployment(
        workflow=d["workflow"],
        id=_str(d["id"], "deployments[].id"),
        workflow_id=d["workflow_id"],
        tokens={api: t["env"] for api, t in d["tokens"].items()},
        with_values=dict(d.get("with") or {}),
    )


def _check_references(ir: IR) -> None:
    """The cross references the interpreter follows must resolve."""
    for w in ir.workflows.values():
        if w.entity not in ir.entities:
            raise IRError(f"workflow {w.name} manages unknown entity {w.entity}")
        if w.source is not None and w.source.api not in ir.apis:
            raise IRError(f"workflow {w.name} loads from unknown api {w.source.api}")
        for c in w.children:
            if c.workflow not in ir.workflows or c.entity not in ir.entities:
                raise IRError(f"workflow {w.name}: child edge {c.field} names an unknown workflow or entity")
            if c.collection is not None and c.collection.api not in ir.apis:
                raise IRError(f"workflow {w.name}: collection {c.field} lists from unknown api {c.collection.api}")
    for d in ir.deployments:
        if d.workflow not in ir.workflows:
            raise IRError(f"deployment of unknown workflow {d.workflow}")
