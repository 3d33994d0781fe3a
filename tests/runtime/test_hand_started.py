"""Workflows started by hand, not by `swfc deploy`, with an input swfc cannot use, end
clearly: failed with a non-retryable error that says what the input lacks and how swfc
starts workflows, or (exactly one registration of the type is held) running with the input
error recorded. Never a workflow task failing again and again: the histories show none.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cli.devserver import find_temporal_binary
from tests.helpers import assert_eventually, compile_text, new_worker, unique
from tests.runtime.util import try_query


def _spec(workflow: str, entity: str) -> str:
    return f"entity {entity} {{\n  id   string\n  name string?\n}}\n\nworkflow {workflow} manages {entity} {{\n}}\n"


def _own_type(tmp_path, name: str = "spec.swf") -> tuple[dict, str, str]:
    """An IR whose workflow type no other test registers in this process (the registry
    is per process, and adoption needs exactly one registration of the type)."""
    tag = uuid.uuid4().hex[:8]
    workflow, entity = f"Hand{tag}Workflow", f"Thing{tag}"
    return compile_text(_spec(workflow, entity), tmp_path, name), workflow, entity


def _temporal_start(address: str, queue: str, wtype: str, wid: str, payload: str) -> str:
    """`temporal workflow start ...` as a user types it; returns the run id."""
    out = subprocess.run(
        [str(find_temporal_binary()), "workflow", "start", "--address", address, "--namespace", "default",
         "--task-queue", queue, "--type", wtype, "--workflow-id", wid, "--input", payload, "--output", "json"],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["runId"]


async def _task_failures(client: Client, wid: str, run_id: str | None = None) -> int:
    history = await client.get_workflow_handle(wid, run_id=run_id).fetch_history()
    return sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for e in history.events)


async def _failure(client: Client, wid: str) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failed:
        await client.get_workflow_handle(wid).result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.non_retryable
    return cause


async def test_a_type_no_registration_declares_fails_saying_how_swfc_starts_workflows(client, temporal_address, tmp_path):
    ir, _, _ = _own_type(tmp_path)
    wid = f"User-{unique('zz')}"
    async with new_worker(client, ir) as worker:
        _temporal_start(temporal_address, worker.task_queue, "UserFlow", wid,
                        json.dumps({"id": wid.removeprefix("User-"), "entityName": "User"}))
        cause = await _failure(client, wid)
    assert cause.type == "InvalidInput"
    assert "no `ir_hash`" in cause.message and "entityName, id" in cause.message
    assert "no registration this worker holds declares a workflow UserFlow" in cause.message
    assert "swfc deploy" in cause.message
    assert await _task_failures(client, wid) == 0


async def test_the_only_registration_of_the_type_adopts_a_hand_started_workflow(client, temporal_address, tmp_path):
    ir, workflow, entity = _own_type(tmp_path)
    eid = unique("zz")
    wid = f"{entity}-{eid}"
    async with new_worker(client, ir) as worker:
        first_run = _temporal_start(temporal_address, worker.task_queue, workflow, wid,
                                    json.dumps({"id": eid, "entityName": entity}))

        async def running_with_the_input_error():
            status = await try_query(client, wid)
            assert status is not None and status["id"] == eid
            return status

        status = await assert_eventually(running_with_the_input_error)
        state = await try_query(client, wid, "state")
    assert (await client.get_workflow_handle(wid).describe()).status == WorkflowExecutionStatus.RUNNING
    assert "started without `ir_hash` (it has entityName, id, which swfc does not use)" in status["last_error"]
    assert ir["hash"] in status["last_error"] and "swfc deploy" in status["last_error"]
    assert [e["kind"] for e in state["errors"]] == ["input"]
    assert await _task_failures(client, wid, first_run) == 0
    assert await _task_failures(client, wid) == 0


async def test_two_registrations_of_the_type_leave_a_hand_started_workflow_nothing_to_choose(client, tmp_path):
    ir, workflow, entity = _own_type(tmp_path)
    other = compile_text(_spec(workflow, entity) + "entity Extra {\n  id string\n}\n", tmp_path, "other.swf")
    assert other["hash"] != ir["hash"]
    wid = f"{entity}-{unique('zz')}"
    async with new_worker(client, ir, also=[other]) as worker:
        await client.start_workflow(workflow, {"entity_id": wid.removeprefix(f"{entity}-")}, id=wid,
                                    task_queue=worker.task_queue)
        cause = await _failure(client, wid)
    assert cause.type == "InvalidInput"
    assert f"this worker holds 2 registrations of {workflow}, so it cannot choose" in cause.message
    assert await _task_failures(client, wid) == 0


async def test_fields_of_the_wrong_type_fail_the_workflow_naming_them_not_their_values(client, tmp_path):
    ir, workflow, entity = _own_type(tmp_path)
    wid = f"{entity}-{unique('zz')}"
    async with new_worker(client, ir) as worker:
        await client.start_workflow(workflow, {"ir_hash": ir["hash"], "ancestors": "secret-ancestor",
                                               "history_limit": "many", "data": ["secret-record"]},
                                    id=wid, task_queue=worker.task_queue)
        cause = await _failure(client, wid)
    assert cause.type == "InvalidInput"
    assert "`ancestors` must be a list of workflow ids" in cause.message
    assert "`history_limit` must be a positive integer" in cause.message
    assert "`data` must be a record (object)" in cause.message
    assert "secret" not in cause.message and "many" not in cause.message
    assert await _task_failures(client, wid) == 0


async def test_an_input_that_is_not_an_object_fails_the_workflow(client, temporal_address, tmp_path):
    ir, workflow, entity = _own_type(tmp_path)
    wid = f"{entity}-{unique('zz')}"
    async with new_worker(client, ir) as worker:
        _temporal_start(temporal_address, worker.task_queue, workflow, wid, '"zz"')
        cause = await _failure(client, wid)
    assert "the input is not a JSON object" in cause.message
    assert await _task_failures(client, wid) == 0


async def test_a_hash_no_worker_holds_fails_the_workflow_after_the_grace_period(client, tmp_path):
    ir, workflow, entity = _own_type(tmp_path)
    unknown = "sha256:" + "0" * 64
    wid = f"{entity}-{unique('zz')}"
    async with new_worker(client, ir, unknown_ir_grace_s=1) as worker:
        handle = await client.start_workflow(workflow, {"ir_hash": unknown}, id=wid, task_queue=worker.task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable and cause.type == "UnknownIR"
    assert f"none of them holds its registration {unknown}" in cause.message
    assert "swfc worker SPEC" in cause.message
