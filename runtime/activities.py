"""The HTTP activity: load one workflow's record from its API.

Stage: runs on the worker, outside the workflow sandbox. Takes the request dict built by
`runtime.interpreter` (`Run._load_request`: registration hash, workflow type, base URL,
placeholder values, sealed token, the validators remembered per URL); opens the token, checks where it may go, and
makes the request through `runtime.fetch.get_json` (the one place that speaks HTTP).
Gives one of:
- `{"status": "ok", "id", "store", "validators": {url: {"etag", "last_modified"}}}` with
  the normalized entities;
- `{"status": "not_modified"}` on a 304 (the workflow keeps what it has);
- `{"status": "rate_limited", "http_status", "retry_after_ms"}` (the workflow waits that
  long, then loads again);
- `{"status": "unauthorized", "http_status"}` on 401/403 (it waits for a new token);
each with `"proxy"`: the origin of the proxy the request went through, or None.
Everything else that goes wrong is an `ApplicationError` whose retryability follows
DESIGN.md §4 (see `runtime.fetch`; bad bodies do not retry). The token is opened here and
only here, and no message, log line or exception raised here contains it (every message is
scrubbed, and httpx exceptions are not chained).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from rules.names import LIST_ACTIVITY, LOAD_ACTIVITY
from rules.origins import DEFAULT_PORTS, Origin
from runtime import registry
from runtime.fetch import Outcome, Validators, get_json, shown_url
from runtime.ir import IR, Api, Child, Workflow
from runtime.normalize import InvalidData, Store, cut, json_path, normalize, select, shown
from runtime.paging import next_url
from runtime.routes import Routes
from runtime.sealing import SealError, deployment, open_sealed, token_problem
from runtime.templates import expand, is_absolute

# What one `list_page` result may carry in records: well under Temporal's 2 MB payload
# limit whatever the page size (a longer page is read in several slices; see `list_page`).
PAGE_RESULT_BYTES = 1_000_000
MAX_ITEM_ERRORS = 5  # per page; the rest are counted


def build_url(base: str, path: str, values: dict[str, Any]) -> str:
    """The URL of a source: its RFC 6570 template expanded with `values`, under `base`
    unless it expands to an absolute URL."""
    return expand(base, path, {k: str(v) for k, v in values.items()})


class LoadActivities:
    """Activities sharing the worker's httpx clients (connection pools): one client, or the
    `Routes` that pick a client (direct or through a proxy) per URL."""

    def __init__(self, client: httpx.AsyncClient | Routes, seal_key: bytes | None = None) -> None:
        self._routes = client if isinstance(client, Routes) else Routes(client)
        self._key = seal_key

    @activity.defn(name=LOAD_ACTIVITY)
    async def load_entity(self, req: dict[str, Any]) -> dict[str, Any]:
        """Load, validate and normalize one record. See the module docstring."""
        ir, wf = _registration(req)
        assert wf.source is not None
        api = ir.apis[wf.source.api]
        url = build_url(req["base_url"], wf.source.path, req.get("values") or {})
        try:
            target = httpx.URL(url)  # parsed once: what is checked is what is requested
        except (httpx.InvalidURL, UnicodeError, ValueError):  # IDNAError is a UnicodeError
            raise ApplicationError("GET: the URL cannot be parsed", non_retryable=True, type="BadUrl") from None
        if is_absolute(wf.source.path, req.get("values") or {}):
            _check_allowed(api, url)
        token = self._open(api, wf.source.api, req.get("token"), url, target)
        client, proxy = self._routes.for_url(target)  # the origin check above is on the target, not the proxy
        remembered = Validators.of((req.get("validators") or {}).get(url))
        outcome = await get_json(client, api, url, token, remembered, proxy=proxy)
        return {**_interpret(ir, wf, req, url, shown_url(api, url), outcome), "proxy": proxy}

    @activity.defn(name=LIST_ACTIVITY)
    async def list_page(self, req: dict[str, Any]) -> dict[str, Any]:
        """Read one page of a collection (docs/runtime.md "Collections"), through the same
        request layer as a load (`runtime.fetch.get_json`).

        Takes `{ir_hash, workflow, field, url, skip, token, validators}`: the parent's
        workflow type, the collection's field, the page URL, how many of its items earlier
        slices took, and the `{"etag", "last_modified"}` remembered for the URL (or None).
        Gives `{"status": "ok", "ids", "invalid", "store", "errors", "count", "next", "skip",
        "validators"}`: the keys of the items in order (of the invalid ones too, where they
        have a key, also listed in `invalid`), the valid items' normalized records, one text
        per invalid item (its data is not taken), the page's item count, the next page's URL (None
        after the last) or — when this page's records would pass `PAGE_RESULT_BYTES` — the
        same URL again with the `skip` to resume at, and the response's validators. Else
        `{"status": "not_modified"}` (a 304), `{"status": "unauthorized", "http_status"}` or
        `{"status": "rate_limited", "http_status", "retry_after_ms"}`, as a load gives them.
        """
        ir, wf = _registration(req)
        edge = wf.edge(req["field"])
        assert edge is not None and edge.collection is not None
        api = ir.apis[edge.collection.api]
        url = req["url"]
        _check_allowed(api, url)
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, UnicodeError, ValueError):  # IDNAError is a UnicodeError
            raise ApplicationError("GET: the URL cannot be parsed", non_retryable=True, type="BadUrl") from None
        token = self._open(api, edge.collection.api, req.get("token"), url, target)
        client, proxy = self._routes.for_url(target)
        outcome = await get_json(client, api, url, token, Validators.of(req.get("validators")), proxy=proxy)
        if outcome.kind != "ok":
            return _interpret(ir, wf, req, url, shown_url(api, url), outcome)
        page = _page(ir, edge, shown_url(api, url), url, outcome, int(req.get("skip") or 0))
        page["validators"] = outcome.validators.to_dict()
        return page

    def _open(self, api: Api, source_api: str, sealed: Any, url: str, target: httpx.URL) -> str | None:
        if not api.needs_token:
            return None
        if sealed is None:
            raise ApplicationError(f"api {api.name} needs a token and none was given", non_retryable=True, type="NoToken")
        # Both parsers must agree on where the request goes before a token is attached.
        # `raw_host`: the host as sent (ASCII, xn-- form); `host` would decode it, and raise.
        sent_to = Origin(target.scheme, target.raw_host.decode("ascii", "replace"),
                         target.port or DEFAULT_PORTS.get(target.scheme, 0))
        if not api.allows(url) or not api.allows(str(sent_to)) or target.userinfo:
            raise ApplicationError(
                f"refusing to send the {api.name} token to a URL outside its allow list {list(api.allow)} "
                f"(over {api.scheme} only)",
                non_retryable=True,
                type="OriginNotAllowed",
            )
        if not isinstance(sealed, dict) or sealed.get("api") != source_api:
            raise ApplicationError(f"the token given for api {source_api} was sealed for another api",
                                   non_retryable=True, type="TokenMismatch")
        info = activity.info()
        # Bound to the workflows' queue; a rate-limited api's requests run on a queue of its own.
        bound_to = deployment(info.workflow_namespace, api.workflow_queue(info.task_queue))
        try:
            token = open_sealed(sealed, self._key, deployment=bound_to)
        except SealError as exc:
            raise ApplicationError(str(exc), non_retryable=True, type="SealError") from None
        if token_problem(token):
            raise ApplicationError(f"the {api.name} token cannot go into an HTTP header: {token_problem(token)}",
                                   non_retryable=True, type="BadToken")
        return token


def _registration(req: dict[str, Any]) -> tuple[IR, Workflow]:
    ir = registry.get(req["ir_hash"])
    if ir is None:
        # Retryable: another worker of the same task queue may hold this registration.
        raise ApplicationError(f"this worker does not hold IR {req['ir_hash']}", type="UnknownIR")
    return ir, ir.workflows[req["workflow"]]


def _check_allowed(api: Api, url: str) -> None:
    """A URL that does not come from the base (an absolute template, a next link) must
    go to an allowed origin, token or not: no request is made otherwise."""
    if not api.allows(url):
        raise ApplicationError(
            f"refusing GET {shown_url(api, url)}: it is outside {api.name}'s allow list {list(api.allow)} "
            f"(over {api.scheme} only)",
            non_retryable=True,
            type="OriginNotAllowed",
        )


def _page(ir: IR, edge: Child, shown_as: str, url: str, outcome: Any, skip: int) -> dict[str, Any]:
    """One page's items: validated and normalized one by one, up to `PAGE_RESULT_BYTES`."""
    col = edge.collection
    assert col is not None
    try:
        items, at = select(outcome.body, col.select)
    except InvalidData as exc:
        raise ApplicationError(f"GET {shown_as}: schema-invalid {exc}", non_retryable=True, type="SchemaInvalid") from None
    if not isinstance(items, list):
        raise ApplicationError(f"GET {shown_as}: schema-invalid {json_path(at)}: expected a list of {edge.entity} records, "
                               f"got {_what(items)}", non_retryable=True, type="SchemaInvalid")
    ids: list[str] = []
    invalid: list[str] = []
    store: Store = {}
    errors: list[str] = []
    size = 0
    for i in range(skip, len(items)):
        if size > PAGE_RESULT_BYTES:
            return {"status": "ok", "ids": ids, "invalid": invalid, "store": store, "errors": _errors(errors),
                    "count": len(items), "next": url, "skip": i}
        try:
            rid, found = normalize(ir, edge.entity, items[i], [*at, i])
        except InvalidData as exc:
            errors.append(f"{exc.path}: {exc.reason}")
            key = _readable_key(ir, edge.entity, items[i])
            if key is not None:  # in place: a record held from before stays (the interpreter decides)
                ids.append(key)
                invalid.append(key)
            continue
        # As the payload converter writes it: `\uXXXX` for every non-ASCII character (a page
        # of Japanese tickets weighs up to 6 times its characters).
        size += len(json.dumps(items[i], separators=(",", ":")))
        ids.append(rid)
        for entity, table in found.items():
            store.setdefault(entity, {}).update(table)
    try:
        after = next_url(url, col.paginate, outcome.body, len(items), outcome.next_url, at)
    except InvalidData as exc:
        raise ApplicationError(f"GET {shown_as}: schema-invalid {exc}", non_retryable=True, type="SchemaInvalid") from None
    return {"status": "ok", "ids": ids, "invalid": invalid, "store": store, "errors": _errors(errors),
            "count": len(items), "next": after, "skip": None}


def _readable_key(ir: IR, entity: str, item: Any) -> str | None:
    """The key of an invalid item, where it has one that could be a key (text or integer)."""
    key = item.get(ir.entities[entity].key) if isinstance(item, dict) else None
    if isinstance(key, bool) or not isinstance(key, (str, int)) or key == "":
        return None
    return str(key)


def _what(value: Any) -> str:
    """What a body holds where a list was expected: for an object, its fields that hold
    lists (where `select` should point), else the value (both at most 120 characters)."""
    if not isinstance(value, dict):
        return shown(value)
    lists = [k for k, v in value.items() if isinstance(v, list)]
    return f"an object with lists at {cut(', '.join(json.dumps(k) for k in lists))}" if lists \
        else f"an object with no list in it (fields {cut(', '.join(json.dumps(k) for k in value))})"


def _errors(errors: list[str]) -> list[str]:
    if len(errors) <= MAX_ITEM_ERRORS:
        return errors
    return errors[:MAX_ITEM_ERRORS] + [f"and {len(errors) - MAX_ITEM_ERRORS} more invalid items"]


def _interpret(ir: IR, wf: Workflow, req: dict[str, Any], url: str, shown_as: str, outcome: Outcome) -> dict[str, Any]:
    """The activity's result for the workflow (module docstring); `shown_as` is `url` as
    messages show it."""
    if outcome.kind == "unauthorized":
        return {"status": "unauthorized", "http_status": outcome.http_status}
    if outcome.kind == "rate_limited":
        return {"status": "rate_limited", "http_status": outcome.http_status, "retry_after_ms": outcome.retry_after_ms}
    if outcome.kind == "not_modified":
        return {"status": "not_modified"}
    result = _normalized(ir, wf, req, shown_as, outcome.body)
    result["validators"] = {url: outcome.validators.to_dict()} if outcome.validators else {}
    return result


def _normalized(ir: IR, wf: Workflow, req: dict[str, Any], url: str, body: Any) -> dict[str, Any]:
    assert wf.source is not None
    try:
        value, at = select(body, wf.source.select)
        rid, store = normalize(ir, wf.entity, value, at)
    except InvalidData as exc:
        raise ApplicationError(f"GET {url}: schema-invalid {exc}", non_retryable=True, type="SchemaInvalid") from None
    if rid != req["entity_id"]:
        raise ApplicationError(
            f"GET {url}: the response is {wf.entity} {shown(rid)}, not {shown(req['entity_id'])}",
            non_retryable=True, type="SchemaInvalid"
        )
    return {"status": "ok", "id": rid, "store": store}
