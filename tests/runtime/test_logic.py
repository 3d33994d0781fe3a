"""The interpreter's pure rules (signals, children, subscriptions) on a hand-made context."""

from __future__ import annotations

import json
import os

import pytest

from runtime import ir as ir_mod
from runtime.children import cleanup, plan, publish
import runtime.interpreter
from runtime.interpreter import _carried_input, _plan, _resumed, _start_budget
from runtime.upgrade import carried_state
from runtime.normalize import digest
from runtime.queries import QUERIES
from runtime.sealing import deployment, seal
from runtime.signals import apply_signal
from runtime.protocol import (GENERATION, Attach, Cancel, ChildRef, DeliveryResult, Send, Start, Status,
                              Subscriber, WorkflowInput, foreign_fields, shape_problems)
from runtime.state import Ctx, WorkflowState
from tests.runtime.irs import marketplace_ir, root_input


class _Api:
    url, port = "http://127.0.0.1:8787", 8787


IR = ir_mod.load(marketplace_ir(_Api(), cycle=True))
KEY = os.urandom(32)
DEPLOYMENT = deployment("default", "tq")


def _user_ctx(listings: list[str], ancestors: list[str] | None = None) -> Ctx:
    state = WorkflowState(ir_hash=IR.hash, workflow_type="UserWorkflow", workflow_id="User-u1", entity="User",
                          entity_id="u1", ancestors=ancestors or [], tokens={"crm": seal("crm", "t", KEY, deployment=DEPLOYMENT)})
    state.store = {"User": {"u1": {"id": "u1", "name": "A", "tags": [], "listings": listings}}}
    return Ctx(IR, IR.workflows["UserWorkflow"], state)


def _listing(lid: str, **extra) -> dict:
    return {"id": lid, "title": "t", "price": 1, "owner": "u1", "photos": [], **extra}


def test_plan_starts_new_children_with_exactly_the_edge_tokens():
    ctx = _user_ctx(["l1", "l2"])
    effects = plan(ctx)
    assert [type(e) for e in effects] == [Start, Start]
    start = effects[0]
    assert start.workflow_id == "Listing-l1" and start.workflow == "ListingWorkflow"
    assert set(start.arg.tokens) == {"crm"} and start.arg.ancestors == ["User-u1"]
    assert start.arg.to_json()["subscribers"] == [{"workflow_id": "User-u1", "selectors": ["*"]}]
    assert start.memo == {"entity": "Listing", "id": "l1", "started_by": "User-u1"}
    assert [a.signal for a in start.attach] == ["subscribe"]
    assert plan(ctx) == []  # tracked by id: a second round starts nothing


def test_plan_updates_changed_and_drops_removed_children():
    ctx = _user_ctx(["l1", "l2"])
    plan(ctx)
    ctx.state.children["Listing-l2"].owned = True
    ctx.state.store["Listing"] = {"l1": _listing("l1")}
    ctx.state.store["User"]["u1"]["listings"] = ["l1"]
    effects = plan(ctx)
    assert Cancel("Listing-l2") in effects
    update = next(e for e in effects if isinstance(e, Send))
    assert (update.workflow_id, update.signal, update.arg["record"]["title"]) == ("Listing-l1", "update", "t")
    assert plan(ctx) == []


def test_attached_children_are_unsubscribed_not_cancelled():
    ctx = _user_ctx(["l1"])
    plan(ctx)  # owned stays False: another parent started it
    ctx.state.store["User"]["u1"]["listings"] = []
    assert plan(ctx) == [Send("Listing-l1", "unsubscribe", {"workflow_id": "User-u1"})]


def test_relation_cycle_stops_at_ancestors():
    state = WorkflowState(ir_hash=IR.hash, workflow_type="ListingWorkflow", workflow_id="Listing-l1",
                          entity="Listing", entity_id="l1", ancestors=["User-u1"])
    state.store = {"Listing": {"l1": _listing("l1", photos=["p1"])}}
    ctx = Ctx(IR, IR.workflows["ListingWorkflow"], state)
    assert [e.workflow_id for e in plan(ctx)] == ["Photo-p1"]  # owner User-u1 is an ancestor


def test_a_childs_change_is_not_echoed_back_to_it():
    ctx = _user_ctx(["l1"])
    plan(ctx)
    effects = apply_signal(ctx, "update", {"entity": "Listing", "id": "l1", "record": _listing("l1", title="new"),
                                           "from": "Listing-l1"})
    assert effects == [] and ctx.state.store["Listing"]["l1"]["title"] == "new"
    assert plan(ctx) == [] and publish(ctx) == []


def test_publish_matches_selectors_and_skips_subscribers_that_already_know():
    state = WorkflowState(ir_hash=IR.hash, workflow_type="ListingWorkflow", workflow_id="Listing-l1",
                          entity="Listing", entity_id="l1")
    ctx = Ctx(IR, IR.workflows["ListingWorkflow"], state)
    state.subscribers = {"A": Subscriber(["price"]), "B": Subscriber(["*"])}
    state.store = {"Listing": {"l1": _listing("l1")}}
    assert {e.workflow_id for e in publish(ctx)} == {"A", "B"}  # first record: everyone
    state.store["Listing"]["l1"] = _listing("l1", title="x")
    assert [e.workflow_id for e in publish(ctx)] == ["B"]  # A watches price only
    state.store["Listing"]["l1"] = _listing("l1", title="x", price=2)
    assert {e.workflow_id for e in publish(ctx)} == {"A", "B"}
    state.subscribers["B"].known = digest(_listing("l1", title="y", price=2))
    state.store["Listing"]["l1"] = _listing("l1", title="y", price=2)
    assert [e.workflow_id for e in publish(ctx)] == []  # B sent it; A does not watch titles
    assert publish(ctx) == []


def test_api_token_cascades_only_down_edges_that_carry_it():
    ctx = _user_ctx(["l1"])
    plan(ctx)
    new = seal("crm", "t2", KEY, deployment=DEPLOYMENT)
    assert apply_signal(ctx, "apiToken", new) == [Send("Listing-l1", "apiToken", new)]
    assert apply_signal(ctx, "apiToken", new) == []  # already held: no second cascade
    photo = Ctx(IR, IR.workflows["PhotoWorkflow"], WorkflowState(
        ir_hash=IR.hash, workflow_type="PhotoWorkflow", workflow_id="Photo-p1", entity="Photo", entity_id="p1"))
    assert apply_signal(photo, "apiToken", new) == [] and photo.state.tokens == {}
    assert "the token is for an api PhotoWorkflow does not use" in photo.state.errors[-1]["message"]


def test_a_partial_update_patches_a_held_record_and_is_refused_for_another():
    ctx = _user_ctx(["l1"])
    apply_signal(ctx, "update", {"entity": "User", "id": "u1", "record": {"email": "a@b.org"}})
    assert ctx.record == {"id": "u1", "name": "A", "tags": [], "listings": ["l1"], "email": "a@b.org"}
    apply_signal(ctx, "update", {"entity": "User", "id": "u1", "record": {"listings": "l2"}})
    assert "at $.listings" in ctx.state.last_error and ctx.record["listings"] == ["l1"]
    apply_signal(ctx, "update", {"entity": "Listing", "id": "l1", "record": {"title": "t"}})
    assert ctx.state.last_error.startswith("update refused: the Listing record is invalid at $ ")
    assert "Listing" not in ctx.state.store


def test_subscribe_refuses_selectors_that_can_never_match_the_record():
    ctx = _user_ctx([])
    apply_signal(ctx, "subscribe", {"workflow_id": "A", "selectors": ["*", "Listing.*.name", "listings.*", "nam"]})
    assert ctx.state.subscribers == {}
    assert ctx.state.last_error == ('subscribe refused: selectors[1], selectors[3] can never match: a selector '
                                    'starts with "*", "**" or a field of User (email, id, listings, name, tags)')
    apply_signal(ctx, "subscribe", {"workflow_id": "A", "selectors": ["x"] * 1000})
    assert ctx.state.last_error.startswith("subscribe refused: selectors[0], selectors[1], selectors[2], "
                                           "selectors[3], selectors[4] and 995 more can never match")
    apply_signal(ctx, "subscribe", {"workflow_id": "A", "selectors": ["*.x", "**", "listings.*", "name"]})
    assert ctx.state.subscribers["A"].selectors == ["*.x", "**", "listings.*", "name"]


def test_the_inputs_swfc_gives_have_the_shape_a_run_expects_and_hand_made_ones_are_named():
    ctx = _user_ctx(["l1"])
    sent = plan(ctx)[0].arg
    child_input = sent.to_json()
    root = root_input(marketplace_ir(_Api()), "u1", "t", "tq", history_limit=60)
    continued = WorkflowInput(ir_hash=IR.hash, entity_id="u1", carried=ctx.state.to_dict()).to_json()
    assert [shape_problems(x) for x in (child_input, root, continued)] == [[], [], []]
    assert WorkflowInput.parse(child_input) == sent  # the JSON decodes to what was sent
    assert WorkflowState.from_dict(WorkflowInput.parse(continued).carried) == ctx.state
    assert shape_problems([1]) == ["the input is not a JSON object"]
    assert shape_problems({"entity_id": 7, "tokens": "secret", "carried": {}}) == [
        "`entity_id` must be the entity's key (text)", "`tokens` must be an object of sealed tokens by api",
        "`carried` comes with the `ir_hash` it was carried under (continue-as-new)"]
    assert foreign_fields({"id": "zz", "entityName": "User", "entity_id": "zz"}) == ["entityName", "id"]
    assert foreign_fields({f"f{i:02}" + "x" * 50: i for i in range(12)})[-2:] == ["f09" + "x" * 37, "2 more"]


def test_bad_signals_are_recorded_and_change_nothing():
    ctx = _user_ctx([])
    before = repr(ctx.state)
    for name, arg in [("apiToken", {"api": "crm", "token": "plain"}), ("apiUrl", {"api": "crm", "url": "http://x:1"}),
                      ("update", {"entity": "User"}), ("subscribe", {}), ("unsubscribe", 3), ("nope", {})]:
        apply_signal(ctx, name, arg)
    assert len(ctx.state.errors) == 6 and all("plain" not in e["message"] for e in ctx.state.errors)
    ctx.state.errors.clear()
    ctx.state.last_error = None
    assert repr(ctx.state) == before


def test_delete_from_a_child_that_ended_itself_cancels_nothing():
    ctx = _user_ctx(["l1"])
    plan(ctx)
    ctx.state.children["Listing-l1"].owned = True
    apply_signal(ctx, "delete", {"entity": "Listing", "id": "l1", "from": "Listing-l1"})
    assert ctx.state.store["User"]["u1"]["listings"] == [] and plan(ctx) == []


def test_cleanup_tells_subscribers_on_delete():
    ctx = _user_ctx(["l1"])
    plan(ctx)
    ctx.state.children["Listing-l1"].owned = True
    ctx.state.subscribers = {"Listing-l9": Subscriber(["*"])}
    effects = cleanup(ctx, tell_subscribers=True)
    assert effects == [Cancel("Listing-l1"),
                       Send("Listing-l9", "delete", {"entity": "User", "id": "u1", "from": "User-u1"})]


def test_plan_starts_at_most_a_batch_of_new_children_per_round():
    ctx = _user_ctx([f"l{i}" for i in range(10)])
    rounds = []
    while not rounds or ctx.backlog:
        rounds.append(len([e for e in plan(ctx, adopt_limit=4) if isinstance(e, Start)]))
    assert rounds == [4, 4, 2] and len(ctx.state.children) == 10


def _started(effects: list) -> list[str]:
    return [e.workflow_id for e in effects if isinstance(e, Start)]


def _report(ctx: Ctx, lid: str) -> None:
    """Listing `lid`'s first `update` to its parent, as it sends it once loaded."""
    apply_signal(ctx, "update", {"entity": "Listing", "id": lid, "record": _listing(lid), "from": f"Listing-{lid}"})


def test_new_subscribed_children_start_while_few_enough_owe_their_first_update(monkeypatch):
    monkeypatch.setattr(runtime.interpreter, "REPORT_WINDOW", 4)
    monkeypatch.setattr(runtime.interpreter, "REPORT_ROOM", 2)
    ctx = _user_ctx([f"l{i}" for i in range(10)])
    ctx.state.generation, ctx.now_ms = 3, 1_000
    assert _started(_plan(ctx)) == ["Listing-l0", "Listing-l1", "Listing-l2", "Listing-l3"]
    assert _started(_plan(ctx)) == [] and _start_budget(ctx) == 0  # the window is full: the cycle waits
    _report(ctx, "l0")
    assert _started(_plan(ctx)) == []  # one place free: fewer than REPORT_ROOM
    _report(ctx, "l1")
    assert _started(_plan(ctx)) == ["Listing-l4", "Listing-l5"]
    ctx.now_ms += runtime.interpreter.REPORT_WAIT_MS  # the four owed for that long are given up on
    assert _started(_plan(ctx)) == ["Listing-l6", "Listing-l7", "Listing-l8", "Listing-l9"]
    assert ctx.backlog == 0 and len(ctx.state.children) == 10


def test_a_hierarchy_of_generation_2_starts_its_children_without_the_window(monkeypatch):
    # Its recorded histories replay: the same rounds as when they were recorded.
    monkeypatch.setattr(runtime.interpreter, "REPORT_WINDOW", 4)
    monkeypatch.setattr(runtime.interpreter, "START_BATCH", 8)
    ctx = _user_ctx([f"l{i}" for i in range(10)])
    ctx.state.generation = 2
    assert len(_started(_plan(ctx))) == 8 and ctx.state.awaiting == {}


class _CountingCtx(Ctx):
    """A context that counts how often the own record's relations are read."""

    reads = 0

    def related_ids(self, field_name: str) -> list[str]:
        type(self).reads += 1
        return super().related_ids(field_name)


def test_dropping_thousands_of_children_reads_the_relations_once_not_once_per_child():
    ctx = _user_ctx([f"l{i}" for i in range(2000)])
    ctx = _CountingCtx(ctx.ir, ctx.wf, ctx.state)
    plan(ctx)
    _CountingCtx.reads = 0
    assert len(cleanup(ctx)) == 2000  # one unsubscribe each
    assert _CountingCtx.reads <= len(IR.entities["User"].relations)


def _tracked_parent(tracked: bool) -> Ctx:
    """A parent of three listings after its first round; `tracked`: as the interpreter
    plans, which tracks the `update`s merged from then on (`Ctx.changed`)."""
    ctx = _CountingCtx(IR, IR.workflows["UserWorkflow"], _user_ctx(["l1", "l2", "l3"]).state)
    ctx.state.store["Listing"] = {lid: _listing(lid) for lid in ("l1", "l2", "l3")}
    plan(ctx)
    ctx.changed = set() if tracked else None
    return ctx


def _updates(ctx: Ctx) -> list:
    """A patch of l3 from elsewhere (sent on to Listing-l3) and l1's own change (no echo)."""
    apply_signal(ctx, "update", {"entity": "Listing", "id": "l3", "record": {"price": 2}, "from": "User-u2"})
    apply_signal(ctx, "update", {"entity": "Listing", "id": "l1", "record": _listing("l1", title="new"),
                                 "from": "Listing-l1"})
    return plan(ctx)


def test_a_round_after_updates_only_looks_at_the_children_they_changed():
    full = _updates(_tracked_parent(tracked=False))
    ctx = _tracked_parent(tracked=True)
    _CountingCtx.reads = 0
    assert _updates(ctx) == full and [(e.workflow_id, e.arg["record"]["price"]) for e in full] == [("Listing-l3", 2)]
    assert _CountingCtx.reads == 0  # the relations (10,000 ids in a big parent) are not walked


def test_any_other_change_plans_the_next_round_in_full():
    ctx = _tracked_parent(tracked=True)
    apply_signal(ctx, "delete", {"entity": "Listing", "id": "l2"})
    assert ctx.changed is None  # tracked are `update`s only
    ctx.changed = set()
    ctx.state.store["User"]["u1"] = {**ctx.record, "listings": ["l1"]}  # the own record replaced: a load
    assert sorted(e.workflow_id for e in plan(ctx)) == ["Listing-l2", "Listing-l3"]  # both let go


def _continued(ctx: Ctx) -> Ctx:
    """The next run's context, from the input continue-as-new gives (as JSON, as it travels)."""
    carried = json.loads(json.dumps(_carried_input(ctx, None)))["carried"]
    return _resumed(ctx.ir, ctx.wf, carried)


def test_a_run_continued_from_a_settled_parent_hashes_no_record_in_its_first_round(monkeypatch):
    parent, hashed = _tracked_parent(tracked=True), []
    monkeypatch.setattr("runtime.state.digest", lambda record: hashed.append(record) or digest(record))
    continued = _continued(parent)
    assert plan(continued) == [] and hashed == []  # 10,000 records of 2 KB: 0.3 s saved per run
    assert continued.state.children_current is False  # true only of the state it was carried with


def test_a_run_continued_in_mid_load_hashes_only_the_records_changed_since_its_last_plan(monkeypatch):
    parent, hashed = _tracked_parent(tracked=True), []
    apply_signal(parent, "update", {"entity": "Listing", "id": "l3", "record": {"price": 2}, "from": "User-u2"})
    monkeypatch.setattr("runtime.state.digest", lambda record: hashed.append(record) or digest(record))
    continued = _continued(parent)
    assert [e.workflow_id for e in plan(continued)] == ["Listing-l3"]
    assert [record["id"] for record in hashed] == ["l3"]  # not l1 and l2: their `known` is current
    assert continued.state.children_unsettled is None  # true only of the state it was carried with


def test_a_carried_state_that_does_not_say_which_children_are_settled_hashes_every_record(monkeypatch):
    parent, hashed = _tracked_parent(tracked=True), []
    apply_signal(parent, "update", {"entity": "Listing", "id": "l3", "record": {"price": 2}, "from": "User-u2"})
    carried = json.loads(json.dumps(_carried_input(parent, None)))["carried"]
    del carried["children_unsettled"]  # as a run of an earlier version carried it
    monkeypatch.setattr("runtime.state.digest", lambda record: hashed.append(record) or digest(record))
    continued = _resumed(parent.ir, parent.wf, carried)
    assert [e.workflow_id for e in plan(continued)] == ["Listing-l3"]
    assert sorted(record["id"] for record in hashed) == ["l1", "l2", "l3"]


def test_a_change_not_yet_sent_to_a_child_when_it_continued_is_sent_by_the_next_run():
    ctx = _tracked_parent(tracked=True)
    apply_signal(ctx, "update", {"entity": "Listing", "id": "l3", "record": {"price": 2}, "from": "User-u2"})
    continued = _continued(ctx)
    assert [(e.workflow_id, e.arg["record"]["price"]) for e in plan(continued)] == [("Listing-l3", 2)]


def test_an_upgrade_moves_a_hierarchy_begun_before_generations_to_the_current_pace():
    ctx = _user_ctx([])
    assert ctx.state.generation == 1  # an input without `generation`
    assert carried_state(ctx, {"ir_hash": IR.hash})["generation"] == GENERATION


def test_a_record_is_hashed_once_per_version():
    ctx = _user_ctx(["l1"])
    record = _listing("l1")
    first = ctx.digest("Listing", "l1", record)
    assert first == digest(record) and ctx.digest("Listing", "l1", record) == first
    changed = {**record, "title": "new"}
    assert ctx.digest("Listing", "l1", changed) == digest(changed) != first


def test_state_answers_a_big_store_by_pages_of_one_table():
    ctx = _user_ctx([f"l{i:04}" for i in range(2500)])
    ctx.state.store["Listing"] = {f"l{i:04}": _listing(f"l{i:04}") for i in range(2500)}
    whole = QUERIES["state"](ctx, [])
    assert whole["paged"] and whole["tables"] == {"Listing": 2500, "User": 1}
    assert whole["store"] == {"User": {"u1": ctx.record}}  # the own record, not 2,501
    first = QUERIES["state"](ctx, [], {"table": "Listing", "limit": 1000})
    assert (first["total"], first["offset"], first["next_offset"]) == (2500, 0, 1000)
    assert list(first["records"])[:2] == ["l0000", "l0001"] and len(first["records"]) == 1000
    last = QUERIES["state"](ctx, [], {"table": "Listing", "offset": 2000, "limit": 1000})
    assert len(last["records"]) == 500 and last["next_offset"] is None


def test_state_of_a_small_store_is_the_whole_store_and_bad_pages_are_refused():
    ctx = _user_ctx(["l1"])
    assert QUERIES["state"](ctx, [])["store"] == ctx.state.store
    for bad in ("Listing", {"table": "Listing", "limit": 0}, {"table": "Listing", "limit": 5000},
                {"table": "Listing", "offset": -1}, {"table": "Listing", "offset": True}):
        with pytest.raises(ValueError):
            QUERIES["state"](ctx, [], bad)


def test_what_earlier_versions_recorded_still_decodes():
    """A state carried by an earlier run (children without `deployment`) and a delivery
    result recorded before `foreign` existed decode, with the defaults for what they lack."""
    old_child = {"field": "listings", "workflow": "ListingWorkflow", "entity": "Listing", "id": "l1", "owned": True, "known": None}
    carried = {**_user_ctx([]).state.to_dict(), "status": "loading",
               "children": {"Listing-l1": old_child}, "subscribers": {"A": {"selectors": ["*"], "known": None}}}
    state = WorkflowState.from_dict(carried)
    assert state.children == {"Listing-l1": ChildRef("listings", "ListingWorkflow", "Listing", "l1", owned=True)}
    assert state.subscribers == {"A": Subscriber(["*"])} and state.status == Status.LOADING
    old_result = {"workflow_id": "Listing-l1", "ok": True, "gone": False, "owned": True, "error": None}
    assert DeliveryResult.from_json(old_result) == DeliveryResult("Listing-l1", ok=True, owned=True)


def test_with_deployments_a_child_not_known_to_be_ours_is_attached_not_signalled():
    """Signals to a child whose deployment is not known yet (an edge without `autostart`,
    or one carried from an older run) go as `Attach`, which the delivery checks first."""
    ctx = _user_ctx(["l1"])
    ctx.state.deployment, ctx.checks_deployments = "alpha", True
    [start] = plan(ctx)
    ctx.state.store["Listing"] = {"l1": _listing("l1")}
    [update] = plan(ctx)
    assert isinstance(update, Attach) and [s.signal for s in update.signals] == ["update"]
    ctx.state.children["Listing-l1"].deployment = "alpha"  # as the delivery of the start reported
    ctx.state.store["Listing"]["l1"] = _listing("l1", title="new")
    assert [type(e) for e in plan(ctx)] == [Send]
