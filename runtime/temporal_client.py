"""Connecting to Temporal from the caller's side: TLS files, the client with the deployment's
payload store, and checks that a namespace or workflow exists.

Stage: the first step of every client-side job (``runtime.roots``, ``runtime.status_tree``,
``runtime.tokens``). Takes an address and connection settings (where they come from, flags,
``TEMPORAL_*`` variables or a profile, is the caller's business: ``cli/connection.py``);
gives a ``temporalio.client.Client`` or a typed error of ``runtime.client_errors``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from runtime.client_errors import (NamespaceNotFound, PayloadStoreUnusable, TLSFileUnreadable, Unreachable,
                                   WorkflowNotFound)
from runtime.payloads import PayloadStoreError, external_storage

CONNECT_TIMEOUT = 30.0  # seconds


def tls_config(cert: str | None, key: str | None, ca: str | None, server_name: str | None) -> TLSConfig | None:
    """A ``TLSConfig`` from certificate files (paths) and a server name; None when none is given.

    Raises:
        TLSFileUnreadable when a file cannot be read.
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
        raise TLSFileUnreadable(path, exc.strerror or str(exc)) from None


async def connect(address: str, *, namespace: str = "default", api_key: str | None = None,
                  tls: bool | TLSConfig | None = None, rpc_metadata: Mapping[str, str] | None = None,
                  runtime: Runtime | None = None, payload_store: str | Path | None = None) -> Client:
    """A client for ``address`` whose namespace is known to exist.

    Args:
        tls: None connects with TLS only when ``api_key`` is given.
        payload_store: where payloads too big for history go (``runtime.payloads``); every
            client and worker of a deployment must name the same store.
    Raises:
        Unreachable when there is no connection within ``CONNECT_TIMEOUT``; NamespaceNotFound;
        PayloadStoreUnusable.
    """
    try:
        storage = external_storage(payload_store)
    except PayloadStoreError as exc:
        raise PayloadStoreUnusable(str(exc)) from None
    converter = dataclasses.replace(DataConverter.default, external_storage=storage)
    try:
        client = await asyncio.wait_for(
            Client.connect(address, namespace=namespace, api_key=api_key, tls=tls,
                           rpc_metadata=rpc_metadata or {}, runtime=runtime, data_converter=converter),
            CONNECT_TIMEOUT)
    except Exception as exc:
        raise Unreachable(address, namespace, first_line(exc)) from None
    await _check_namespace(client, address)
    return client


async def _check_namespace(client: Client, address: str) -> None:
    """Fail early and clearly on a namespace the server does not have (a worker would only
    say so from deep inside its start-up)."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise NamespaceNotFound(client.namespace, address) from None
        # Other refusals (an API key that may not describe namespaces): let the real call decide.


async def require_workflow(client: Client, workflow_id: str, address: str) -> Any:
    """The description (``WorkflowExecutionDescription``) of ``workflow_id``.

    Raises:
        WorkflowNotFound; NamespaceNotFound.
    """
    try:
        return await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "namespace" in exc.message.lower():
            raise NamespaceNotFound(client.namespace, address) from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise WorkflowNotFound(workflow_id, client.namespace, address) from None
        raise


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (tonic's transport errors bury the cause in it)."""
    text = str(exc).strip() or type(exc).__name__
    os_message = re.search(r'message: "([^"]+)"', text)
    return os_message.group(1) if os_message else text.splitlines()[0]
