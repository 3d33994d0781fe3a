"""The hierarchy in Temporal's own tools: `swfc deploy` registers the swfc search attributes
on the namespace and every workflow of the hierarchy carries them, so `temporal workflow
list --query` (and the Web UI, which takes the same queries) finds a whole hierarchy by its
root, the workflows waiting for a token by their status, kept current as it changes, and those
running with a recorded problem (a refused signal) by `SwfcProblem`, so that `swfc status`
lists them at any size."""

from __future__ import annotations

import json
import subprocess

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from cli.devserver import find_temporal_binary
from runtime import search_attributes
from runtime.search_attributes import NAMES, create_command, not_yet_known
from sample_api import SampleAPI
from tests.cli.marketplace import make_marketplace
from tests.helpers import assert_eventually, spawn_swfc, stop_process, unique

PROBLEM = SearchAttributeKey.for_keyword("SwfcProblem")


def temporal_list(address: str, query: str) -> set[str]:
    """The workflow ids `temporal workflow list --query QUERY` prints."""
    proc = subprocess.run([str(find_temporal_binary()), "workflow", "list", "--address", address,
                           "--query", query, "--output", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.strip()
    rows = json.loads(text) if text.startswith("[") else [json.loads(line) for line in text.splitlines() if line]
    return {row["execution"]["workflowId"] for row in rows}


def _summary_table(market) -> tuple[list[str], dict[str, list[str]]]:
    """The table of `swfc status`'s summary: its status columns and each workflow type's
    non-empty cells."""
    lines = market.swfc("status", market.root, "--address", market.address).stdout.splitlines()
    rows = [line.split() for line in lines[3:] if line.split() and line.split()[0].endswith("Workflow")]
    return lines[2].split()[2:], {row[0]: row[1:] for row in rows}


@pytest.fixture
def api():
    with SampleAPI().start() as api:
        yield api


async def test_a_hierarchy_by_root_and_its_waiting_workflows_by_status(api, tmp_path, temporal_address: str,
                                                                       client: Client):
    market = make_marketplace(api, tmp_path, temporal_address, photos=(2, 1))
    waiting, loading = list(market.listings)[1], list(market.listings)[0]
    other = unique("other-token")
    api.require_auth(f"/listings/{waiting}", other)  # this listing refuses the deployed token
    worker = market.spawn_worker()
    try:
        deployed = market.deploy("--no-worker")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        hierarchy = {market.root, f"Listing-{loading}", f"Listing-{waiting}",
                     *(f"Photo-{p}" for p in market.listings[loading])}
        by_root = f'SwfcRoot = "{market.root}"'
        waits = f'{by_root} AND SwfcStatus = "waiting_for_token"'
        await assert_eventually(lambda: temporal_list(temporal_address, by_root) == hierarchy, timeout=60, interval=1)
        await assert_eventually(lambda: temporal_list(temporal_address, waits) == {f"Listing-{waiting}"},
                                timeout=60, interval=1)
        problems = f'{by_root} AND SwfcProblem != "none"'
        assert temporal_list(temporal_address, f'{by_root} AND SwfcProblem = "load"') == {f"Listing-{waiting}"}
        children = temporal_list(temporal_address, f'SwfcParent = "Listing-{loading}"')
        assert children == {f"Photo-{p}" for p in market.listings[loading]}
        table = (["running", "waiting_for_token"], {"ListingWorkflow": ["1", "1"], "PhotoWorkflow": ["2"],
                                                     "UserWorkflow": ["1"]})
        await assert_eventually(lambda: _summary_table(market) == table, timeout=60, interval=1)
        summary = market.swfc("status", market.root, "--address", temporal_address).stdout
        assert f"{len(hierarchy)} workflows\n" in summary and "visibility" in summary
        assert "needs attention: 1" in summary and f"Listing-{waiting} ListingWorkflow  waiting_for_token" in summary
        assert "HTTP 401: the crm token was refused" in summary
        below = market.swfc("status", f"Listing-{loading}", "--address", temporal_address).stdout
        assert f"{1 + len(market.listings[loading])} workflows\n" in below and "needs attention" not in below
        filtered = market.swfc("status", market.root, "--status", "waiting_for_token", "--format", "json",
                               "--address", temporal_address)
        [listing] = json.loads(filtered.stdout)
        assert (listing["workflow_id"], listing["children"]) == (f"Listing-{waiting}", [])
        assert listing["last_error"].startswith("HTTP 401")
        spec = temporal_list(temporal_address, f'SwfcSpec = "marketplace" AND {by_root}')
        assert spec == hierarchy

        # A token the listing takes: it loads, its photo starts, and nothing waits any more.
        api.require_auth("/", market.token, other)
        rotated = market.swfc("token", "set", market.root, "--api", "crm", "--from-env", "OTHER",
                              "--address", market.address, env=market.env(OTHER=other))
        assert rotated.returncode == 0, rotated.stderr
        everything = hierarchy | {f"Photo-{p}" for p in market.listings[waiting]}
        await assert_eventually(lambda: temporal_list(temporal_address, waits) == set(), timeout=60, interval=1)
        # The good load answers the refused one: the problem is cleared, as `last_error` is.
        await assert_eventually(lambda: temporal_list(temporal_address, problems) == set(), timeout=60, interval=1)
        await assert_eventually(lambda: temporal_list(temporal_address, by_root) == everything, timeout=60, interval=1)
        running = temporal_list(temporal_address, f'{by_root} AND SwfcStatus = "running"')
        assert running == everything
    finally:
        stop_process(worker)
        for wid in [market.root, *(f"Listing-{lid}" for lid in market.listings)]:
            try:
                await client.get_workflow_handle(wid).terminate("test done")
            except Exception:  # noqa: BLE001 - already closed
                pass


async def test_beyond_50_workflows_the_summary_lists_one_running_with_a_refused_signal(
        api, tmp_path, temporal_address: str, client: Client):
    """Past 50 workflows the summary does not ask each one: `SwfcProblem` finds the one that
    keeps running with a recorded problem, upserted once for the same kind of problem."""
    market = make_marketplace(api, tmp_path, temporal_address, photos=(52, 8))
    assert len(market.workflow_ids) == 63
    worker = market.spawn_worker()
    try:
        deployed = market.deploy("--no-worker", "--until-loaded")
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        listing = list(market.listings)[0]
        photo = f"Photo-{market.listings[listing][7]}"
        handle = client.get_workflow_handle(photo)
        await handle.signal("nonsense", {})
        by_root = f'SwfcRoot = "{market.root}"'
        await assert_eventually(lambda: temporal_list(temporal_address, f'{by_root} AND SwfcProblem = "signal"')
                                == {photo}, timeout=60, interval=1)

        def summary() -> str:
            return market.swfc("status", market.root, "--address", temporal_address).stdout

        shown = summary()
        assert "63 workflows\n" in shown and "visibility" in shown
        assert "needs attention: 1\n" in shown and f"{photo} PhotoWorkflow  running" in shown
        assert "last error: unknown signal refused" in shown
        below = market.swfc("status", f"Listing-{listing}", "--address", temporal_address).stdout
        assert "53 workflows\n" in below and "needs attention: 1\n" in below and photo in below

        # Refused again: the same kind of problem, nothing more to record.
        await handle.signal("nonsense", {})

        async def refused_twice() -> None:
            answer = await handle.query("state")
            assert [e["kind"] for e in answer["errors"]] == ["signal", "signal"]
            assert answer["status"] == "running"

        await assert_eventually(refused_twice, timeout=60)
        assert await _problem_upserts(client, photo) == ["signal"]
        assert await _problem_upserts(client, market.root) == []
    finally:
        stop_process(worker)
        await _terminate(client, [market.root, *(f"Listing-{lid}" for lid in market.listings)])


async def test_a_namespace_with_the_four_but_not_swfc_problem_runs_with_the_four(api, tmp_path, client: Client,
                                                                               temporal_address: str):
    """An operator's namespace that had the first four and no room for a fifth: deploy says
    how to create it and starts the hierarchy with the four; no workflow upserts it (its
    workflow tasks would fail), and the summary still lists the refused signal it asks for."""
    namespace = await new_namespace(client, "four-ns")
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(namespace=namespace, search_attributes={
        **{f"Filler{i}": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for i in range(6)},
        **{name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in NAMES if name != "SwfcProblem"}}))
    market = make_marketplace(api, tmp_path, temporal_address)
    other = await Client.connect(temporal_address, namespace=namespace)
    worker = spawn_swfc("worker", str(market.spec), *market.connection(), "--namespace", namespace,
                        env=market.env(), cwd=market.spec.parent, log=tmp_path / "worker.log")
    try:
        deployed = market.deploy("--no-worker", "--until-loaded", "--namespace", namespace)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert (f"temporal operator search-attribute create --namespace {namespace} --name SwfcProblem "
                f"--type Keyword") in deployed.stderr
        for wid in market.workflow_ids:
            recorded = (await other.get_workflow_handle(wid).describe()).typed_search_attributes
            assert recorded.get(search_attributes.KEYS["SwfcRoot"]) == market.root and recorded.get(PROBLEM) is None
        listing = f"Listing-{list(market.listings)[0]}"
        await other.get_workflow_handle(listing).signal("nonsense", {})

        def summary() -> str:
            return market.swfc("status", market.root, "--address", temporal_address, "--namespace", namespace).stdout

        await assert_eventually(lambda: f"{listing} ListingWorkflow  running" in summary(), timeout=60, interval=1)
        assert "last error: unknown signal refused" in summary()
        assert await _problem_upserts(other, listing) == []
    finally:
        stop_process(worker)
        await _terminate(other, [market.root, *(f"Listing-{lid}" for lid in market.listings)])


async def _problem_upserts(client: Client, workflow_id: str) -> list[str]:
    """The values of `SwfcProblem` the workflow's history upserts, in order."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    converter = client.data_converter.payload_converter
    return [converter.from_payload(event.upsert_workflow_search_attributes_event_attributes.search_attributes
                                   .indexed_fields["SwfcProblem"], str)
            for event in history.events
            if "SwfcProblem" in event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields]


async def _terminate(client: Client, workflow_ids: list[str]) -> None:
    for wid in workflow_ids:
        try:
            await client.get_workflow_handle(wid).terminate("test done")
        except Exception:  # noqa: BLE001 - already closed
            pass


def test_an_attribute_a_workflow_was_not_started_with_is_never_upserted():
    started = {"SwfcRoot": "User-1", "SwfcSpec": "m", "SwfcStatus": "running"}
    without = search_attributes.typed(started)
    assert [u.key.name for u in search_attributes.updates(without, "error", "load")] == ["SwfcStatus"]
    assert search_attributes.updates(without, "running", "signal") == []
    with_problem = search_attributes.typed({**started, "SwfcProblem": "none"})
    assert [(u.key.name, u.value) for u in search_attributes.updates(with_problem, "running", "signal")] == [
        ("SwfcProblem", "signal")]
    assert search_attributes.updates(with_problem, "running", None) == []
    assert search_attributes.updates(search_attributes.typed({**started, "SwfcProblem": "signal"}),
                                     "running", "signal") == []


async def test_where_they_cannot_be_created_deploy_says_how_and_deploys_without(api, tmp_path, client: Client,
                                                                                temporal_address: str):
    namespace = await full_namespace(client)
    market = make_marketplace(api, tmp_path, temporal_address)
    deployed = market.deploy("--no-worker", "--namespace", namespace)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "cannot have more than 10 search attribute of type Keyword" in deployed.stderr
    assert (f"temporal operator search-attribute create --namespace {namespace} --name SwfcRoot --name SwfcParent "
            f"--name SwfcSpec --name SwfcStatus --name SwfcProblem --type Keyword") in deployed.stderr
    assert f"{market.root}: started" in deployed.stdout
    other = await Client.connect(temporal_address, namespace=namespace)
    description = await other.get_workflow_handle(market.root).describe()
    assert len(description.typed_search_attributes) == 0
    await other.get_workflow_handle(market.root).terminate("test done")


async def test_a_worker_creates_them_as_deploy_does(api, tmp_path, client: Client, temporal_address: str):
    """A cluster's workers often start before anyone deploys; where the attributes cannot be
    created, the worker says which command creates them and serves anyway."""
    fresh, full = await new_namespace(client, "fresh-ns"), await full_namespace(client)
    market = make_marketplace(api, tmp_path, temporal_address)
    for namespace in (fresh, full):
        log = tmp_path / f"{namespace}.log"
        worker = spawn_swfc("worker", str(market.spec), *market.connection(), "--namespace", namespace,
                            env=market.env(), cwd=market.spec.parent, log=log)
        try:
            await assert_eventually(lambda: "worker on" in log.read_text(), timeout=60)
        finally:
            stop_process(worker)
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        created = [name for name in NAMES if name in listed.custom_attributes]
        if namespace == fresh:
            assert created == list(NAMES), log.read_text()
        else:
            assert created == [] and create_command(namespace, list(NAMES)) in log.read_text()


async def new_namespace(client: Client, prefix: str) -> str:
    name = unique(prefix)
    await client.workflow_service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86400)))
    return name


async def full_namespace(client: Client) -> str:
    """A new namespace whose Keyword attributes are used up (the dev server allows 10): a
    real server refusing to create ours."""
    name = await new_namespace(client, "full-ns")
    filler = {f"Filler{i}": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for i in range(10)}
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(namespace=name,
                                                                                   search_attributes=filler))
    return name


def test_the_command_an_operator_runs_to_create_them():
    assert create_command("prod", ["SwfcRoot", "SwfcStatus"]) == (
        "temporal operator search-attribute create --namespace prod "
        "--name SwfcRoot --name SwfcStatus --type Keyword")


async def test_a_start_refused_for_an_unknown_attribute_is_recognised(client: Client):
    """What a SQL cluster answers for an attribute created a moment ago (a root start waits
    and tries again): the dev server answers the same for one never created."""
    unknown = TypedSearchAttributes([SearchAttributePair(SearchAttributeKey.for_keyword("SwfcNeverCreated"), "x")])
    with pytest.raises(RPCError) as refused:
        await client.start_workflow("UserWorkflow", {}, id=unique("sa"), task_queue=unique("tq"),
                                    search_attributes=unknown)
    assert not_yet_known(refused.value)
