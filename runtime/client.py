"""The client side of the runtime protocol: what a CLI or any program does to start, inspect
and steer a hierarchy.

Stage: beside the worker, on the caller's side of Temporal (docs/runtime.md). Takes an IR
document (for its ``deploy`` roots), plain values (the environment, workflow ids, tokens) and
a ``temporalio.client.Client``; gives the roots' workflow inputs with their tokens sealed
(``prepare_roots``), roots started once (``start_roots``), the live hierarchy as nested status
objects (``collect_status``, ``wait_until_loaded``; DESIGN.md §5) and token rotations
(``rotate_token``). Problems the user can fix raise ``ClientError``, whose text is the whole
message. Imports temporalio and ``runtime.sealing``; never ``dsl/``, ``compiler/`` or rich:
showing the results is the caller's business.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from rules.names import UPGRADE_UPDATE
from rules.origins import allows, scheme_of, url_origin
from runtime import search_attributes
from runtime.delivery import refusal, start_unless_running
from runtime.payloads import PayloadStoreError, external_storage
from runtime.protocol import Status, WorkflowInput
from runtime.sealing import DEFAULT_KEY_PATH, SEAL_KEY_ENV, SealError, load_key, seal, token_problem

QUERY_TIMEOUT = timedelta(seconds=10)  # generous: a busy 2-core machine is still "answering"
TOKEN_QUERY_TIMEOUT = timedelta(seconds=15)
UPGRADE_TIMEOUT = 60.0  # seconds for a worker to take the `upgrade` update


class ClientError(Exception):
    """A problem the user can fix (a missing token variable, no seal key, an unknown workflow
    or namespace); its text is the whole message, to show without a traceback. ``code`` is the
    exit status a command line ends with for it: 1, the environment or cluster is not right."""

    code = 1


class Unreachable(ClientError):
    """No connection to the Temporal frontend."""


# -- connecting --------------------------------------------------------------------------


def tls_config(cert: str | None, key: str | None, ca: str | None, server_name: str | None) -> TLSConfig | None:
    """A ``TLSConfig`` from certificate files (paths) and a server name; None when none is given.

    Raises:
        ClientError when a file cannot be read.
    """
    if not (cert or key or ca or server_name):
        return None
    return TLSConfig(client_cert=_read(cert), client_private_key=_read(key),
                     server_root_ca_cert=_read(ca), domain=server_name)


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ClientError(f"cannot read TLS file {path}: {exc.strerror}") from None


async def connect(address: str, *, namespace: str = "default", api_key: str | None = None,
                  tls: bool | TLSConfig | None = None, rpc_metadata: Mapping[str, str] | None = None,
                  runtime: Runtime | None = None, payload_store: str | Path | None = None) -> Client:
    """A client for ``address`` whose namespace is known to exist.

    Args:
        tls: None connects with TLS only when ``api_key`` is given.
        payload_store: where payloads too big for history go (``runtime.payloads``); every
            client and worker of a deployment must name the same store.
    Raises:
        Unreachable when there is no connection within 30 s; ClientError for a namespace the
        server does not have, or a payload store that cannot be used.
    """
    try:
        storage = external_storage(payload_store)
    except PayloadStoreError as exc:
        raise ClientError(f"--payload-store {exc}") from None
    converter = dataclasses.replace(DataConverter.default, external_storage=storage)
    try:
        client = await asyncio.wait_for(
            Client.connect(address, namespace=namespace, api_key=api_key, tls=tls,
                           rpc_metadata=rpc_metadata or {}, runtime=runtime, data_converter=converter), 30)
    except Exception as exc:
        raise Unreachable(f"cannot reach Temporal at {address} (namespace {namespace}): "
                          f"{first_line(exc)}") from None
    await _check_namespace(client, address)
    return client


async def _check_namespace(client: Client, address: str) -> None:
    """Fail early and clearly on a namespace the server does not have (a worker would only
    say so from deep inside its start-up)."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ClientError(f"namespace {client.namespace} does not exist on {address}") from None
        # Other refusals (an API key that may not describe namespaces): let the real call decide.


async def require_workflow(client: Client, workflow_id: str, address: str) -> Any:
    """The description of ``workflow_id``.

    Raises:
        ClientError when the workflow or the namespace does not exist on the server.
    """
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "namespace" in exc.message.lower():
            raise ClientError(f"namespace {client.namespace} does not exist on {address}") from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ClientError(f"no workflow {workflow_id} on {address} (namespace {client.namespace})") from None
        raise


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (tonic's transport errors bury the cause in it)."""
    text = str(exc).strip() or type(exc).__name__
    os_message = re.search(r'message: "([^"]+)"', text)
    return os_message.group(1) if os_message else text.splitlines()[0]


def short_hash(ir_hash: str) -> str:
    """``sha256:0123456789ab…``: an IR hash short enough for a message."""
    return ir_hash[:19] + "…" if len(ir_hash) > 20 else ir_hash


# -- the deploy roots ----------------------------------------------------------------------


@dataclass(frozen=True)
class Root:
    """One ``deploy`` root, ready to start: its workflow id, type, input and memo."""

    workflow_id: str
    workflow_type: str
    input: dict
    memo: dict


def api_bases(ir: dict, environ: dict[str, str]) -> dict[str, str]:
    """Each api's base for this deployment: ``$base_env`` when set, else the spec's base."""
    return {name: environ.get(api.get("base_env") or "") or api["base"] for name, api in ir["apis"].items()}


def seal_key(on_new_key: Callable[[str], None] | None = None) -> bytes:
    """The seal key (``SWFC_SEAL_KEY``, else ``.swfc/seal.key``, made when missing).

    Args:
        on_new_key: told (one sentence) when a new key file was made, since every worker and
            every client of a deployment must share the key.
    Raises:
        ClientError when the key is not usable.
    """
    fresh = not os.environ.get(SEAL_KEY_ENV) and not DEFAULT_KEY_PATH.exists()
    try:
        key = load_key()
    except SealError as exc:
        raise ClientError(str(exc)) from None
    if fresh and on_new_key is not None:
        on_new_key(f"created a new seal key in {DEFAULT_KEY_PATH}; workers elsewhere need the same key "
                   f"(copy the file, or set {SEAL_KEY_ENV} to its content)")
    return key


def prepare_roots(ir: dict, environ: dict[str, str], *, deployment: str, deployment_name: str | None = None,
                  on_new_key: Callable[[str], None] | None = None) -> list[Root]:
    """The roots of ``ir['deployments']`` with their tokens read from ``environ`` and sealed
    for ``deployment`` (``runtime.sealing.deployment(namespace, task_queue)``).

    Args:
        deployment_name: the deployment's name (the spec file's stem, or ``deploy --name``);
            it travels with every workflow of the hierarchy (input and memo, as `deployment`),
            so that no other spec's deployment adopts them.
        on_new_key: as for ``seal_key``.
    Raises:
        ClientError naming every missing, empty or malformed token variable (never a token).
    """
    missing = [(dep, api, ref["env"]) for dep in ir["deployments"]
               for api, ref in sorted(dep["tokens"].items()) if not environ.get(ref["env"])]
    if missing:
        lines = [f"  ${var}: the {api} token of {dep['workflow']} \"{dep['id']}\" ({dep['workflow_id']})"
                 for dep, api, var in missing]
        names = ", ".join(sorted({var for _, _, var in missing}))
        raise ClientError("missing token environment variable(s) " + names + ":\n" + "\n".join(lines)
                          + "\nexport them (e.g. `export " + missing[0][2] + "=...`) and deploy again")
    bases = api_bases(ir, environ)
    key = seal_key(on_new_key) if any(dep["tokens"] for dep in ir["deployments"]) else None
    return [_root(ir, dep, environ, bases, key, deployment, deployment_name) for dep in ir["deployments"]]


def _root(ir: dict, dep: dict, environ: dict[str, str], bases: dict[str, str], key: bytes | None,
          deployment: str, deployment_name: str | None) -> Root:
    tokens = {api: seal_from_env(api, environ, ref["env"], key, deployment)
              for api, ref in sorted(dep["tokens"].items())}
    named = {"deployment": deployment_name} if deployment_name else {}
    workflow_input = WorkflowInput(ir_hash=ir["hash"], entity_id=dep["id"], tokens=tokens, api_bases=bases,
                                   given=dict(dep.get("with") or {}), deployment=deployment_name).to_json()
    memo = {"entity": ir["workflows"][dep["workflow"]]["entity"], "id": dep["id"], **named}
    return Root(dep["workflow_id"], dep["workflow"], workflow_input, memo)


def seal_from_env(api: str, environ: dict[str, str], var: str, key: bytes | None, deployment: str) -> dict[str, str]:
    """The token in ``$var`` sealed for ``api`` in ``deployment``.

    Raises:
        ClientError naming the variable and what is wrong with its value (never the value).
    """
    return seal(api, token_from_env(api, environ, var), key=key, deployment=deployment)


def token_from_env(api: str, environ: dict[str, str], var: str) -> str:
    """The token in ``$var``, checked (visible ASCII only).

    Raises:
        ClientError naming the variable and what is wrong with its value (never the value).
    """
    problem = token_problem(environ.get(var, ""))
    if problem:
        raise ClientError(f"${var} cannot be used as the {api} token: {problem}")
    return environ[var]


def base_warnings(ir: dict, environ: dict[str, str]) -> list[str]:
    """Overridden bases whose origin the api's ``allow`` list does not allow (scheme, host and
    port: an https api's token never goes over http): tokens won't go there."""
    out = []
    for name, base in api_bases(ir, environ).items():
        api = ir["apis"][name]
        if base != api["base"] and api["auth"]["scheme"] != "none" \
                and not allows(api["allow"], scheme_of(api["base"]), url_origin(base)):
            out.append(f"warning: ${api['base_env']}={base} is not allowed for api {name} (allow "
                       f"{', '.join(api['allow'])}, over {scheme_of(api['base'])}): its token will not be sent there")
    return out


async def running_ir_hash(handle: WorkflowHandle, converter: DataConverter = DataConverter.default) -> str | None:
    """The ``ir_hash`` the current run of a workflow was started with (from its first event;
    ``converter``: the client's, which reads an input kept in External Storage)."""
    async for event in handle.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        try:
            value = (await converter.decode(payloads[:1]))[0] if payloads else None
        except Exception:  # noqa: BLE001 - an input swfc did not write: no hash to compare
            return None
        return value.get("ir_hash") if isinstance(value, dict) else None
    return None


async def foreign_roots(client: Client, roots: list[Root]) -> list[str]:
    """One line per root whose workflow id already runs for another deployment (another
    spec): such a workflow is never adopted, upgraded or shown as ours."""
    found = await asyncio.gather(*(_foreign(client, r) for r in roots))
    return [line for line in found if line]


async def _foreign(client: Client, root: Root) -> str | None:
    ours = root.memo.get("deployment")
    try:
        description = await client.get_workflow_handle(root.workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    theirs = (await description.memo()).get("deployment")
    if description.status != WorkflowExecutionStatus.RUNNING or not ours or not theirs or ours == theirs:
        return None
    return (f"{root.workflow_id} already runs for deployment {theirs!r} (spec {theirs}.swf or --name {theirs}), "
            f"not for {ours!r}: not adopted")


async def start_roots(client: Client, roots: list[Root], task_queue: str, ir_hash: str, *,
                      spec: str | None = None) -> list[str]:
    """Start each root unless it already runs; returns one line per root saying what happened.
    With ``spec`` (the deployment's name; the namespace has the swfc search attributes) each
    root starts with them, and hands them down its hierarchy (``runtime.search_attributes``)."""
    return list(await asyncio.gather(*(_start_root(client, r, task_queue, ir_hash, spec) for r in roots)))


async def _start_root(client: Client, root: Root, task_queue: str, ir_hash: str, spec: str | None = None) -> str:
    handle = client.get_workflow_handle(root.workflow_id)
    try:
        description = await handle.describe()
        running = description.status == WorkflowExecutionStatus.RUNNING
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        running = False
    if running:
        current = await running_ir_hash(handle, client.data_converter)
        queue = description.task_queue
        elsewhere = f" on task queue {queue} (workers here poll {task_queue})" if queue != task_queue else ""
        if current and current != ir_hash and elsewhere:
            return (f"{root.workflow_id}: running with IR {short_hash(current)}{elsewhere}; not upgraded: "
                    f"deploy with --task-queue {queue} (its tokens are sealed for that task queue)")
        if current and current != ir_hash:
            return await upgrade_root(handle, root, current, ir_hash)
        return f"{root.workflow_id}: already running{elsewhere} (nothing started)"
    attributes = search_attributes.for_root(root.workflow_id, spec) if spec is not None else None
    if not await start_unless_running(client, root.workflow_type, root.input, workflow_id=root.workflow_id,
                                      task_queue=task_queue, memo=root.memo, search_attributes=attributes):
        return f"{root.workflow_id}: already running (started concurrently; nothing started)"
    return f"{root.workflow_id}: started ({root.workflow_type}, task queue {task_queue})"


async def upgrade_root(handle: WorkflowHandle, root: Root, current: str, ir_hash: str,
                       timeout: float = UPGRADE_TIMEOUT) -> str:
    """Ask a running root to move to ``ir_hash`` (the ``upgrade`` update; it passes it down
    its hierarchy). Returns the line saying what happened; never raises for a refusal."""
    request = {"ir_hash": ir_hash, "tokens": root.input["tokens"], "api_bases": root.input["api_bases"]}
    before = f"{root.workflow_id}: running with IR {short_hash(current)}"
    try:
        await asyncio.wait_for(handle.execute_update(UPGRADE_UPDATE, request), timeout)
    except WorkflowUpdateFailedError as exc:
        return f"{before}; not upgraded to {short_hash(ir_hash)}: {refusal(exc)}"
    except asyncio.TimeoutError:
        return (f"{before}; not upgraded to {short_hash(ir_hash)}: no worker answered within "
                f"{timeout:.0f}s (is a worker running on its task queue?)")
    return f"{before}: upgraded to {short_hash(ir_hash)} (its hierarchy follows)"


# -- the status tree -----------------------------------------------------------------------


async def collect_status(client: Client, workflow_id: str, *, concurrency: int = 32) -> dict:
    """The hierarchy below ``workflow_id`` as one nested object (DESIGN.md §5), querying
    each workflow's ``status`` once, siblings concurrently. A workflow that cannot be
    queried appears with status ``unreachable`` and the reason in ``last_error``."""
    limit = asyncio.Semaphore(concurrency)
    cache: dict[str, asyncio.Task] = {}

    async def query(wid: str) -> dict:
        async with limit:
            try:
                return await client.get_workflow_handle(wid).query("status", rpc_timeout=QUERY_TIMEOUT)
            except Exception as exc:
                return _unreachable(wid, exc)

    async def node(wid: str, path: tuple[str, ...]) -> dict:
        if wid not in cache:
            cache[wid] = asyncio.ensure_future(query(wid))
        status = dict(await cache[wid])
        below = [c for c in status.get("children") or [] if c not in path]  # a cycle stops here
        status["children"] = list(await asyncio.gather(*(node(c, path + (c,)) for c in below)))
        return _shape(wid, status)

    return await node(workflow_id, (workflow_id,))


async def collect_all(client: Client, workflow_ids: list[str]) -> list[dict]:
    """``collect_status`` of each workflow, concurrently, in order."""
    return list(await asyncio.gather(*(collect_status(client, wid) for wid in workflow_ids)))


_FIELDS = ("workflow_id", "workflow_type", "entity", "id", "status", "loaded", "last_error",
           "failed", "checked_at", "next_try", "api_url", "proxy", "tokens", "children")


def _shape(wid: str, status: dict) -> dict:
    out = {k: status.get(k) for k in _FIELDS}
    out["workflow_id"] = out["workflow_id"] or wid
    out["loaded"] = bool(out["loaded"])
    out["failed"] = bool(out["failed"])
    out["tokens"] = dict(out["tokens"] or {})
    return out


def _unreachable(wid: str, exc: Exception) -> dict:
    entity, _, key = wid.partition("-")
    reason = first_line(exc)
    if "not found" in reason.lower():
        reason = "not started yet (or not found)"
    elif "timeout" in reason.lower() or "deadline" in reason.lower():
        reason = "no worker answered the status query (is a worker running on its task queue?)"
    return {"workflow_id": wid, "workflow_type": None, "entity": entity or None, "id": key or None,
            "status": Status.UNREACHABLE, "loaded": False, "last_error": reason, "api_url": None,
            "tokens": {}, "children": []}


def walk(tree: dict) -> Iterator[dict]:
    """Every node of a status tree, depth first, the root first."""
    yield tree
    for child in tree["children"]:
        yield from walk(child)


def distinct(trees: list[dict]) -> list[dict]:
    """Every workflow of ``trees`` once (a workflow attached under two parents is one)."""
    seen: dict[str, dict] = {}
    for tree in trees:
        for node in walk(tree):
            seen.setdefault(node["workflow_id"], node)
    return list(seen.values())


def not_loaded(trees: list[dict]) -> list[dict]:
    """The distinct workflows of ``trees`` that have not loaded yet."""
    return [n for n in distinct(trees) if not n["loaded"]]


def failed_for_good(nodes: list[dict]) -> bool:
    """Whether every one of ``nodes`` failed in a way it will not retry by itself (a bad
    body, a 404): waiting longer cannot help."""
    return bool(nodes) and all(n["failed"] for n in nodes)


NEEDS_ATTENTION = (Status.ERROR, Status.WAITING_FOR_TOKEN, Status.UNREACHABLE)


def needs_attention(node: dict) -> bool:
    """A workflow in error, waiting for a token or not answering, or one that recorded a
    problem it is still running with (a refused signal)."""
    return node["status"] in NEEDS_ATTENTION or bool(node["last_error"])


def summarize(trees: list[dict]) -> dict:
    """What ``swfc status`` shows by default: how many workflows, how many have loaded, the
    counts by workflow type and status, and the workflows that need attention (with their
    errors), each workflow counted once.

    Returns:
        ``{"roots", "workflows", "loaded", "by_type": {type: {status: count}}, "attention": [node]}``
        (nodes without their ``children``).
    """
    nodes = distinct(trees)
    by_type: dict[str, dict[str, int]] = {}
    for node in nodes:
        counts = by_type.setdefault(node["workflow_type"] or "?", {})
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    return {
        "roots": [t["workflow_id"] for t in trees],
        "workflows": len(nodes),
        "loaded": sum(1 for n in nodes if n["loaded"]),
        "by_type": {t: dict(sorted(c.items())) for t, c in sorted(by_type.items())},
        "attention": [flat(n) for n in nodes if needs_attention(n)],
    }


def with_status(trees: list[dict], status: str) -> list[dict]:
    """The workflows of ``trees`` whose status is ``status``, each once, without children."""
    return [flat(n) for n in distinct(trees) if n["status"] == status]


def flat(node: dict) -> dict:
    """A status node with ``children`` as the children's workflow ids (not their trees)."""
    return {**node, "children": [c["workflow_id"] for c in node["children"]]}


async def wait_until_loaded(client: Client, workflow_ids: list[str], timeout: float, *,
                            interval: float = 0.5) -> tuple[list[dict], bool]:
    """Poll the hierarchies below ``workflow_ids`` until every workflow has loaded, every
    one that has not has failed for good, or ``timeout`` seconds pass.

    Returns:
        The last status trees, and whether everything had loaded.
    """
    deadline = time.monotonic() + timeout
    while True:
        trees = await collect_all(client, workflow_ids)
        waiting = not_loaded(trees)
        if not waiting:
            return trees, True
        if failed_for_good(waiting) or time.monotonic() >= deadline:
            return trees, False
        await asyncio.sleep(interval)


# -- tokens --------------------------------------------------------------------------------


def workers_key() -> bytes:
    """The deployment's existing seal key, never a fresh one (no worker could open what it
    seals, and a worker with a fresh key could open nothing).

    Raises:
        ClientError when there is no usable seal key here, saying where it was looked for.
    """
    try:
        return load_key(create=False)
    except SealError as exc:
        raise ClientError(f"{exc}: run where `swfc deploy` created .swfc/seal.key, or set "
                          f"{SEAL_KEY_ENV} to the key the workers use") from None


async def rotate_token(client: Client, workflow_id: str, sealed: dict[str, str], *,
                       warn: Callable[[str], None] | None = None) -> None:
    """Send ``sealed`` (a SealedToken) to ``workflow_id`` as its ``apiToken`` signal; the
    workflow forwards it to the workflows below that need that api.

    Args:
        warn: told when the workflow does not answer the ``status`` query (the token is
            sent anyway).
    Raises:
        ClientError when the workflow does not use the sealed token's api.
    """
    api = sealed["api"]
    handle = client.get_workflow_handle(workflow_id)
    status = await _query_or_none(handle, "status", timeout=TOKEN_QUERY_TIMEOUT)
    # `needs`: the apis this workflow holds tokens for (older workers answer only `tokens`).
    held = (status.get("needs", status.get("tokens")) if isinstance(status, dict) else None)
    if held is None:
        if warn is not None:
            warn(f"{workflow_id} did not answer the status query; sending the token anyway "
                 f"(a workflow that does not use api {api} will refuse it)")
    elif api not in held:
        apis = ", ".join(sorted(held)) or "none"
        raise ClientError(f"{workflow_id} does not use api {api}, so it would refuse the token "
                          f"(its apis: {apis})")
    await handle.signal("apiToken", sealed)


async def _query_or_none(handle: WorkflowHandle, name: str, timeout: timedelta = QUERY_TIMEOUT) -> Any:
    try:
        return await handle.query(name, rpc_timeout=timeout)
    except Exception:
        return None
