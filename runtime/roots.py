"""The ``deploy`` roots: their inputs with sealed tokens, the check that no other deployment
runs them, and starting each one once (or asking a running one to upgrade).

Stage: the caller's side of the runtime, after ``runtime.temporal_client``. Takes the
``runtime.ir.IR`` of the spec, the environment (token variables, base overrides) and a
client; gives ``Root`` inputs, ``ForeignRoot`` and ``BaseNotAllowed`` findings and one
``RootOutcome`` per root: facts, which the caller words (``cli/problems.py``). Problems the
user can fix raise the typed errors of ``runtime.client_errors``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from runtime import search_attributes
from runtime.client_errors import MissingToken, MissingTokens
from runtime.delivery import start_unless_running
from runtime.ir import IR, Deployment
from runtime.protocol import GENERATION, WorkflowInput, task_timeout
from runtime.root_upgrade import UpgradeOutcome, upgrade_root
from runtime.tokens import seal_from_env, seal_key


@dataclass(frozen=True)
class Root:
    """One ``deploy`` root, ready to start: its workflow id, type, input and memo."""

    workflow_id: str
    workflow_type: str
    input: dict[str, Any]
    memo: dict[str, Any]
    leaf: bool = False  # its type has no child edges (its workflow task timeout: `task_timeout`)


def api_bases(ir: IR, environ: Mapping[str, str]) -> dict[str, str]:
    """Each api's base for this deployment: ``$base_env`` when set, else the spec's base."""
    return {name: environ.get(api.base_env or "") or api.base for name, api in ir.apis.items()}


def prepare_roots(ir: IR, environ: Mapping[str, str], *, deployment: str, deployment_name: str | None = None,
                  on_new_key: Callable[[Path], None] | None = None) -> list[Root]:
    """The roots of ``ir.deployments`` with their tokens read from ``environ`` and sealed
    for ``deployment`` (``runtime.sealing.deployment(namespace, task_queue)``).

    Args:
        deployment_name: the deployment's name (the spec file's stem, or ``deploy --name``);
            it travels with every workflow of the hierarchy (input and memo, as `deployment`),
            so that no other spec's deployment adopts them.
        on_new_key: as for ``runtime.tokens.seal_key``.
    Raises:
        MissingTokens naming every unset or empty token variable; BadToken for a malformed
        one (never the token); SealKeyUnusable.
    """
    missing = [MissingToken(var, api, dep.workflow, dep.id, dep.workflow_id) for dep in ir.deployments
               for api, var in sorted(dep.tokens.items()) if not environ.get(var)]
    if missing:
        raise MissingTokens(missing)
    bases = api_bases(ir, environ)
    key = seal_key(on_new_key) if any(dep.tokens for dep in ir.deployments) else None
    return [_root(ir, dep, environ, bases, key, deployment, deployment_name) for dep in ir.deployments]


def _root(ir: IR, dep: Deployment, environ: Mapping[str, str], bases: dict[str, str], key: bytes | None,
          deployment: str, deployment_name: str | None) -> Root:
    tokens = {api: seal_from_env(api, environ, var, key, deployment) for api, var in sorted(dep.tokens.items())}
    named = {"deployment": deployment_name} if deployment_name else {}
    workflow_input = WorkflowInput(ir_hash=ir.hash, entity_id=dep.id, tokens=tokens, api_bases=bases,
                                   given=dict(dep.with_values), deployment=deployment_name,
                                   generation=GENERATION).to_json()
    memo = {"entity": ir.workflows[dep.workflow].entity, "id": dep.id, **named}
    return Root(dep.workflow_id, dep.workflow, workflow_input, memo, leaf=ir.workflows[dep.workflow].leaf)


@dataclass(frozen=True)
class BaseNotAllowed:
    """An api's base, overridden by ``$variable``, whose origin the api's ``allow`` list
    does not allow (scheme, host and port): its token will not be sent there."""

    api: str
    variable: str
    base: str
    allow: tuple[str, ...]
    scheme: str


def bases_not_allowed(ir: IR, environ: Mapping[str, str]) -> list[BaseNotAllowed]:
    """The overridden bases a token may not go to (an https api's token never goes over http)."""
    return [BaseNotAllowed(name, api.base_env or "", base, api.allow, api.scheme)
            for name, base in api_bases(ir, environ).items()
            for api in [ir.apis[name]]
            if base != api.base and api.needs_token and not api.allows(base)]


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


@dataclass(frozen=True)
class ForeignRoot:
    """A root whose workflow id already runs for another deployment (another spec): such
    a workflow is never adopted, upgraded or shown as ours."""

    workflow_id: str
    theirs: str
    ours: str


async def foreign_roots(client: Client, roots: list[Root]) -> list[ForeignRoot]:
    """The roots that already run for another deployment."""
    found = await asyncio.gather(*(_foreign(client, r) for r in roots))
    return [f for f in found if f is not None]


async def _foreign(client: Client, root: Root) -> ForeignRoot | None:
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
    return ForeignRoot(root.workflow_id, theirs, ours)


@dataclass(frozen=True)
class RootOutcome:
    """What deploying one root did. ``kind``:

    - ``started``: started as ``workflow_type`` on ``task_queue``;
    - ``running``: already running this IR (on ``running_queue``), nothing started;
    - ``raced``: started concurrently by another deploy, nothing started;
    - ``other_queue``: running IR ``running_hash`` on ``running_queue``, not the task queue
      deployed to: not upgraded (its tokens are sealed for that queue);
    - ``upgrade``: running IR ``running_hash``, asked to upgrade: see ``upgrade``.
    """

    workflow_id: str
    kind: Literal["started", "running", "raced", "other_queue", "upgrade"]
    workflow_type: str
    task_queue: str
    running_queue: str | None = None
    running_hash: str | None = None
    upgrade: UpgradeOutcome | None = None


async def start_roots(client: Client, roots: list[Root], task_queue: str, ir_hash: str, *,
                      spec: str | None = None, with_problem: bool = True) -> list[RootOutcome]:
    """Start each root unless it already runs; a root running another IR is asked to
    upgrade. With ``spec`` (the deployment's name; the namespace has the swfc search
    attributes) each root starts with them, and hands them down its hierarchy
    (``runtime.search_attributes``); without ``SwfcProblem`` unless ``with_problem``
    (a namespace that has only the other four)."""
    return list(await asyncio.gather(*(_start_root(client, r, task_queue, ir_hash, spec, with_problem)
                                       for r in roots)))


async def _start_root(client: Client, root: Root, task_queue: str, ir_hash: str, spec: str | None,
                      with_problem: bool) -> RootOutcome:
    outcome = RootOutcome(root.workflow_id, "started", root.workflow_type, task_queue)
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
        found = replace(outcome, running_queue=description.task_queue, running_hash=current)
        if current and current != ir_hash and description.task_queue != task_queue:
            return replace(found, kind="other_queue")
        if current and current != ir_hash:
            upgrade = await upgrade_root(handle, current, ir_hash, tokens=root.input["tokens"],
                                         api_bases=root.input["api_bases"])
            return replace(found, kind="upgrade", upgrade=upgrade)
        return replace(found, kind="running")
    attributes = (search_attributes.for_root(root.workflow_id, spec, with_problem=with_problem)
                  if spec is not None else None)
    if not await start_unless_running(client, root.workflow_type, root.input, workflow_id=root.workflow_id,
                                      task_queue=task_queue, memo=root.memo, search_attributes=attributes,
                                      timeout=task_timeout(root.leaf)):
        return replace(outcome, kind="raced")
    return outcome
