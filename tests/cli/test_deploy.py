"""``swfc deploy`` / ``worker`` / ``status`` / ``token set`` as a user runs them: the CLI in a
subprocess, against the session's real dev server (``--address``) and a real sample API.

One deployment per module (``market``): a ``swfc worker`` process serves it and
``swfc deploy --no-worker --until-loaded`` starts it. The tests below run in file order
on that live hierarchy: status, redeploy, token rotation, and last the secrecy audit of
everything Temporal recorded.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from temporalio.client import Client

from runtime.sealing import fingerprint
from sample_api import SampleAPI
from tests.cli.marketplace import Marketplace, make_marketplace, nodes
from tests.helpers import assert_eventually, decoded_payloads, spawn_swfc, stop_process, unique
from cli.devserver import find_temporal_binary

STATUS_KEYS = {"workflow_id", "workflow_type", "entity", "id", "status", "loaded", "last_error",
               "failed", "checked_at", "next_try", "api_url", "proxy", "tokens", "children"}


@pytest.fixture(scope="module")
def module_api():
    with SampleAPI().start() as api:
        yield api


@pytest.fixture(scope="module")
async def market(env, module_api, tmp_path_factory):
    """A deployed, loaded marketplace hierarchy (1 user, 2 listings, 3 photos) served by a
    ``swfc worker`` process; the deploy's CompletedProcess is ``market.deployed``."""
    address = env.client.service_client.config.target_host
    market = make_marketplace(module_api, tmp_path_factory.mktemp("market"), address)
    worker = market.spawn_worker()
    try:
        market.deployed = market.deploy("--no-worker", "--until-loaded", "--timeout", "90")
        market.worker = worker
        yield market
    finally:
        market.worker_exit = stop_process(worker)
        await env.client.get_workflow_handle(market.root).terminate("test module done")


def test_deploy_no_worker_until_loaded_exits_0(market: Marketplace) -> None:
    result = market.deployed
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{market.root}: started" in result.stdout
    assert "all 6 workflows of the hierarchy have loaded" in result.stdout
    assert "Traceback" not in result.stderr


async def test_root_memo_names_its_entity_and_deployment(market: Marketplace, client: Client) -> None:
    description = await client.get_workflow_handle(market.root).describe()
    assert await description.memo() == {"entity": "User", "id": market.uid, "deployment": market.spec.stem}


def test_deploy_never_adopts_a_root_of_another_deployment(market: Marketplace) -> None:
    result = market.deploy("--no-worker", "--name", "someone-else")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"{market.root} already runs for deployment '{market.spec.stem}' (spec {market.spec.stem}.swf"
            in result.stderr)
    assert f"this is {market.spec} deployed as 'someone-else'" in result.stderr
    assert "started" not in result.stdout and "upgraded" not in result.stdout


def test_status_json_is_the_nested_hierarchy(market: Marketplace) -> None:
    tree = market.status()
    everything = nodes(tree)
    assert {n["workflow_id"] for n in everything} == market.workflow_ids
    assert all(set(n) == STATUS_KEYS for n in everything)
    assert tree["workflow_type"] == "UserWorkflow" and tree["entity"] == "User" and tree["id"] == market.uid
    assert all(n["loaded"] and n["status"] == "running" and n["last_error"] is None for n in everything)
    fp = fingerprint(market.token)
    for n in everything:
        if n["entity"] == "Photo":  # `token none`: holds nothing, calls nothing
            assert n["workflow_type"] == "PhotoWorkflow"
            assert all(v is None for v in n["tokens"].values()) and n["api_url"] is None
        else:
            assert n["tokens"] == {"crm": fp}
            assert n["api_url"] == market.api.url
    assert sorted(len(c["children"]) for c in tree["children"]) == [1, 2]


def test_status_tree_shows_every_workflow(market: Marketplace) -> None:
    result = market.swfc("status", market.root, "--tree", "--address", market.address)
    assert result.returncode == 0, result.stderr
    for wid in market.workflow_ids:
        assert wid in result.stdout
    assert fingerprint(market.token) in result.stdout


def test_status_by_default_is_a_summary(market: Marketplace) -> None:
    result = market.swfc("status", market.root, "--address", market.address)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{market.root} UserWorkflow  running  loaded")
    assert lines[1] == "6 workflows"  # counted by Temporal's visibility store, which does not know `loaded`
    assert lines[2].split() == ["workflow", "type", "running"]
    counts = {line.split()[0]: line.split()[1:] for line in lines[3:6]}
    assert counts == {"ListingWorkflow": ["2"], "PhotoWorkflow": ["3"], "UserWorkflow": ["1"]}
    assert "needs attention" not in result.stdout and "visibility store" in lines[6]


def test_status_filters_by_status(market: Marketplace) -> None:
    result = market.swfc("status", market.root, "--status", "running", "--format", "json",
                         "--address", market.address)
    assert result.returncode == 0, result.stderr
    assert {n["workflow_id"] for n in json.loads(result.stdout)} == market.workflow_ids
    none = market.swfc("status", market.root, "--status", "error", "--address", market.address)
    assert none.stdout.splitlines() == ["0 of 6 workflows error"]


async def test_status_watch_shows_the_live_view_until_ctrl_c(market: Marketplace, tmp_path) -> None:
    log = tmp_path / "watch.log"
    watch = spawn_swfc("status", market.root, "--watch", "--address", market.address,
                       env=market.env(), log=log)
    try:
        await assert_eventually(lambda: "6 workflows\n" in log.read_text(), timeout=60)
    finally:
        code, _, _ = stop_process(watch)
    assert code == 0  # Ctrl-C is how a live view ends


async def _count(client: Client, query: str) -> int:
    return len([w async for w in client.list_workflows(query)])


async def test_deploying_twice_starts_nothing_new(market: Marketplace, client: Client) -> None:
    in_queue = f"TaskQueue = '{market.task_queue}'"
    await assert_eventually(lambda: _expect(_count(client, in_queue), 6), timeout=15)
    again = market.deploy("--no-worker")
    assert again.returncode == 0, again.stderr
    assert f"{market.root}: already running (nothing started)" in again.stdout
    # a changed spec is never started beside the running one: the root is asked to upgrade,
    # which this deployment's worker (it holds only the first version) refuses
    market.spec.write_text(market.spec.read_text().replace("every 5m", "every 6m"))
    changed = market.deploy("--no-worker")
    market.spec.write_text(market.spec.read_text().replace("every 6m", "every 5m"))
    assert changed.returncode == 0, changed.stderr
    assert "running with IR sha256:" in changed.stdout and "not upgraded" in changed.stdout
    assert await _count(client, in_queue) == 6
    assert await _count(client, f"WorkflowId = '{market.root}'") == 1


async def _expect(awaitable, value) -> None:
    assert await awaitable == value


async def test_token_set_reaches_every_workflow_that_needs_it(market: Marketplace) -> None:
    new = unique("rotated")
    market.api.require_auth("/", market.token, new)
    result = market.swfc("token", "set", market.root, "--api", "crm", "--from-env", "NEW_CRM_TOKEN",
                         "--address", market.address, env=market.env(NEW_CRM_TOKEN=new))
    assert result.returncode == 0, result.stderr
    assert fingerprint(new) in result.stdout and new not in result.stdout + result.stderr

    def rotated() -> None:
        for n in nodes(market.status()):
            want = None if n["entity"] == "Photo" else fingerprint(new)
            assert all(v == want for v in n["tokens"].values()), (n["workflow_id"], n["tokens"])

    await assert_eventually(rotated, timeout=15, interval=0.5)
    market.rotated = new


def test_token_set_refuses_an_api_the_workflow_does_not_hold(market: Marketplace) -> None:
    result = market.swfc("token", "set", market.root, "--api", "billing", "--from-env", "CRM_TOKEN",
                         "--address", market.address)
    assert result.returncode == 1
    assert "does not use api billing" in result.stderr and "Traceback" not in result.stderr


def test_payloads_prune_reads_every_open_run_and_keeps_what_they_need(market: Marketplace, tmp_path: Path) -> None:
    store = tmp_path / "payloads"
    store.mkdir()
    (store / ("0" * 64)).write_bytes(b"no run refers to this one")
    result = market.swfc("payloads", "prune", "--address", market.address, "--payload-store", str(store), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would remove 0 payload(s)" in result.stdout and (store / ("0" * 64)).exists()  # within its grace
    result = market.swfc("payloads", "prune", "--address", market.address, "--payload-store", str(store),
                         "--grace", "0")
    assert result.returncode == 0, result.stderr
    assert "removed 1 payload(s)" in result.stdout and not (store / ("0" * 64)).exists()
    assert int(result.stdout.split("the ")[1].split(" open run")[0]) >= len(market.workflow_ids)


def test_payloads_prune_needs_to_know_the_store(market: Marketplace) -> None:
    result = market.swfc("payloads", "prune", "--address", market.address, env={**market.env(), "SWFC_PAYLOAD_STORE": ""})
    assert result.returncode == 1
    assert "no payload store to prune" in result.stderr and "Traceback" not in result.stderr


async def test_no_plaintext_token_anywhere_temporal_keeps(market: Marketplace, client: Client) -> None:
    secrets = [market.token, getattr(market, "rotated", market.token)]
    runs = [(w.id, w.run_id) async for w in client.list_workflows(f"TaskQueue = '{market.task_queue}'")]
    assert {wid for wid, _ in runs} >= market.workflow_ids
    for wid, run_id in runs:  # every run, continued-as-new ones included
        shown = subprocess.run([str(find_temporal_binary()), "workflow", "show", "-w", wid, "-r", run_id,
                                "--address", market.address, "--output", "json"],
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        history = json.loads(shown.stdout)
        decoded = decoded_payloads(history)
        assert any(b'"ir_hash"' in b for b in decoded), wid  # the input payload, base64-decoded
        blobs = [shown.stdout.encode(), *decoded]
        handle = client.get_workflow_handle(wid, run_id=run_id)
        description = await handle.describe()
        raw = (await handle.fetch_history()).to_json().encode()
        blobs += [raw, repr(description.memo).encode(), repr(await description.memo()).encode(),
                  repr(description.raw_description).encode(), repr(description.search_attributes).encode()]
        for secret in secrets:
            assert not any(secret.encode() in b for b in blobs), f"token in what Temporal keeps for {wid}"
    for output in (market.deployed.stdout, market.deployed.stderr):
        assert all(secret not in output for secret in secrets)


async def test_a_root_started_by_hand_is_adopted_by_the_one_spec_the_worker_runs(market: Marketplace,
                                                                                   client: Client) -> None:
    """The TypeScript library's start parameters, typed into the `temporal` CLI (after the
    secrecy audit: this run's input has no `ir_hash`, which that audit looks for)."""
    uid = unique("zz")
    started = subprocess.run(
        [str(find_temporal_binary()), "workflow", "start", "--address", market.address, "--task-queue",
         market.task_queue, "--type", "UserWorkflow", "--workflow-id", f"User-{uid}",
         "--input", json.dumps({"id": uid, "entityName": "User"}), "--output", "json"],
        capture_output=True, text=True, timeout=60, check=True)

    def waiting_for_its_token() -> None:
        status = market.status(f"User-{uid}")
        assert (status["id"], status["status"]) == (uid, "waiting_for_token")
        assert status["last_error"].startswith("started without `ir_hash` (it has entityName, id, which swfc does not use)")

    await assert_eventually(waiting_for_its_token, timeout=30, interval=0.5)
    for run_id in (json.loads(started.stdout)["runId"], None):  # the hand-started run, the adopted one
        events = (await client.get_workflow_handle(f"User-{uid}", run_id=run_id).fetch_history()).events
        assert not [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
    await client.get_workflow_handle(f"User-{uid}").terminate("test done")


def test_worker_stops_cleanly_on_ctrl_c(market: Marketplace) -> None:
    code, out, err = stop_process(market.worker)
    assert code == 0, err
    assert "Traceback" not in err
    assert all(secret not in out + err for secret in [market.token, getattr(market, "rotated", "")] if secret)
