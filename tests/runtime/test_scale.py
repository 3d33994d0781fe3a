"""Scale on a real dev server (DESIGN.md §7): a parent with more children than the worker's
workflow cache holds, a first round's starts spread over bounded rounds (one workflow task
each), an upgrade of many children in small batches over several workflow tasks, a big
store read a page at a time, and a subscribed parent holding its children's records past
1 MB."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput

import runtime.interpreter
from runtime.protocol import GENERATION, LEAF_TASK_TIMEOUT, WORKFLOW_TASK_TIMEOUT
from runtime.roots import running_ir_hash
from runtime.sealing import deployment, seal
from runtime.worker import GC_THRESHOLDS
from tests.helpers import assert_eventually, compile_text, new_worker, unique
from tests.runtime.irs import listing, marketplace_ir, put_user
from tests.runtime.util import start_root, tree


async def _settled(client, root: str, count: int) -> None:
    async def check():
        t = await tree(client, root)
        assert len(t) == count and all(s["loaded"] for s in t.values()), {w: s["status"] for w, s in t.items()}
        assert t[root]["status"] == "running"

    await assert_eventually(check, timeout=90)


@asynccontextmanager
async def _settled_user(client, http_api, listings: int, *, upgrade_to: dict[str, Any] | None = None,
                        root_options: dict[str, Any] | None = None, **worker_options: Any) -> AsyncIterator[str]:
    """A user of the marketplace IR with `listings` listings (no photos), its root started on a
    fresh worker and settled with every child: yields the root's workflow id, the worker
    running until the block ends. `upgrade_to`: an IR the worker runs too, for an upgrade."""
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=0) for _ in range(listings)])
    ir = marketplace_ir(http_api)
    runs = [upgrade_to, ir] if upgrade_to else [ir]
    async with new_worker(client, runs[0], also=runs[1:], **worker_options) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t", **(root_options or {}))
        await _settled(client, f"User-{uid}", 1 + listings)
        yield f"User-{uid}"


async def test_an_eviction_is_not_a_deletion(client, http_api, monkeypatch):
    # A worker whose cache holds fewer workflows than a parent has children evicts the
    # parent (to replay it later) while it runs. Before this was told apart from a
    # cancellation, every eviction ran the parent's deletion clean-up over all its
    # children: quadratic work that, at 2,000 children, outlasted the eviction's deadline
    # and left the parent wedged ("Timed out running eviction job").
    cleaned_up: list[str] = []
    real_cleanup = runtime.interpreter.cleanup

    def recording_cleanup(ctx, **kwargs):
        cleaned_up.append(ctx.state.workflow_id)
        return real_cleanup(ctx, **kwargs)

    monkeypatch.setattr(runtime.interpreter, "cleanup", recording_cleanup)
    async with _settled_user(client, http_api, 12, max_cached_workflows=3):
        pass  # settled, the parent evicted and replayed on the way
    assert cleaned_up == []


def _delivered_batches(history) -> list[int]:
    """How many items each `deliver_effects` local activity carried, in order."""
    return [size for task in _deliveries_by_task(history) for size in task]


def _deliveries_by_task(history) -> list[list[int]]:
    """The `deliver_effects` local activities' sizes, grouped by the workflow task that
    recorded them (in the order they completed; tasks that recorded none left out)."""
    tasks: list[list[int]] = [[]]
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks.append([])
        elif (size := _delivery_size(event)) is not None:
            tasks[-1].append(size)
    return [task for task in tasks if task]


def _delivery_size(event) -> int | None:
    """How many items the `deliver_effects` local activity that `event` records carried
    (None: the event records none)."""
    if event.HasField("marker_recorded_event_attributes"):
        details = event.marker_recorded_event_attributes.details
        if "result" in details and details["result"].payloads:
            result = json.loads(details["result"].payloads[0].data)
            if isinstance(result, list):
                return len(result)
    return None


async def test_a_first_round_of_many_children_starts_them_in_bounded_batches(client, http_api, monkeypatch):
    monkeypatch.setattr(runtime.interpreter, "START_BATCH", 4)
    async with _settled_user(client, http_api, 10) as root:
        history = await client.get_workflow_handle(root).fetch_history()
        assert _delivered_batches(history)[:3] == [4, 4, 2]
        assert _deliveries_by_task(history)[:3] == [[4], [4], [2]]  # a workflow task per round

        async def paged():  # the children's records flowed up: read them a page at a time
            page = await client.get_workflow_handle(root).query("state", {"table": "Listing", "limit": 4})
            assert (page["total"], len(page["records"]), page["next_offset"]) == (10, 4, 4)

        await assert_eventually(paged, timeout=30)


async def test_a_round_of_children_starts_in_one_delivery_with_no_timer_or_patch_marker(client, http_api):
    # As a hand-written parent does (the fan-out of bench/perf.py: history events equal).
    async with _settled_user(client, http_api, 12) as root:
        history = await client.get_workflow_handle(root).fetch_history()
        assert _delivered_batches(history)[0] == 12
        assert not [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
        assert _patch_markers(history) == []


async def test_a_worker_sets_its_process_garbage_collector_for_thousands_of_cached_workflows(client, http_api):
    # CPython's thresholds had a worker caching 10,000 workflows walk its whole heap every
    # few seconds: a parent's tasks that met such a pass took seconds (bench/scale.py).
    ir, before = marketplace_ir(http_api), gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        async with new_worker(client, ir):
            assert gc.get_threshold() == GC_THRESHOLDS
        gc.set_threshold(700, 10, 10)
        async with new_worker(client, ir, gc_thresholds=None):  # a process that tunes its own
            assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


async def test_a_deployed_hierarchy_asks_for_no_patch_marker(client, http_api):
    # Each patch a run asks for costs it a marker and a `TemporalChangeVersion` upsert (a
    # visibility write): for 10,000 children, 20,000 events. A run of the current generation
    # does what the patches brought without asking; one of generation 3 asks, as it did.
    async with _settled_user(client, http_api, 3, root_options={"deployment": "shop"}) as root:
        for wid in [root, *await _children(client, root)]:
            assert _patch_markers(await client.get_workflow_handle(wid).fetch_history()) == []
    async with _settled_user(client, http_api, 3, root_options={"deployment": "shop", "generation": 3}) as root:
        for wid in [root, *await _children(client, root)]:
            history = await client.get_workflow_handle(wid).fetch_history()
            assert _patch_markers(history) == [runtime.interpreter.DEPLOYMENT_CHECK_PATCH]


async def _children(client, root: str) -> list[str]:
    paths = await client.get_workflow_handle(root).query("managedPaths")
    return [wid for path in paths for wid in path["children"]]


async def test_a_hierarchy_begun_before_generations_keeps_its_pace(client, http_api, monkeypatch):
    # Its recorded histories replay on a worker of any later version: rounds of
    # `V1_START_BATCH`, bounded where the `bounded-rounds` patch says so.
    monkeypatch.setattr(runtime.interpreter, "V1_START_BATCH", 4)
    async with _settled_user(client, http_api, 10, root_options={"generation": None}) as root:
        history = await client.get_workflow_handle(root).fetch_history()
        assert _delivered_batches(history)[:3] == [4, 4, 2]
        assert _patch_markers(history) == [runtime.interpreter.BOUNDED_ROUNDS]


def _patch_markers(history) -> list[str]:
    """The patches a run asked for (`workflow.patched`), in order."""
    markers = [e.marker_recorded_event_attributes for e in history.events if e.HasField("marker_recorded_event_attributes")]
    return [json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers if m.marker_name == "core_patch"]


async def test_a_run_has_a_workflow_task_timeout_its_longest_replay_fits_in(client, http_api):
    # 10 s (Temporal's default) timed a big parent's replays out on a busy worker: a type
    # with children gets 60 s. A leaf's replays are short, and a task lost on its way to a
    # worker runs again only when its timeout has passed: a leaf gets 20 s.
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=1)])
    ir = marketplace_ir(http_api)
    async with new_worker(client, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t", history_limit=12)
        root = f"User-{uid}"
        await _settled(client, root, 3)

        async def continued_as_new():  # a run started with another timeout takes its type's on here
            runs = [r async for r in client.list_workflows(f"WorkflowId = '{root}'")]
            assert len(runs) > 1

        await assert_eventually(continued_as_new, timeout=60)
        timeouts = {}
        for wid in await tree(client, root):
            description = (await client.get_workflow_handle(wid).describe()).raw_description
            config = description.execution_config
            timeouts[description.workflow_execution_info.type.name] = config.default_workflow_task_timeout.ToTimedelta()
    assert timeouts == {"UserWorkflow": WORKFLOW_TASK_TIMEOUT, "ListingWorkflow": WORKFLOW_TASK_TIMEOUT,
                        "PhotoWorkflow": LEAF_TASK_TIMEOUT}
    assert (WORKFLOW_TASK_TIMEOUT, LEAF_TASK_TIMEOUT) == (timedelta(seconds=60), timedelta(seconds=20))


class _RecordedStarts(Interceptor):
    """A client interceptor that notes every start: whether it asked to run its first
    workflow task eagerly, and whether the server granted it."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, bool, bool]] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        starts = self.starts

        class Recording(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput):
                handle = await super().start_workflow(input)
                starts.append((input.id, input.request_eager_start, getattr(handle, "__temporal_eagerly_started")))
                return handle

        return Recording(next)


async def test_children_start_with_their_first_workflow_task_handed_back(client, http_api):
    # Started eagerly, a child's first task skips the server's task queue and a worker's
    # poll (its history is the same): less work for the server per child.
    recorder = _RecordedStarts()
    recording = Client(**{**client.config(), "interceptors": [recorder]})
    uid = unique("u")
    put_user(http_api, uid, [listing(unique("l"), uid, photos=1) for _ in range(3)])
    ir = marketplace_ir(http_api)
    async with new_worker(recording, ir) as worker:
        await start_root(client, ir, worker.task_queue, uid, "t")
        await _settled(client, f"User-{uid}", 7)
    assert len(recorder.starts) == 6 and all(asked for _, asked, _ in recorder.starts)
    assert any(granted for _, _, granted in recorder.starts)


async def test_a_backlog_of_starts_does_not_hold_off_continue_as_new(client, http_api, monkeypatch):
    # A parent of 10,000 went on taking its children's `update`s in one run until its
    # history was past what a worker could replay within a workflow task, and wedged.
    monkeypatch.setattr(runtime.interpreter, "START_BATCH", 2)
    async with _settled_user(client, http_api, 12, root_options={"history_limit": 20}) as root:
        runs = sorted([r async for r in client.list_workflows(f"WorkflowId = '{root}'")], key=lambda r: r.start_time)
        first = await client.get_workflow_handle(root, run_id=runs[0].run_id).fetch_history()
        assert sum(_delivered_batches(first)) < 12  # it continued as new before it had started them all


async def test_an_upgrade_of_many_children_goes_out_in_small_batches_over_several_tasks(client, http_api, monkeypatch):
    # Each `upgrade` update waits for its child's workflow task: 500 in flight at once (the
    # batches of starts and signals) outlasted the delivery's timeout at 3,000 children, and
    # the children whose batch failed were never upgraded.
    monkeypatch.setattr(runtime.interpreter, "UPGRADE_BATCH", 3)
    monkeypatch.setattr(runtime.interpreter, "BIG_DELIVERIES_AT_ONCE", 2)
    edited = marketplace_ir(http_api, timeout_ms=4000)
    async with _settled_user(client, http_api, 10, upgrade_to=edited) as root:
        await client.get_workflow_handle(root).execute_update("upgrade", {"ir_hash": edited["hash"]})

        async def all_upgraded():
            hashes = {wid: await running_ir_hash(client.get_workflow_handle(wid), client.data_converter)
                      for wid in await tree(client, root)}
            assert set(hashes.values()) == {edited["hash"]}, hashes

        await assert_eventually(all_upgraded, timeout=90)
        await _settled(client, root, 1 + 10)
        upgraded_run = await client.get_workflow_handle(root).fetch_history()
        assert [sorted(task) for task in _deliveries_by_task(upgraded_run)[:2]] == [[3, 3], [1, 3]]


GROUP_SPEC = """
api hr {{ base "{url}" auth bearer timeout 5s retry 3 times backoff 1s .. 5s }}
entity Group  {{ id string  name string  members [Member] }}
entity Member {{ id string  name string  bio string }}
workflow GroupWorkflow  manages Group  {{ source hr get "/groups/{{id}}"
                                          child members -> MemberWorkflow {{ autostart  subscribe update "*" }} }}
workflow MemberWorkflow manages Member {{ source hr get "/members/{{id}}" }}
"""


@asynccontextmanager
async def _group(client, http_api, tmp_path, members: list[dict[str, Any]], **root_input: Any) -> AsyncIterator[str]:
    """A group of `members` served by the API and its `GroupWorkflow` (subscribed to every
    member) started on a fresh worker (`root_input`: more fields of its input): yields the
    root's workflow id, the worker running until the block ends."""
    gid, token = unique("g"), unique("hr")
    http_api.set_entity(f"/groups/{gid}", {"id": gid, "name": "big", "members": [m["id"] for m in members]})
    for member in members:
        http_api.set_entity(f"/members/{member['id']}", member)
    http_api.require_auth("/", token)
    ir = compile_text(GROUP_SPEC.format(url=http_api.url), tmp_path, "group.swf")
    async with new_worker(client, ir) as worker:
        sealed = seal("hr", token, deployment=deployment(client.namespace, worker.task_queue))
        await client.start_workflow("GroupWorkflow", {"ir_hash": ir["hash"], "entity_id": gid, "tokens": {"hr": sealed},
                                                      "api_bases": {}, "carried": None, "generation": GENERATION,
                                                      **root_input},
                                    id=f"Group-{gid}", task_queue=worker.task_queue)
        yield f"Group-{gid}"


def _members(count: int, bio_bytes: int = 10) -> list[dict[str, Any]]:
    prefix = unique("m")
    return [{"id": f"{prefix}-{i}", "name": f"member {i}", "bio": "x" * bio_bytes} for i in range(count)]


async def _holds_members(client, root: str, count: int, *, timeout: float = 90) -> None:
    async def holds_every_record():
        state = await client.get_workflow_handle(root).query("state")
        assert state["tables"].get("Member") == count, state["tables"]

    await assert_eventually(holds_every_record, timeout=timeout)


async def test_a_subscribed_parent_holds_its_childrens_records_past_1_mb(client, http_api, tmp_path):
    # `update` refused records once the store passed 1 MB (measured as JSON at every update,
    # quadratic in a parent of thousands): a parent subscribed to 1,000 members of 2 KB held
    # 477 of their records and refused the rest.
    async with _group(client, http_api, tmp_path, _members(6, bio_bytes=200_000)) as root:
        await _holds_members(client, root, 6)
        assert (await client.get_workflow_handle(root).query("status"))["last_error"] is None


def _owed(history) -> list[int]:
    """After each event of a run of the parent: how many children it had started in the run
    that had not sent it their first `update` yet (every start is a delivered effect here)."""
    owed = [0]
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            owed.append(owed[-1] - (event.workflow_execution_signaled_event_attributes.signal_name == "update"))
        else:
            owed.append(owed[-1] + (_delivery_size(event) or 0))
    return owed


async def test_a_parent_starts_no_more_subscribed_children_than_owe_it_their_first_update(
        client, http_api, tmp_path, monkeypatch):
    # A parent that started 7,000 of its 10,000 members in its first two minutes waited
    # minutes behind their tasks in the task queue once it lost its sticky queue; 5,900
    # `update`s arrived meanwhile, and the one activation that took them all ran past the
    # deadlock detector on every retry: it never ran again.
    monkeypatch.setattr(runtime.interpreter, "REPORT_WINDOW", 4)
    monkeypatch.setattr(runtime.interpreter, "REPORT_ROOM", 2)
    members = _members(12)
    http_api.stall("/members/*", 0.2)  # members report a while after they start
    async with _group(client, http_api, tmp_path, members) as root:
        await _holds_members(client, root, 12)
        history = await client.get_workflow_handle(root).fetch_history()
        assert sum(_delivered_batches(history)) == 12
        assert max(_owed(history)) <= 4


async def test_children_that_never_report_hold_up_the_others_for_a_while_only(client, http_api, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime.interpreter, "REPORT_WINDOW", 2)
    monkeypatch.setattr(runtime.interpreter, "REPORT_ROOM", 1)
    monkeypatch.setattr(runtime.interpreter, "REPORT_WAIT_MS", 1_500)
    members = _members(6)
    for member in members[:2]:  # the first two started never load
        http_api.fail(f"/members/{member['id']}", times=None, status=403)
    async with _group(client, http_api, tmp_path, members) as root:
        await _holds_members(client, root, 4, timeout=60)


async def _continued_runs(client, http_api, tmp_path, monkeypatch) -> list:
    """The histories of the runs a subscribed parent of 12 (window 4, history limit 30,
    members answering in 0.2 s) continued as new from while it loaded them all."""
    monkeypatch.setattr(runtime.interpreter, "REPORT_WINDOW", 4)
    monkeypatch.setattr(runtime.interpreter, "REPORT_ROOM", 2)
    http_api.stall("/members/*", 0.2)
    async with _group(client, http_api, tmp_path, _members(12), history_limit=30) as root:
        await _holds_members(client, root, 12)
        runs = sorted([r async for r in client.list_workflows(f"WorkflowId = '{root}'")], key=lambda r: r.start_time)
        histories = [await client.get_workflow_handle(root, run_id=run.run_id).fetch_history() for run in runs[:-1]]
    assert histories and all(h.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
                             for h in histories)
    return histories


async def test_a_run_winds_down_and_continues_as_new_once_its_children_have_reported(client, http_api, tmp_path, monkeypatch):
    # Temporal refuses a continue-as-new when a signal arrives during its workflow task, and
    # the worker then evicts the run and replays it: 4 or 5 times a run for a parent of
    # 10,000 whose children were reporting, each a replay of ~5,000 events. A run that nears
    # its limit starts no new child and continues as new once every child it started reported
    # (or none was heard from for WIND_DOWN_QUIET_MS: not here, each member answers in 0.2 s).
    for history in await _continued_runs(client, http_api, tmp_path, monkeypatch):
        assert _owed(history)[-1] == 0


def _timers_left(history) -> set[str]:
    """The run's timers that neither fired nor were canceled by the end of its history."""
    left: set[str] = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            left.add(event.timer_started_event_attributes.timer_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            left.discard(event.timer_fired_event_attributes.timer_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            left.discard(event.timer_canceled_event_attributes.timer_id)
    return left


async def test_a_run_continues_as_new_with_no_timer_of_its_own_left_to_fire(client, http_api, tmp_path, monkeypatch):
    # The server refuses a continue-as-new when a timer fires during its workflow task
    # (`UnhandledCommand`), and the run is replayed. A parent whose big store takes seconds
    # to encode and store had 7 of its 16 continue-as-new tasks refused so, each time by its
    # report-window timer (the quiet it waits for while winding down) firing meanwhile.
    histories = await _continued_runs(client, http_api, tmp_path, monkeypatch)
    assert [_timers_left(h) for h in histories] == [set()] * len(histories)
    canceled = [e for h in histories for e in h.events if e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED]
    assert canceled  # the window timer each winding-down run waited on, before its continue-as-new
