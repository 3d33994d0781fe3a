"""``swfc worker`` processes scale out on one task queue, and ``swfc deploy``'s live view
with its in-process worker runs until Ctrl-C and then exits 0 without a traceback."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from runtime.sealing import fingerprint
from tests.cli.marketplace import make_marketplace, nodes
from tests.helpers import assert_eventually, stop_process, unique


async def pollers(client: Client, task_queue: str) -> set[str]:
    """Identities (``pid@host``) of the workers polling ``task_queue`` for workflow tasks."""
    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return {p.identity for p in response.pollers}


async def test_two_worker_processes_share_a_task_queue(client, http_api, tmp_path, temporal_address, processes):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1, 1))
    first, second = market.spawn_worker(), market.spawn_worker()
    processes += [first, second]
    expected = {f"{first.pid}@", f"{second.pid}@"}

    async def both_polling() -> None:
        seen = await pollers(client, market.task_queue)
        assert {p.split("@")[0] + "@" for p in seen} >= expected, seen

    await assert_eventually(both_polling, timeout=30, interval=0.5)
    deployed = await asyncio.to_thread(market.deploy, "--no-worker", "--until-loaded", "--timeout", "60")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    # One worker goes away (Ctrl-C: clean exit); the other carries the whole hierarchy on.
    code, _, err = stop_process(first)
    assert code == 0 and "Traceback" not in err, err
    new = unique("rotated")
    http_api.require_auth("/", market.token, new)
    rotated = await asyncio.to_thread(
        market.swfc, "token", "set", market.root, "--api", "crm", "--from-env", "NEXT",
        "--address", market.address, env=market.env(NEXT=new))
    assert rotated.returncode == 0, rotated.stderr

    def all_rotated() -> None:
        for n in nodes(market.status()):
            assert n["entity"] == "Photo" or n["tokens"] == {"crm": fingerprint(new)}, n

    await assert_eventually(lambda: asyncio.to_thread(all_rotated), timeout=30, interval=0.5)


async def test_deploy_live_view_until_ctrl_c(client, http_api, tmp_path, temporal_address, processes):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(2,))
    deploy = market.spawn("deploy", str(market.spec), *market.connection())
    processes.append(deploy)

    async def loaded() -> None:
        tree = await asyncio.to_thread(market.status)
        assert {n["workflow_id"] for n in nodes(tree)} == market.workflow_ids
        assert all(n["loaded"] for n in nodes(tree)), tree

    await assert_eventually(loaded, timeout=60, interval=0.5)
    code, out, err = stop_process(deploy)
    assert code == 0, (out, err)
    assert "Traceback" not in out + err
    assert f"{market.root}: started" in out and "worker on task queue" in out
    assert market.root in out.split("started", 1)[1]  # the tree was shown after the start
    assert market.token not in out + err
