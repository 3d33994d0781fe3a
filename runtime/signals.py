"""The signals a workflow accepts, as a `name → handler` table. Pure.

Stage: the workflow queues each signal as it arrives and applies it here from its main
loop. A handler validates its argument, changes the state and returns the effects to carry
out (signals to forward, nothing else). A bad argument or an unknown name is a recorded
error (`Ctx.error`), never an exception: a signal can not fail a workflow task. Error texts
never echo the payload (it may hold a secret sent to the wrong signal): they name only what
the spec declares (its apis and entities), never a name, URL or id that was sent.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from runtime.children import to_child
from runtime.listing import mark_all_due
from runtime.normalize import InvalidData, digest, merge_stores, normalize
from runtime.sealing import is_sealed_token, sealed_at
from runtime.selectors import can_match, valid_selector
from runtime.protocol import Effect, Send, Status, Subscriber
from runtime.state import Ctx

Handler = Callable[[Ctx, Any], list[Effect]]


def apply_signal(ctx: Ctx, name: str, arg: Any) -> list[Effect]:
    """Apply one queued signal; returns the effects it asks for."""
    handler = HANDLERS.get(name)
    if handler is None:
        ctx.error("signal", f"unknown signal refused (accepted: {', '.join(sorted(HANDLERS))})")
        return []
    if name != "update":
        ctx.replan()  # only an `update`'s records are tracked for the next round's plan
    return handler(ctx, arg)


def on_api_token(ctx: Ctx, arg: Any) -> list[Effect]:
    """Set this workflow's token for an api; forward it down edges that carry that api."""
    if not is_sealed_token(arg):
        ctx.error("signal", "apiToken refused: the argument is not a sealed token (seal it with `swfc token set`)")
        return []
    api = arg["api"]
    if api not in ctx.wf.needs:
        ctx.error("signal", f"apiToken refused: the token is for an api {ctx.wf.name} does not use "
                            f"(it uses: {', '.join(ctx.wf.needs) or 'none'})")
        return []
    s = ctx.state
    if sealed_at(arg) < sealed_at(s.tokens.get(api)):
        # A token copied from an old history must not roll the hierarchy back to it.
        ctx.error("signal", f"apiToken refused: the {api} token was sealed before the one held")
        return []
    uses = ctx.wf.source is not None and ctx.wf.source.api == api
    lists = any(edge.collection.api == api for edge in ctx.wf.collections)
    if lists and s.status == Status.WAITING_FOR_TOKEN:
        s.status = Status.LOADING  # its collections are still due: the next round lists them
    if s.tokens.get(api) == arg:
        # Already held: not forwarded (that stops a cascade going round a cycle), but a
        # workflow waiting for a token tries it again (the API may have refused it briefly).
        if uses and s.status == Status.WAITING_FOR_TOKEN:
            s.stale, s.status = True, Status.LOADING
        return []
    s.tokens[api] = arg
    if uses and (s.status in (Status.WAITING_FOR_TOKEN, Status.ERROR) or not s.loaded):
        # Only a workflow the old token failed (or that never loaded) reloads: a rotation
        # of a healthy hierarchy costs one signal per workflow, not a reload each.
        s.stale, s.status = True, Status.LOADING
    return [
        to_child(ctx, wid, child, Send(wid, "apiToken", arg))
        for wid, child in s.children.items()
        if api in _edge_tokens(ctx, child.field)
    ]


def _edge_tokens(ctx: Ctx, field_name: str) -> tuple[str, ...]:
    edge = ctx.wf.edge(field_name)
    return edge.tokens if edge else ()


def on_api_url(ctx: Ctx, arg: Any) -> list[Effect]:
    """Point this workflow (only) at another base URL for an api, if its origin is allowed.
    A bare URL means the api of this workflow's own source."""
    if isinstance(arg, str) and ctx.wf.source is not None:
        arg = {"api": ctx.wf.source.api, "url": arg}
    if not (isinstance(arg, dict) and isinstance(arg.get("api"), str) and isinstance(arg.get("url"), str)):
        ctx.error("signal", 'apiUrl refused: expected {"api": NAME, "url": "http(s)://..."}')
        return []
    api = ctx.ir.apis.get(arg["api"])
    if api is None:
        ctx.error("signal", f"apiUrl refused: not an api of this spec ({', '.join(sorted(ctx.ir.apis))})")
        return []
    if not api.allows(arg["url"]):
        ctx.error("signal", f"apiUrl refused: the URL's origin is not in {api.name}'s allow list "
                            f"{list(api.allow)} (over {api.scheme} only)")
        return []
    ctx.state.api_urls[api.name] = arg["url"]
    if ctx.wf.source is not None and ctx.wf.source.api == api.name:
        ctx.state.stale = True
    return []


def on_update(ctx: Ctx, arg: Any) -> list[Effect]:
    """Merge a record sent by a parent or a child; `{}` marks this workflow's data stale.
    For a record the workflow holds, the record sent is a patch: the fields it gives are
    checked (with the held record standing in for those it leaves out) and merged."""
    if arg == {} or arg is None:
        # An explicit reload request; it also retries a workflow waiting for a token.
        ctx.state.stale = ctx.wf.source is not None
        mark_all_due(ctx)
        if ctx.state.stale and ctx.state.status == Status.WAITING_FOR_TOKEN:
            ctx.state.status = Status.LOADING
        return []
    entity = _entity_ref(ctx, arg, "update")
    if entity is None:
        return []
    record = arg.get("record")
    if not isinstance(record, dict):
        ctx.error("signal", "update refused: `record` must be an object")
        return []
    refusal = _update_refusal(ctx, entity, arg["id"], record)
    if refusal:
        ctx.error("signal", f"update refused: {refusal}")
        return []
    key = ctx.ir.entities[entity].key
    sent = {key: arg["id"], **record}
    held = ctx.state.store.get(entity, {}).get(arg["id"], {})
    try:
        rid, store = normalize(ctx.ir, entity, {**held, **sent})
    except InvalidData as exc:
        # Where, not what: the schema's wording quotes the value that was sent.
        ctx.error("signal", f"update refused: the {entity} record is invalid at {exc.path} "
                            f"(it does not match the {entity} schema)")
        return []
    if rid != arg["id"]:
        ctx.error("signal", f"update refused: the record's {key} is not the id it was sent for")
        return []
    # The sender holds what it sent: the digest of that, as before patches, so that the
    # updates planned from it (and the commands an older history replays) stay the same.
    _note_sender(ctx, arg.get("from"), entity, rid, {k: v for k, v in store[entity][rid].items() if k in sent})
    merge_stores(ctx.state.store, store)
    ctx.touched(store)
    if ctx.record is not None and ctx.wf.source is None:
        ctx.state.loaded = True
    return []


MAX_UPDATE_BYTES = 256 * 1024  # one record, as JSON


def _update_refusal(ctx: Ctx, entity: str, rid: str, record: dict[str, Any]) -> str | None:
    """Why this workflow will not take `record` for `entity` `rid`: it must be a record the
    workflow relates to (its own, one it holds, or one its record refers to), of at most
    `MAX_UPDATE_BYTES`. The store as a whole is not capped here: what the API relates
    bounds it, and External Storage carries a state past Temporal's payload limit (a
    subscribed parent of 10,000 holds 20 MB; measuring the store per update was quadratic)."""
    s = ctx.state
    child = s.children.get(f"{entity}-{rid}")  # the children index holds related ids: no list built
    related = (
        (entity, rid) == (s.entity, s.entity_id)
        or rid in s.store.get(entity, {})
        or (child is not None and (child.entity, child.id) == (entity, rid))
        or any(rel.type == entity and rid in ctx.related_ids(rel.name) for rel in ctx.ir.entities[s.entity].relations)
    )
    if not related:
        return f"this workflow holds no {entity} record by that id, and its record does not refer to one"
    size = len(json.dumps(record))
    if size > MAX_UPDATE_BYTES:
        return f"the record is {size} bytes as JSON; an update carries at most {MAX_UPDATE_BYTES}"
    return None


def _note_sender(ctx: Ctx, sender: Any, entity: str, rid: str, record: dict[str, Any]) -> None:
    """Remember what the sender holds, so its own change is not sent back to it (no echo)."""
    s = ctx.state
    child = s.children.get(sender) if isinstance(sender, str) else None
    if child is not None and (child.entity, child.id) == (entity, rid):
        child.known = digest(record)
        s.awaiting.pop(sender, None)
    sub = s.subscribers.get(sender) if isinstance(sender, str) else None
    if sub is not None and (entity, rid) == (s.entity, s.entity_id):
        sub.known = digest(record)


def on_delete(ctx: Ctx, arg: Any) -> list[Effect]:
    """Remove a record (and references to it); `{}` or the own record: this entity is gone."""
    s = ctx.state
    if arg == {} or arg is None or (isinstance(arg, dict) and (arg.get("entity"), arg.get("id")) == (s.entity, s.entity_id)):
        s.status = Status.DELETED
        return []
    entity = _entity_ref(ctx, arg, "delete")
    if entity is None:
        return []
    rid, record = arg["id"], ctx.record
    from_itself = arg.get("from") == f"{entity}-{rid}"
    rest = _without(ctx, record, entity, rid) if record is not None else None
    if rid not in s.store.get(entity, {}) and rest == record and f"{entity}-{rid}" not in s.children:
        if not from_itself:  # a child that ended after we let go of it is no news
            ctx.error("signal", f"delete refused: there is no {entity} by that id in this workflow's state")
        return []
    s.store.get(entity, {}).pop(rid, None)
    if from_itself:
        s.children.pop(arg["from"], None)  # it ended itself: nothing to cancel
    if rest is not None:
        s.store[s.entity][s.entity_id] = rest
    return []


def _without(ctx: Ctx, record: dict[str, Any], entity: str, rid: str) -> dict[str, Any]:
    """The own record with every reference to `entity` `rid` removed (a new dict)."""
    out = dict(record)
    for rel in ctx.ir.entities[ctx.state.entity].relations:
        if rel.type != entity or rel.name not in out:
            continue
        value = out[rel.name]
        out[rel.name] = [v for v in value if v != rid] if isinstance(value, list) else (None if value == rid else value)
    return out


def on_subscribe(ctx: Ctx, arg: Any) -> list[Effect]:
    """Notify `workflow_id` of changes to this workflow's record that match `selectors`."""
    if not (isinstance(arg, dict) and isinstance(arg.get("workflow_id"), str) and arg["workflow_id"]):
        ctx.error("signal", 'subscribe refused: expected {"workflow_id": ID, "selectors": [...]}')
        return []
    selectors = arg.get("selectors", ["*"])
    if not (isinstance(selectors, list) and selectors and all(valid_selector(x) for x in selectors)):
        ctx.error("signal", "subscribe refused: `selectors` must be a non-empty list of selectors such as \"*\" or \"photos.*\"")
        return []
    fields = [f.name for f in ctx.ir.entities[ctx.state.entity].fields]
    unmatched = [f"selectors[{i}]" for i, sel in enumerate(selectors) if not can_match(sel, fields)]
    if unmatched:  # named by position: a selector is payload, and is not echoed
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        ctx.error("signal", f"subscribe refused: {shown} can never match: a selector starts with "
                            f"\"*\", \"**\" or a field of {ctx.state.entity} ({', '.join(fields)})")
        return []
    old = ctx.state.subscribers.get(arg["workflow_id"])
    ctx.state.subscribers[arg["workflow_id"]] = Subscriber(selectors, old.known if old else None)
    return []


def on_unsubscribe(ctx: Ctx, arg: Any) -> list[Effect]:
    """Stop notifying `workflow_id`."""
    if not (isinstance(arg, dict) and isinstance(arg.get("workflow_id"), str)):
        ctx.error("signal", 'unsubscribe refused: expected {"workflow_id": ID}')
        return []
    ctx.state.subscribers.pop(arg["workflow_id"], None)
    return []


def _entity_ref(ctx: Ctx, arg: Any, signal: str) -> str | None:
    """The entity named by `{"entity", "id"}`, or None after recording why not."""
    if not (isinstance(arg, dict) and isinstance(arg.get("entity"), str) and isinstance(arg.get("id"), str) and arg["id"]):
        ctx.error("signal", f'{signal} refused: expected {{"entity": NAME, "id": ID, ...}} or {{}}')
        return None
    if arg["entity"] not in ctx.ir.entities:
        ctx.error("signal", f"{signal} refused: not an entity of this spec ({', '.join(sorted(ctx.ir.entities))})")
        return None
    return arg["entity"]


HANDLERS: dict[str, Handler] = {
    "apiToken": on_api_token,
    "apiUrl": on_api_url,
    "update": on_update,
    "delete": on_delete,
    "subscribe": on_subscribe,
    "unsubscribe": on_unsubscribe,
}
