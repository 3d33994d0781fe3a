"""The interpreter behind `StatefulWorkflow`: the cycle of DESIGN.md §4 for one workflow.

Stage: runs inside the Temporal worker, for every workflow type of every registration
(outside the SDK's sandbox: see runtime.workflow). Takes a `runtime.protocol.WorkflowInput`
(its `ir_hash` picks the registration from `runtime.registry`); keeps all state in one
`WorkflowState`; runs the cycle: wait for a reason → load (activity) → merge → manage
children → notify subscribers → continue-as-new. `Interpreter` takes what Temporal hands
the workflow (signals may come before the run has begun); `Run` is one run, with the
context `_begin` built for it.

Why not in `runtime/workflow.py`: that module is a thin shell, so that should the workflow
go back into the sandbox (which re-imports the module that defines a workflow class for
every run) this one is still imported once per worker, through `imports_passed_through()`.

Determinism: no I/O, clock or randomness but Temporal's (`workflow.now()`, timers, activities):
code here is not checked by the sandbox's import restrictions, so it must keep to that by
itself. Signals are only queued by the handler and applied from the main loop (through the
`signals.HANDLERS` table), so handlers never interleave with a round.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ApplicationError, ActivityError, RetryState

from rules.names import DELIVER_ACTIVITY, LIST_ACTIVITY, LOAD_ACTIVITY
from runtime import carried, listing, search_attributes
from runtime.registry import get as registration, holding, is_current, unknown_ir_grace_s
from runtime.children import cleanup, plan, publish
from runtime.ir import IR, Api, Child, Source, Workflow
from runtime.normalize import InvalidData, cut, digest, merge_stores, normalize
from runtime.queries import QUERIES, iso_time
from runtime.sealing import is_sealed_token
from runtime.signals import apply_signal
from runtime.protocol import (HOW_SWFC_STARTS, Attach, DeliveryItem, DeliveryResult, Effect,
                              InvalidInput, Send, Start, Status, Subscriber, Upgrade, WorkflowInput, foreign_fields,
                              task_timeout)
from runtime.state import Ctx, WorkflowState
from runtime.templates import template_values
from runtime.upgrade import adopt, carried_state, child_upgrades, upgrade_problem, upgrade_refusal

ACTIVITY_MARGIN_MS = 5000
START_RETRY_MS = 5000
# The pace of a run of generation 2 and later (`runtime.protocol.GENERATION`); a run of
# generation 1 keeps the pace it was recorded with: the `V1_` sizes, bounded only where its
# history has the BOUNDED_ROUNDS patch (before it: `LEGACY_START_BATCH` per round).
DELIVERY_BATCH = 200  # starts/signals/cancels per local activity (each start carries data)
START_BATCH = 200  # new children per round, one round per workflow task (1 + 200: one round)
V1_DELIVERY_BATCH = 100
V1_START_BATCH = 50
LEGACY_START_BATCH = 500
BOUNDED_ROUNDS = "bounded-rounds"  # patch: rounds of V1_START_BATCH; big deliveries over several tasks
DELIVERIES_AT_ONCE = 5  # local activities in flight: 1,000 client calls, not one per effect
BIG_DELIVERIES_AT_ONCE = 2  # per workflow task in a big delivery (the task waits for them)
UPGRADE_BATCH = 10  # `upgrade` updates per local activity: each waits for its child's workflow task
SIGNAL_BATCH = 500  # queued signals applied per round (each `update` is validated)
# Generation 3 on: new subscribed children are started while fewer than REPORT_WINDOW owe
# their first `update`, once REPORT_ROOM places are free (or the backlog fits): the task
# queue holds the tasks of about that many children, not of 10,000, so a task of the parent
# that leaves its sticky queue is taken within seconds, and no more `update`s than that can
# pile up meanwhile. A child that has not reported within REPORT_WAIT_MS (failing, slow
# API) stops counting: a window of failing children cannot stall the rest for long.
REPORT_WINDOW = 500
REPORT_ROOM = 100
REPORT_WAIT_MS = 60_000
# Generation 3 on, a run whose history nears continue-as-new (WIND_DOWN_AT of its limit, or
# Temporal's suggestion) starts no new children, and continues as new once none owes it an
# `update`: Temporal refuses a continue-as-new when a signal arrives during its workflow task
# (UnhandledCommand), and each refusal cost the parent of 10,000 an eviction and a replay of
# ~5,000 events (5-13 s of the worker's CPU), 4 or 5 times a run while its children reported.
# Past twice its limit or HISTORY_BYTES_CAP of history, it continues as new regardless.
# A child may not report for a minute (seen: its first workflow task lost by the worker until
# the task timed out, several times a 1 + 10,000 run): a run winding down continues as new
# once no signal came for WIND_DOWN_QUIET_MS, whatever it is still owed (the next run takes
# those `update`s). Waiting for them stalled every child of the hierarchy meanwhile.
WIND_DOWN_AT = 0.8
WIND_DOWN_QUIET_MS = 5_000
HISTORY_BYTES_CAP = 16 * 1024 * 1024
# A run begun before signals to children were checked for their deployment (`Attach`) goes
# on without the check: its recorded deliveries are of the effects it planned then.
DEPLOYMENT_CHECK_PATCH = "children-checked-for-deployment"
# A run begun before a child knew that the parent which started it holds the data it was
# started with published that data back to it at once: its history has those signals.
PARENT_HOLDS_DATA_PATCH = "parent-holds-the-start-data"


class Interpreter:
    """One workflow's interpreter; `runtime.workflow.StatefulWorkflow` holds one per run
    and hands it every run, signal, update and query. Signals and queries may come before
    the run has begun (a worker replaying it): signals are queued, the rest waits for the
    `Run`, which has the run's context from its start."""

    def __init__(self) -> None:
        self._inbox: list[tuple[str, RawValue | None]] = []
        self._run: Run | None = None

    async def run(self, args: Sequence[RawValue]) -> dict[str, Any]:
        ctx = _begin(_decode_input(args[0]) if args else {})
        ctx.checks_deployments = ctx.state.deployment is not None and _past(ctx, DEPLOYMENT_CHECK_PATCH)
        self._run = Run(ctx, self._inbox)
        return await self._run.execute()

    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Queue the signal; the main loop decodes, validates and applies it. Decoding waits
        for the round that takes it: a parent whose task waited in a busy task queue gets
        every `update` that came meanwhile in one activation (thousands), which must end
        within the deadlock detector's 2 s on a busy worker."""
        self._inbox.append((name, args[0] if args else None))

    async def upgrade(self, request: dict[str, Any]) -> dict[str, Any]:
        """Move to another registration (an edited spec): see `runtime.upgrade`."""
        await workflow.wait_condition(lambda: self._run is not None)  # a run being replayed
        assert self._run is not None  # for the type checker: the condition above
        return self._run.upgrade(request)

    def validate_upgrade(self, request: dict[str, Any]) -> None:
        # Rejected here, nothing of it enters history. Before the run has begun (a worker
        # replaying this workflow) the handler checks the request's shape instead; what an
        # upgrade may not do is checked here only, since the validator never runs on replay
        # (a handler's decision must not change with the worker that replays it).
        ctx = self._run.ctx if self._run is not None else None
        problem = _upgrade_problem(ctx, request) if ctx is not None else None
        if problem is None and isinstance(request, dict) and isinstance(request.get("ir_hash"), str):
            new_ir, running = registration(request["ir_hash"]), ctx.state.ir_hash if ctx else None
            if new_ir is not None:  # staying on the running spec is no rollback
                problem = upgrade_refusal(request, new_ir, is_current(new_ir.hash) or new_ir.hash == running)
        if problem is not None:
            raise ValueError(problem)

    def on_query(self, name: str, args: Sequence[RawValue]) -> Any:
        if self._run is None:
            raise RuntimeError("the workflow has not started yet")
        if name not in QUERIES:
            raise ValueError(f"unknown query {name!r} (known: {', '.join(sorted(QUERIES))})")
        return QUERIES[name](self._run.ctx, [n for n, _ in self._inbox], *(_decode(a) for a in args))


class Run:
    """One run of a workflow: its context (built once, by `_begin`, before anything else
    happens), the queue of signals it shares with the `Interpreter`, and the cycle."""

    def __init__(self, ctx: Ctx, inbox: list[tuple[str, RawValue | None]]) -> None:
        self.ctx = ctx
        self._inbox = inbox  # appended to by `Interpreter.on_signal`; taken from in place
        self._upgrade: dict[str, Any] | None = None
        self._window: asyncio.Future | None = None  # `_window_timer`, and when it fires
        self._window_at = 0

    async def execute(self) -> dict[str, Any]:
        ctx = self.ctx
        try:
            await self._cycle()
        except asyncio.CancelledError:
            if workflow.cancellation_reason() is None:
                # Evicted from the worker's cache (or an inner cancel), not cancelled: this
                # run's state is dropped and replayed later. Cleaning up here would be work
                # the eviction must wait for (a parent of thousands: past its deadline).
                raise
            # Cancelled (by the parent that started it, or a user): the same as a deletion,
            # so other parents attached to it let go of it too.
            ctx.state.status = Status.DELETED
            await self._carry_out(cleanup(ctx, tell_subscribers=True))
            _record_status(ctx)
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return _summary(ctx)

    def upgrade(self, request: dict[str, Any]) -> dict[str, Any]:
        """Take an upgrade request: the cycle continues as new under it (`runtime.upgrade`)."""
        ctx = self.ctx
        problem = _upgrade_problem(ctx, request)
        if problem is not None:
            raise ApplicationError(f"upgrade refused: {problem}", non_retryable=True)
        current = ctx.state.ir_hash
        if request["ir_hash"] != current:
            self._upgrade = request
            state = ctx.state
            # Not "loaded" again until it has loaded under the new spec (`--until-loaded`).
            state.status, state.loaded = Status.UPGRADING, state.loaded and ctx.wf.source is None
        return {"workflow_id": ctx.state.workflow_id, "from": current, "to": request["ir_hash"]}

    # ------------------------------------------------------------------ the cycle

    async def _cycle(self) -> None:
        """DESIGN.md §4, one turn per pass: take the reasons that arrived (signals) → load
        through an activity (validated, merged, diffed by `_loaded`) and list the collections
        due → manage children → notify subscribers → continue-as-new when history grows →
        wait for the next reason (a signal, an `every`, a retry). Returns once deleted."""
        ctx = self.ctx
        _tick(ctx)
        ctx.heard_ms = ctx.now_ms
        while True:
            effects, backlog = self._take_signals()
            if ctx.state.status == Status.DELETED:
                await self._carry_out(effects + cleanup(ctx, tell_subscribers=True))
                _record_status(ctx)
                return
            effects = await self._load_and_list(effects)
            ctx.winding_down = ctx.state.generation >= 3 and self._history_full(WIND_DOWN_AT)
            if self._inbox:  # signals came meanwhile: apply them before acting on the data
                await self._carry_out(effects)
                if backlog and not effects:
                    await _next_activation()  # spread a backlog over workflow tasks
                continue
            await self._carry_out(effects + _plan(ctx) + publish(ctx))
            # Failed starts wait (`retry_ms`), and so do new children while the window is full.
            if self._inbox or (ctx.backlog and ctx.state.retry_ms is None and _start_budget(ctx) > 0):
                if ctx.backlog and _bounded(ctx):
                    # A backlog does not hold off continue-as-new (the next run plans it
                    # again): 10,000 children's `update`s in one run made a history no
                    # worker could replay within a workflow task.
                    if not self._inbox and self._time_to_continue():
                        await self._continue_as_new_unless_signalled()
                        continue
                    await _next_activation()  # the next round of starts in a workflow task of its own
                continue
            if self._upgrade is not None or self._time_to_continue():
                await self._continue_as_new_unless_signalled()
                continue
            await self._wait_for_reason()

    def _take_signals(self) -> tuple[list[Effect], bool]:
        """Apply up to `SIGNAL_BATCH` queued signals (and pass an upgrade that started this
        run down to the children); the effects they ask for, and whether more are queued."""
        ctx = self.ctx
        _tick(ctx)
        effects: list[Effect] = []
        batch = self._inbox[:SIGNAL_BATCH]
        del self._inbox[:SIGNAL_BATCH]
        if batch:
            ctx.heard_ms = ctx.now_ms
        for name, raw in batch:
            try:
                arg = _decode(raw) if raw is not None else None
            except Exception:  # noqa: BLE001 - a payload that is not JSON is a bad signal
                ctx.error("signal", f"{name} refused: the payload is not JSON")
                continue
            effects += apply_signal(ctx, name, arg)
        backlog = bool(self._inbox)
        if ctx.state.upgrade_children:  # this run was started by an upgrade: pass it down
            ctx.state.upgrade_children = False
            effects += child_upgrades(ctx)
        return effects, backlog

    async def _load_and_list(self, effects: list[Effect]) -> list[Effect]:
        """Load the own record if due, then list each collection due; the effects not yet
        carried out (those before are carried out first: they go out before the requests)."""
        if self._load_due():
            self.ctx.replan()  # a body may hold children's records
            await self._carry_out(effects)
            await self._load()
            effects = []
        for edge in [] if self._rate_limited() else listing.due_edges(self.ctx):
            self.ctx.replan()  # a listing changes the relation and its items' records
            await self._carry_out(effects)
            await self._list(edge)
            effects = []
        return effects

    async def _wait_for_reason(self) -> None:
        """Sleep until a signal arrives, the `every` reload is due, or a failed child start
        is to be retried (the next round plans it again)."""
        ctx = self.ctx
        _record_status(ctx)
        s = ctx.state
        # A workflow that is already stale here cannot load (it waits for a token): its
        # reload time has passed and stays passed, and waiting on it would spin.
        refreshes = ctx.wf.source is not None and ctx.wf.source.every_ms and not s.stale
        reload_at = s.next_load_ms if refreshes else None
        relist_at = listing.next_deadline(ctx) if s.status != Status.WAITING_FOR_TOKEN else None
        deadlines = [t for t in (reload_at, s.retry_ms, s.rate_limited_until_ms, relist_at) if t is not None]
        # At least 1 ms: a zero timeout returns at once without yielding to Temporal.
        timeout = timedelta(milliseconds=max(1, min(deadlines) - _now_ms())) if deadlines else None
        window = self._window_timer(_window_deadline(ctx))
        try:
            await workflow.wait_condition(
                lambda: bool(self._inbox) or self._upgrade is not None or (window is not None and window.done()),
                timeout=timeout)
        except asyncio.TimeoutError:
            pass
        if window is not None and window.done():
            self._window = None
        now = _now_ms()
        if s.retry_ms is not None and now >= s.retry_ms:
            s.retry_ms = None
        if reload_at is not None and now >= reload_at:
            s.stale = True
        listing.wake(ctx, now)

    def _window_timer(self, at: int | None) -> asyncio.Future | None:
        """A timer until `at` (`_window_deadline`), started once and kept over the waits
        until it fires (or an earlier one is wanted, which replaces it: from generation 5 on,
        canceled): a full window waits for every `update` batch, and a timer per wait would
        add its start and its cancel to the history each time."""
        if at is not None and (self._window is None or at < self._window_at):  # a later one is left to fire
            if self._window is not None and self.ctx.state.generation >= 5:
                self._window.cancel()  # one at a time: continue-as-new cancels the one left (GENERATION 5)
            self._window = asyncio.ensure_future(workflow.sleep(timedelta(milliseconds=max(1, at - _now_ms()))))
            self._window_at = at
        return self._window

    # ------------------------------------------------------------------ loading

    def _load_due(self) -> bool:
        ctx = self.ctx
        s, source = ctx.state, ctx.wf.source
        if source is None or not s.stale or s.status == Status.WAITING_FOR_TOKEN or self._rate_limited():
            return False
        if ctx.ir.apis[source.api].needs_token and not s.tokens.get(source.api):
            s.status = Status.WAITING_FOR_TOKEN
            return False
        return True

    def _rate_limited(self) -> bool:
        """True while the api has asked for no request before a time still to come."""
        s = self.ctx.state
        if s.rate_limited_until_ms is None:
            return False
        if _now_ms() < s.rate_limited_until_ms:
            s.status = Status.RATE_LIMITED  # whatever a signal set meanwhile: it still waits
            return True
        s.rate_limited_until_ms = None
        return False

    async def _load(self) -> None:
        ctx = self.ctx
        s, source = ctx.state, ctx.wf.source
        assert source is not None  # `_load_due`
        api = ctx.ir.apis[source.api]
        s.status, s.stale, s.failed = Status.LOADING, False, False
        request = self._load_request(source)
        if request is not None:
            try:
                result = await workflow.execute_activity(LOAD_ACTIVITY, request, result_type=dict, **_activity_options(api))
            except ActivityError as exc:
                _tick(ctx)
                ctx.error("load", _failure_text(exc))
                s.status, s.failed = Status.ERROR, _non_retryable(exc)
            else:
                _tick(ctx)
                self._loaded(source.api, result)
        if source.every_ms:
            s.next_load_ms = _now_ms() + source.every_ms

    def _load_request(self, source: Source) -> dict[str, Any] | None:
        ctx = self.ctx
        s = ctx.state
        key = ctx.ir.entities[s.entity].key
        record = {**s.given, **(ctx.record or {}), key: s.entity_id}
        values, missing = template_values(ctx.ir, s.entity, record, s.store, source.placeholders)
        if missing:
            ctx.error("load", f"cannot build {source.path}: no value for {', '.join(missing)}")
            s.status, s.failed = Status.ERROR, True
            return None
        return {
            "ir_hash": s.ir_hash,
            "workflow": ctx.wf.name,
            "entity_id": s.entity_id,
            "base_url": ctx.api_url(source.api),
            "values": values,
            "token": s.tokens.get(source.api),
            "validators": self._validators(),
        }

    def _validators(self) -> dict[str, dict[str, Any]]:
        """The validators to send per URL: only those of the data still held (a record
        changed since, by an `update`, must be read again in full, not confirmed)."""
        ctx = self.ctx
        held = _body_digest(ctx, ctx.record) if ctx.record is not None else None
        return {url: {"etag": v.get("etag"), "last_modified": v.get("last_modified")}
                for url, v in ctx.state.validators.items() if held is not None and v.get("digest") == held}

    def _loaded(self, api: str, result: dict[str, Any]) -> None:
        ctx = self.ctx
        s = ctx.state
        s.proxy = result.get("proxy")  # a property of the worker that made the request, as it reported it
        outcome = result.get("status")
        if outcome == "unauthorized":
            s.status, s.stale = Status.WAITING_FOR_TOKEN, True
            ctx.error("load", f"HTTP {result.get('http_status')}: the {api} token was refused; waiting for a new one")
            return
        if outcome == "rate_limited":
            s.status, s.stale = Status.RATE_LIMITED, True
            s.rate_limited_until_ms = _now_ms() + int(result["retry_after_ms"])
            next_try = iso_time(s.rate_limited_until_ms)
            ctx.error("load", f"HTTP {result['http_status']}: api {api} is rate limited; next try at {next_try}")
            return
        if outcome == "ok":
            self._merge_loaded(result)
        listing.mark_all_due(ctx)  # ok, or not_modified: the data holds; its collections are listed again
        s.loaded, s.status, s.checked_at = listing.all_listed(ctx), Status.RUNNING, ctx.now
        if s.errors and s.errors[-1]["kind"] == "load":
            s.last_error = None  # a good load answers a failed one; a refused signal stays news

    def _merge_loaded(self, result: dict[str, Any]) -> None:
        ctx = self.ctx
        s = ctx.state
        store = result["store"]
        own = store.get(s.entity, {}).pop(s.entity_id)
        merge_stores(s.store, store)
        before = ctx.record or {}
        # The API is authoritative for the own record, but for the relations its collections fill.
        own.update({f: before[f] for f in ctx.ir.entities[s.entity].collections if f in before})
        s.store.setdefault(s.entity, {})[s.entity_id] = own
        s.validators = {url: {**v, "digest": _body_digest(ctx, own)} for url, v in (result.get("validators") or {}).items()}
        s.loads += 1

    # ------------------------------------------------------------------ collections

    async def _list(self, edge: Child) -> None:
        """List a collection page by page (one activity each: no result nears Temporal's
        payload limit however long the list); the relation changes only at the end."""
        ctx, collection = self.ctx, edge.collection
        assert collection is not None  # `listing.due_edges` gives collections only
        ctx.state.status = Status.LOADING
        url = listing.first_page(ctx, edge)
        if url is None or not listing.allowed(ctx, edge, url, followed=False):
            return
        ids: list[str] = []
        held = set(ctx.related_ids(edge.field))  # an item that turned invalid keeps its place and record
        store: dict[str, dict[str, Any]] = {}
        read: dict[str, dict[str, Any]] = {}  # page URL -> what to remember of it (`listing.remember`)
        skip = 0
        while url is not None and len(read) < collection.max_pages:
            page = await self._page(edge, collection.api, url, skip)
            if page is None:
                return
            invalid = set(page.get("invalid") or ())
            ids += [k for k in page["ids"] if k not in invalid or k in held]
            merge_stores(store, page["store"])
            if page["skip"] is None:
                read[url] = listing.remember(page, whole=skip == 0)
            url, skip = page["next"], page["skip"] or 0
            if url is not None and skip == 0 and (url in read or not listing.allowed(ctx, edge, url, followed=True)):
                if url in read:
                    listing.failed(ctx, edge, f"the next page {url} was already read: the list does not end")
                return
        listing.finish(ctx, edge, ids, store, read)
        if url is not None:  # recorded after `finish`, which clears an earlier listing's error
            ctx.error("list", f"{edge.field}: stopped after {len(read)} pages (max {collection.max_pages} pages); the rest is left out")

    async def _page(self, edge: Child, api_name: str, url: str, skip: int) -> dict[str, Any] | None:
        """One `list_page` activity; None (recorded) when the listing cannot go on. A 304
        gives the page as it was last read (`listing.unchanged_page`)."""
        ctx = self.ctx
        s, api = ctx.state, ctx.ir.apis[api_name]
        known = listing.known_page(ctx, edge, url) if skip == 0 else None
        request = {"ir_hash": s.ir_hash, "workflow": ctx.wf.name, "field": edge.field, "url": url, "skip": skip,
                   "token": s.tokens.get(api.name), "validators": known and known["validators"]}
        try:
            page = await workflow.execute_activity(LIST_ACTIVITY, request, result_type=dict, **_activity_options(api))
        except ActivityError as exc:
            _tick(ctx)
            listing.failed(ctx, edge, _failure_text(exc))
            return None
        _tick(ctx)
        if page.get("status") == "unauthorized":
            s.status = Status.WAITING_FOR_TOKEN
            ctx.error("list", f"HTTP {page.get('http_status')}: the {api.name} token was refused; waiting for a new one")
            return None
        if page.get("status") == "rate_limited":  # listed again once the api allows it (still due)
            s.status, s.rate_limited_until_ms = Status.RATE_LIMITED, _now_ms() + int(page["retry_after_ms"])
            ctx.error("list", f"HTTP {page['http_status']}: api {api.name} is rate limited; next try at {iso_time(s.rate_limited_until_ms)}")
            return None
        if page.get("status") == "not_modified" and known is not None:
            return listing.unchanged_page(known)
        for problem in page["errors"]:
            ctx.error("item", f"{edge.field}: GET {url}: invalid item not taken: {problem}")
        return page

    # ------------------------------------------------------------------ effects

    async def _carry_out(self, effects: list[Effect]) -> None:
        """Carry out one round's effects — starts, signals, cancels — concurrently (never one
        round trip at a time: see `runtime.delivery` for why), in batches of at most
        `DELIVERY_BATCH` so that no recorded batch nears Temporal's payload size limit, and
        `DELIVERIES_AT_ONCE` batches in flight (10,000 calls at once swamp a server).

        A big delivery (more than one group in flight, or more than `UPGRADE_BATCH` upgrades:
        an upgrade or a rotation of thousands of children) goes out `BIG_DELIVERIES_AT_ONCE`
        local activities per workflow task (a task stays open while its local activities
        run), upgrades `UPGRADE_BATCH` to one: each `upgrade` waits for its child's workflow
        task, and 500 of them at once outlasted the activity's timeout."""
        upgrades = [e for e in effects if isinstance(e, Upgrade)]
        size = DELIVERY_BATCH if self.ctx.state.generation >= 2 else V1_DELIVERY_BATCH
        big = len(effects) > size * DELIVERIES_AT_ONCE or len(upgrades) > UPGRADE_BATCH
        if big and _bounded(self.ctx):
            others = [e for e in effects if not isinstance(e, Upgrade)]
            batches = _batches(others, size) + _batches(upgrades, UPGRADE_BATCH)
        else:
            big, batches = False, _batches(effects, size)
        at_once = BIG_DELIVERIES_AT_ONCE if big else DELIVERIES_AT_ONCE
        for at in range(0, len(batches), at_once):
            if big and at:
                await _next_activation()
            await asyncio.gather(*(self._deliver(batch) for batch in batches[at:at + at_once]))

    async def _deliver(self, effects: list[Effect]) -> None:
        ctx = self.ctx
        info = workflow.info()
        inherited = search_attributes.for_child(info.typed_search_attributes, info.workflow_id)
        try:
            results = await workflow.execute_local_activity(
                DELIVER_ACTIVITY,
                {"items": [DeliveryItem.of(e, info.task_queue, inherited, ctx.state.deployment).to_json() for e in effects]},
                result_type=list,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError as exc:
            _tick(ctx)
            ctx.error("child", f"delivering {len(effects)} start(s)/signal(s) failed: {_failure_text(exc)}")
            for e in effects:
                if isinstance(e, Start):
                    self._retry_start(e)
            return
        for effect, result in zip(effects, results):
            self._delivered(effect, DeliveryResult.from_json(result))

    def _delivered(self, effect: Effect, result: DeliveryResult) -> None:
        """Book a result: a started child's ownership; a peer that is gone is forgotten."""
        ctx = self.ctx
        wid, s = effect.workflow_id, ctx.state
        if result.ok:
            if isinstance(effect, (Start, Attach)) and wid in s.children:
                child = s.children[wid]
                child.owned, child.deployment = child.owned or result.owned, result.deployment
            return
        ctx.replan()  # a child forgotten, or its `known` reset
        if result.foreign:  # another spec's workflow: left alone, never retried
            s.children.pop(wid, None)
            s.foreign[wid] = result.foreign
            ctx.error("child", result.error or "")
            return
        if isinstance(effect, Start) and result.refused:  # no retry cures it: left out, like a bad item
            s.children.pop(wid, None)
            s.unstartable[wid] = True
            ctx.error("child", f"cannot start {cut(wid)}: {cut(result.error or '')}; left out")
            return
        if isinstance(effect, Start):
            self._retry_start(effect)
        if not result.gone:
            ctx.error("child", f"{type(effect).__name__.lower()} {cut(wid)} failed: {cut(result.error or '')}")
        elif any(send.signal == "update" for send in _signals(effect)):
            s.subscribers.pop(wid, None)
            if wid in s.children:
                s.children[wid].known = None

    def _retry_start(self, effect: Start) -> None:
        """Forget a child that did not start; a round after `START_RETRY_MS` plans it again."""
        self.ctx.state.children.pop(effect.workflow_id, None)
        self.ctx.replan()
        self.ctx.state.retry_ms = _now_ms() + START_RETRY_MS

    # ------------------------------------------------------------------ continue-as-new

    def _history_full(self, share: float = 1.0) -> bool:
        """Whether Temporal suggests continuing as new, or the history holds `share` of its limit."""
        info = workflow.info()
        return (info.is_continue_as_new_suggested()
                or info.get_current_history_length() >= share * self.ctx.state.history_limit)

    def _time_to_continue(self) -> bool:
        """Whether to continue as new now: the history is full (before generation 3); from
        generation 3 on, it is winding down (see WIND_DOWN_AT) and no child owes this run its
        first `update` or none was heard for WIND_DOWN_QUIET_MS, or it is past twice its
        limit or HISTORY_BYTES_CAP."""
        ctx = self.ctx
        if ctx.state.generation < 3:
            return self._history_full()
        if not ctx.winding_down:
            return False
        if not _awaited(ctx) or _now_ms() - ctx.heard_ms >= WIND_DOWN_QUIET_MS:
            return True
        info = workflow.info()
        return (info.get_current_history_length() >= 2 * self.ctx.state.history_limit
                or info.get_current_history_size() >= HISTORY_BYTES_CAP)

    async def _continue_as_new_unless_signalled(self) -> None:
        """Continue as new (under the upgrade's registration, if one was asked for) once every
        handler has finished; returns only when signals arrived meanwhile (apply them first).
        From generation 5 on, in a workflow task with no timer of its own still to fire: the
        server refuses a continue-as-new when a timer fires during its task (see GENERATION)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._inbox:
            return
        if self.ctx.state.generation >= 5 and self._window is not None and not self._window.done():
            self._window.cancel()  # recorded with this task's commands, so it cannot fire during the next
            self._window = None
            await _next_activation()
            if self._inbox:
                return
        _continue_as_new(self.ctx, self._upgrade)


def _signals(effect: Effect) -> tuple[Send, ...]:
    """The signals an effect sends (those it sends only if the workflow runs, for a start)."""
    return (effect,) if isinstance(effect, Send) else effect.signals if isinstance(effect, Attach) else ()


def _upgrade_problem(ctx: Ctx, request: Any) -> str | None:
    valid_hash = isinstance(request, dict) and isinstance(request.get("ir_hash"), str)
    return upgrade_problem(ctx, request, registration(request["ir_hash"]) if valid_hash else None)


def _body_digest(ctx: Ctx, record: dict[str, Any]) -> str:
    """The digest of the own record as a body gives it: without the relations its
    collections fill (those change with every listing, not with the body)."""
    collections = ctx.ir.entities[ctx.state.entity].collections
    return digest({k: v for k, v in record.items() if k not in collections})


def _activity_options(api: Api) -> dict[str, Any]:
    """Timeout and retry policy of a request to `api`, from the IR."""
    return {
        "task_queue": api.task_queue(workflow.info().task_queue),  # a rate-limited api's own queue
        "start_to_close_timeout": timedelta(milliseconds=api.timeout_ms + ACTIVITY_MARGIN_MS),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(milliseconds=api.retry.initial_interval_ms),
            maximum_interval=timedelta(milliseconds=api.retry.max_interval_ms),
            maximum_attempts=api.retry.max_attempts,
            backoff_coefficient=2.0,
        ),
    }


def _decode(raw: RawValue) -> Any:
    return workflow.payload_converter().from_payload(raw.payload, None)


def _decode_input(raw: RawValue) -> Any:
    """The run's input: taken as this worker parsed it ahead of the task, if it did (a big
    carried input, `runtime.carried`); signals and queries never are, so they skip the lookup."""
    value = carried.take(raw.payload)
    return _decode(raw) if value is carried.NOT_PARSED else value


def _plan(ctx: Ctx) -> list[Effect]:
    """One round of child management (`children.plan`) with at most `START_BATCH` new
    children (`V1_START_BATCH` in generation 1; `LEGACY_START_BATCH` in a run of it replayed
    from before `BOUNDED_ROUNDS`)."""
    effects = plan(ctx, _start_budget(ctx))
    if ctx.backlog and not _bounded(ctx):
        effects += plan(ctx, LEGACY_START_BATCH - V1_START_BATCH)
    ctx.changed = set()  # every other change to children or their records calls `ctx.replan()`
    return effects


def _start_budget(ctx: Ctx) -> int:
    """How many new children this round may start: `START_BATCH` (`V1_START_BATCH` in
    generation 1), and from generation 3 on no more than the window has room for: none until
    `REPORT_ROOM` places are free, unless the whole backlog fits."""
    s = ctx.state
    if s.generation < 3:
        return START_BATCH if s.generation >= 2 else V1_START_BATCH
    if ctx.winding_down:
        return 0
    room = REPORT_WINDOW - len(_awaited(ctx))
    return min(START_BATCH, room) if room >= min(REPORT_ROOM, max(ctx.backlog, 1)) else 0


def _awaited(ctx: Ctx) -> dict[str, int]:
    """The started children still owing their first `update` and not given up on (those
    started more than `REPORT_WAIT_MS` ago, and those no longer children, are dropped)."""
    s = ctx.state
    if s.awaiting:
        s.awaiting = {w: t for w, t in s.awaiting.items() if w in s.children and ctx.now_ms - t < REPORT_WAIT_MS}
    return s.awaiting


def _window_deadline(ctx: Ctx) -> int | None:
    """When a run that waits for children's first `update`s looks again without one: winding
    down, once it has heard nothing for WIND_DOWN_QUIET_MS; with a full window, when the
    oldest owed child is given up on. None if it does not wait for them."""
    s = ctx.state
    if s.generation < 3 or not _awaited(ctx):
        return None
    if ctx.winding_down:
        return ctx.heard_ms + WIND_DOWN_QUIET_MS
    if ctx.backlog and _start_budget(ctx) == 0:
        return min(s.awaiting.values()) + REPORT_WAIT_MS
    return None


def _bounded(ctx: Ctx) -> bool:
    """Whether this run starts its children in bounded rounds, one workflow task each, and
    spreads a big delivery over several tasks: always from generation 2 on (no patch marker
    asked for), in generation 1 from `BOUNDED_ROUNDS` on."""
    return _past(ctx, BOUNDED_ROUNDS, since=2)


def _past(ctx: Ctx, patch: str, since: int = 4) -> bool:
    """Whether this run does what `patch` brought: always from generation `since` on (no
    marker asked for); before it, where its history has the patch (a run begun before it
    had none)."""
    return ctx.state.generation >= since or workflow.patched(patch)


def _batches(effects: list[Effect], size: int) -> list[list[Effect]]:
    return [effects[i:i + size] for i in range(0, len(effects), size)]


def _now_ms() -> int:
    return int(workflow.now().timestamp() * 1000)


async def _next_activation() -> None:
    """Let this workflow task end: the work left goes on in the next one (a 1 ms timer; only
    for a backlog too big for one activation under the 2 s deadlock detector)."""
    await workflow.sleep(timedelta(milliseconds=1))


def _tick(ctx: Ctx) -> None:
    ctx.now, ctx.now_ms = workflow.now().isoformat(), _now_ms()


def _record_status(ctx: Ctx) -> None:
    """Upsert `SwfcStatus` when the workflow settles in another status, and `SwfcProblem`
    when the kind of the error it holds changes (see `runtime.search_attributes`; a workflow
    started without them never upserts them, so the stored histories of runs before them
    replay unchanged)."""
    s = ctx.state
    problem = s.errors[-1]["kind"] if s.last_error is not None and s.errors else None
    update = search_attributes.updates(workflow.info().typed_search_attributes, s.status, problem)
    if update:
        workflow.upsert_search_attributes(update)


def _non_retryable(exc: ActivityError) -> bool:
    """Whether the activity failed for a reason retrying cannot cure (a bad body, a 404),
    as opposed to running out of attempts at one that might (a 500, a timeout)."""
    return exc.retry_state == RetryState.NON_RETRYABLE_FAILURE


def _failure_text(exc: ActivityError) -> str:
    cause = exc.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if cause is None:
        return str(exc)
    kind = getattr(cause, "type", None) or type(cause).__name__
    # A FailureError's str() already starts with its type: take the bare message.
    return f"{kind}: {getattr(cause, 'message', None) or cause}"


def _begin(raw: Any) -> Ctx:
    """The context of a new run: from `carried` state on continue-as-new, else the input.
    An input no worker can use ends the run here (see `_registration`)."""
    info = workflow.info()
    try:
        inp = WorkflowInput.parse(raw)
    except InvalidInput as exc:
        raise _unusable_input(str(exc)) from None
    unknown = _unknown_fields(raw)
    ir = _registration(inp, unknown)
    wf = ir.workflows[info.workflow_type]
    if inp.carried:
        try:
            return _resumed(ir, wf, inp.carried)
        except (TypeError, ValueError):  # only by hand: continue-as-new always carries a whole state
            raise _unusable_input("`carried` is not the state of a run") from None
    state = WorkflowState(
        ir_hash=ir.hash,
        workflow_type=wf.name,
        workflow_id=info.workflow_id,
        entity=wf.entity,
        entity_id=inp.entity_id or info.workflow_id.removeprefix(wf.entity + "-"),
        api_bases=dict(inp.api_bases),
        ancestors=list(inp.ancestors),
        subscribers={sub.workflow_id: Subscriber(sub.selectors) for sub in inp.subscribers},
        history_limit=inp.history_limit or WorkflowState.history_limit,
        generation=inp.generation or 1,
        deployment=inp.deployment,
        given=inp.given,
        stale=wf.source is not None,
        status=Status.LOADING if wf.source is not None else Status.RUNNING,
    )
    ctx = Ctx(ir, wf, state)
    _tick(ctx)
    _initial_tokens(ctx, inp.tokens)
    _initial_data(ctx, inp.data, fresh=inp.loaded)
    if inp.data is not None and ctx.record is not None and _past(ctx, PARENT_HOLDS_DATA_PATCH):
        _parent_holds(ctx)
    if inp.ir_hash is None:
        _continue_adopted(ctx, unknown)
    return ctx


def _continue_as_new(ctx: Ctx, upgrade: dict[str, Any] | None) -> None:
    """End this run; the next one begins from its state (`_carried_input`)."""
    s = ctx.state
    workflow.continue_as_new(
        carried.carried_payload(_carried_input(ctx, upgrade), workflow.info().task_queue),  # encoded after the task
        workflow=workflow.info().workflow_type,
        memo={**workflow.memo(), "entity": s.entity, "id": s.entity_id},
        # a run started with Temporal's 10 s (or before leaves had their own) takes it on here
        task_timeout=task_timeout(ctx.wf.leaf),
    )


def _carried_input(ctx: Ctx, upgrade: dict[str, Any] | None) -> dict[str, Any]:
    """The input of the next run: this one's state (under the upgrade's registration, if
    one was asked for), noting whether every child's `known` is current (`Ctx.settled`)."""
    s = ctx.state
    s.children_current = ctx.settled()
    # Mid-load (updates merged since the last plan), only those children: 10,000 records
    # hashed in the next run's first task cost 0.6 s at 16 KB (bench/big_parent.py).
    s.children_unsettled = None if s.children_current else ctx.unsettled_children()
    carried = carried_state(ctx, upgrade) if upgrade is not None else s.to_dict()
    return WorkflowInput(ir_hash=carried["ir_hash"], entity_id=s.entity_id, carried=carried).to_json()


def _resumed(ir: IR, wf: Workflow, carried: dict[str, Any]) -> Ctx:
    """The context of a run begun from `carried` state (continue-as-new)."""
    ctx = Ctx(ir, wf, WorkflowState.from_dict(carried))
    s = ctx.state
    if s.children_current:
        ctx.trust_known()
    elif s.children_unsettled is not None:
        ctx.trust_known(set(s.children_unsettled))
    s.children_current, s.children_unsettled = False, None  # true only of the state carried
    if s.upgrade_children:
        adopt(ctx)
    return ctx


def _registration(inp: WorkflowInput, unknown: str) -> IR:
    """The registration this run interprets, or the end of the run (`ApplicationError`)
    where no worker can help. Where that depends on what this worker holds, it happens in
    the run's first workflow task only, when no command is in history yet that a worker
    holding other registrations would have to replay.

    - no `ir_hash` (started by hand): the one registration of this type this worker holds,
      if there is exactly one (`_continue_adopted` then records that in the next run);
    - a hash this worker does not hold: the task fails, so that a worker holding it can
      take it, until the task queue's grace period is over;
    - a registration without this workflow type: no worker can help.
    """
    info = workflow.info()
    wtype, ir_hash = info.workflow_type, inp.ir_hash
    if ir_hash is None:
        held = holding(wtype)
        if len(held) == 1:
            return held[0]
        why = (f"this worker holds {len(held)} registrations of {wtype}, so it cannot choose" if held
               else f"no registration this worker holds declares a workflow {wtype}")
        raise _unusable_input(f"the input has no `ir_hash`{unknown}, and {why}")
    ir = registration(ir_hash)
    if ir is None:
        grace = unknown_ir_grace_s(info.task_queue)
        waited = (workflow.now() - info.workflow_start_time).total_seconds()
        if inp.carried is not None or workflow.unsafe.is_replaying() or waited < grace:
            raise RuntimeError(f"this worker does not hold {wtype} of IR {ir_hash}")  # fails the task
        raise ApplicationError(
            f"{wtype} {info.workflow_id} cannot run: no worker took it within {grace:g} s, none of "
            f"them holds its registration {ir_hash}. Run a worker of the spec it was compiled from "
            f"(`swfc worker SPEC`); {HOW_SWFC_STARTS}", type="UnknownIR", non_retryable=True)
    if wtype not in ir.workflows:
        raise _unusable_input(f"its registration {ir_hash} declares no workflow {wtype} "
                              f"(it declares {', '.join(sorted(ir.workflows))})")
    return ir


def _unknown_fields(raw: dict[str, Any]) -> str:
    """The input's fields swfc does not use, for a message ("" if none)."""
    fields = foreign_fields(raw)
    return f" (it has {', '.join(fields)}, which swfc does not use)" if fields else ""


def _unusable_input(problem: str) -> ApplicationError:
    info = workflow.info()
    return ApplicationError(f"{info.workflow_type} {info.workflow_id} cannot run: {problem}. {HOW_SWFC_STARTS}",
                            type="InvalidInput", non_retryable=True)


def _continue_adopted(ctx: Ctx, unknown: str) -> None:
    """A workflow started without `ir_hash`, adopted by the one registration of its type:
    record that, and go on in a new run whose input names the hash, so that no replay of
    a later workflow task depends on which registrations a worker holds."""
    s = ctx.state
    ctx.error("input", f"started without `ir_hash`{unknown}: running under {s.ir_hash}, the only "
                       f"registration of {s.workflow_type} held; {HOW_SWFC_STARTS}")
    _continue_as_new(ctx, None)


def _initial_tokens(ctx: Ctx, tokens: dict[str, Any]) -> None:
    for api in ctx.wf.needs:
        token = tokens.get(api)
        if token is not None and not is_sealed_token(token):
            ctx.error("input", f"the {api} token in the input is not a sealed token; ignored")
            token = None
        elif token is not None and token["api"] != api:
            ctx.error("input", f"the {api} token in the input was sealed for another api; ignored")
            token = None
        ctx.state.tokens[api] = token
    extra = set(tokens) - set(ctx.wf.needs)
    if extra:
        ctx.error("input", f"{ctx.wf.name} uses only api {', '.join(ctx.wf.needs) or 'none'}: "
                           f"{len(extra)} other token(s) dropped")


def _initial_data(ctx: Ctx, data: dict[str, Any] | None, *, fresh: bool = False) -> None:
    """Data a parent started this workflow with. `fresh` data (an item of the parent's
    collection, just read from the API) counts as loaded: no request until `every`."""
    if data is None:
        return
    s = ctx.state
    try:
        key = ctx.ir.entities[s.entity].key
        rid, store = normalize(ctx.ir, s.entity, {key: s.entity_id, **data})
    except InvalidData as exc:
        ctx.error("input", f"initial data is invalid at {exc.path}: {exc.reason}")
        return
    if rid != s.entity_id:
        ctx.error("input", f"initial data is for {s.entity} {rid!r}, not {s.entity_id!r}")
        return
    merge_stores(s.store, store)
    s.loaded = ctx.wf.source is None and listing.all_listed(ctx)
    if fresh and ctx.wf.source is not None:
        s.stale, s.status = False, Status.RUNNING
        s.loaded = listing.all_listed(ctx)
        if ctx.wf.source.every_ms:
            s.next_load_ms = ctx.now_ms + ctx.wf.source.every_ms


def _parent_holds(ctx: Ctx) -> None:
    """The parent that started this workflow with its record (the last ancestor) holds that
    record: as its subscriber it is sent nothing until the record changes (10,000 children
    of a collection would otherwise each send their item straight back)."""
    s = ctx.state
    parent = s.subscribers.get(s.ancestors[-1]) if s.ancestors else None
    if parent is not None and ctx.record is not None:
        parent.known = ctx.digest(s.entity, s.entity_id, ctx.record)


def _summary(ctx: Ctx) -> dict[str, Any]:
    s = ctx.state
    return {"workflow_id": s.workflow_id, "status": s.status, "loads": s.loads}
