"""Stores past Temporal's 2 MB payload limit (DESIGN.md §7): a parent whose store is 5 MB
loads, continues as new and upgrades with its state in External Storage — a directory
(the embedded server's `.swfc/payloads`) and a real S3-compatible server (moto, started
here, spoken to by the SDK's S3 driver) — and its token stays sealed in what was stored;
pruning the store removes the closed runs' payloads and keeps what a replay needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.roots import running_ir_hash
from runtime.temporal_client import connect
from runtime.payload_prune import prune
from runtime.payloads import external_storage
from runtime.sealing import deployment, seal
from tests.helpers import assert_eventually, compile_text, free_port, new_worker, unique


SPEC = """
api hr {{ base "{url}" auth bearer timeout {timeout} retry 3 times backoff 1s .. 5s }}
entity Group  {{ id string  name string  members [Member]  lead Member? }}
entity Member {{ id string  name string  bio string }}
workflow GroupWorkflow  manages Group  {{ source hr get "/groups/{{id}}"  child lead -> MemberWorkflow {{ autostart }} }}
workflow MemberWorkflow manages Member {{ source hr get "/members/{{id}}" }}
"""
MEMBERS = 2500  # 2,500 records of 2 KB (more in UTF-8): a 5 MB store
BIO = ("Müller wrote “ok” — 日本語 ✓ \"quoted\" \\ \n" * 100)[:2000]
TOKEN = "hr-token-" + unique("s")


@pytest.fixture(scope="module")
def s3_server():
    """A moto S3 server on a free loopback port, with a bucket; AWS settings the usual way."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    patch = pytest.MonkeyPatch()
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
        patch.setenv(name, value)
    import boto3

    boto3.client("s3").create_bucket(Bucket="swfc-payloads")
    try:
        yield boto3.client("s3")
    finally:
        patch.undo()
        server.stop()


def _serve_group(api, gid: str) -> None:
    members = [{"id": f"{gid}-m{i:04}", "name": f"member {i}", "bio": BIO} for i in range(MEMBERS)]
    api.set_entity(f"/groups/{gid}", {"id": gid, "name": "big", "members": members, "lead": f"{gid}-m0000"})
    api.set_entity(f"/members/{gid}-m0000", members[0])
    api.require_auth("/", TOKEN)


async def _big_parent_continues_as_new_and_upgrades(env, http_api, tmp_path: Path, store: str) -> tuple[Any, str, str, dict]:
    """The parent loads, continues as new and upgrades; returns the client, its workflow id,
    its group id and the registration it runs, with no worker left running."""
    gid = unique("g")
    _serve_group(http_api, gid)
    ir = compile_text(SPEC.format(url=http_api.url, timeout="10s"), tmp_path, "v1.swf")
    edited = compile_text(SPEC.format(url=http_api.url, timeout="11s"), tmp_path, "v2.swf")
    address = env.client.service_client.config.target_host
    client = await connect(address, payload_store=store)
    root = f"Group-{gid}"
    async with new_worker(client, edited, also=[ir]) as worker:
        sealed = seal("hr", TOKEN, deployment=deployment(client.namespace, worker.task_queue))
        handle = await client.start_workflow(
            "GroupWorkflow", {"ir_hash": ir["hash"], "entity_id": gid, "tokens": {"hr": sealed},
                              "api_bases": {}, "history_limit": 5, "carried": None},
            id=root, task_queue=worker.task_queue)
        first_run = handle.result_run_id

        async def continued_as_new_with_its_store():
            description = await client.get_workflow_handle(root).describe()
            assert description.run_id != first_run
            state = await client.get_workflow_handle(root).query("state")
            assert state["tables"]["Member"] == MEMBERS and state["loaded"] and state["paged"]

        await assert_eventually(continued_as_new_with_its_store, timeout=120)
        await client.get_workflow_handle(root).execute_update(
            "upgrade", {"ir_hash": edited["hash"], "tokens": {"hr": sealed}})

        async def upgraded_and_reloaded():
            latest = client.get_workflow_handle(root)
            assert await running_ir_hash(latest, client.data_converter) == edited["hash"]
            status = await latest.query("status")
            assert status["status"] == "running" and status["loaded"], status
            page = await latest.query("state", {"table": "Member", "offset": 2400, "limit": 1000})
            assert len(page["records"]) == 100 and page["records"][f"{gid}-m2400"]["bio"] == BIO

        await assert_eventually(upgraded_and_reloaded, timeout=120)
    return client, root, gid, edited


async def _pruned_and_replayed(client, root: str, gid: str, ir: dict, store: str, stored: Callable[[], int]) -> None:
    """`swfc payloads prune` removes the payloads of the closed runs (the first runs' inputs
    and loads) and keeps what the open ones refer to: a new worker replays the parent from
    its history (the first task of a worker that never ran it) and answers from its store."""
    before = stored()
    pruned = await prune(client, store, grace_s=0)
    assert pruned.runs >= 2 and pruned.removed > 0 and pruned.kept > 0
    assert stored() == before - pruned.removed == pruned.kept
    async with new_worker(client, ir, task_queue=(await client.get_workflow_handle(root).describe()).task_queue):
        page = await client.get_workflow_handle(root).query("state", {"table": "Member", "offset": 2400, "limit": 1000})
        assert len(page["records"]) == 100 and page["records"][f"{gid}-m2400"]["bio"] == BIO
        assert (await client.get_workflow_handle(root).query("status"))["loaded"]
    await asyncio.gather(client.get_workflow_handle(root).cancel(),
                         client.get_workflow_handle(f"Member-{gid}-m0000").cancel())


def _no_plain_token(blobs: list[bytes]) -> None:
    assert blobs and all(TOKEN.encode() not in blob for blob in blobs)
    assert any(b'"sealed"' in blob for blob in blobs)  # the sealed token went there, sealed


async def test_a_5mb_parent_with_a_directory_store(env, http_api, tmp_path):
    store = tmp_path / "payloads"
    client, root, gid, ir = await _big_parent_continues_as_new_and_upgrades(env, http_api, tmp_path, str(store))
    blobs = [p.read_bytes() for p in store.iterdir()]
    assert sum(map(len, blobs)) > 2 * 5_000_000  # the loads and the carried states, twice each
    _no_plain_token(blobs)
    await _pruned_and_replayed(client, root, gid, ir, str(store), lambda: len(list(store.iterdir())))


async def test_a_5mb_parent_with_an_s3_store(env, http_api, tmp_path, s3_server):
    store = "s3://swfc-payloads/deploy-1"
    client, root, gid, ir = await _big_parent_continues_as_new_and_upgrades(env, http_api, tmp_path, store)
    keys = [o["Key"] for o in s3_server.list_objects_v2(Bucket="swfc-payloads")["Contents"]]
    assert keys and all(k.startswith("deploy-1/v0/") for k in keys)
    _no_plain_token([s3_server.get_object(Bucket="swfc-payloads", Key=k)["Body"].read() for k in keys])
    await _pruned_and_replayed(client, root, gid, ir, store,
                               lambda: s3_server.list_objects_v2(Bucket="swfc-payloads").get("KeyCount", 0))


def test_no_location_means_no_external_storage_and_s3_needs_a_bucket():
    assert external_storage(None) is None
    from runtime.payloads import PayloadStoreError

    with pytest.raises(PayloadStoreError):
        external_storage("s3://")


async def test_the_references_in_an_event_name_what_the_store_holds(tmp_path):
    # What `swfc payloads prune` keeps: the claims of the references the SDK writes in place
    # of a stored payload, wherever the event holds them (its input, a memo's map).
    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.converter import DataConverter

    from runtime.payload_prune import claim_values

    converter = DataConverter(external_storage=external_storage(tmp_path))
    big, small = await converter.encode(["x" * 300_000]), await converter.encode(["small"])
    memo_big = await converter.encode(["y" * 300_000])
    event = HistoryEvent(event_id=1)
    started = event.workflow_execution_started_event_attributes
    started.input.payloads.extend([*big, *small])
    started.memo.fields["record"].CopyFrom(memo_big[0])
    assert set(claim_values(event)) == {p.name for p in tmp_path.iterdir()} and len(list(tmp_path.iterdir())) == 2
