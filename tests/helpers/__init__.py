"""Test helpers shared by the runtime and CLI tests (the fixtures are in tests/conftest.py).

- ``new_worker(client, ir)``: an async context manager running a worker for ``ir`` on a
  fresh uuid task queue (``worker.task_queue``), stopped on exit.
- ``assert_eventually(fn, timeout=10)``: poll ``fn`` (sync or async) until it stops raising
  AssertionError / returning False; tests never sleep a fixed time.
- ``compile_spec(*paths)`` / ``compile_text(text, tmp_path)``: the IR dict of a spec, or a
  failed test showing the diagnostics.
- ``copy_specs(dest, api)``: the example specs with 127.0.0.1:8787 replaced by a test API's origin.
- ``free_port()``: a free 127.0.0.1 port (tests never use 7233/8233/8787).
- ``unique(prefix)``: an id no other test uses (workflow ids are ``<Entity>-<id>`` on one
  shared dev server).
- ``run_swfc(*args)`` / ``spawn_swfc(*args)``: the CLI in a subprocess, as a user runs it.
- ``imports_of_command(argv, packages)``: run ``swfc ARGV`` in a fresh interpreter and
  return its exit code and which of ``packages`` it imported (start-up cost, layering).
- ``decoded_payloads(json_node)``: every payload ``data`` of an exported history or
  describe output, base64-decoded (a search of the raw export proves nothing).
- ``gather_bounded(coros, limit=16)``: ``asyncio.gather`` with at most ``limit`` at once
  (the reliability harness and the benches ask thousands of workflows).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def new_worker(client: Any, ir: dict, *, task_queue: str | None = None, **kwargs: Any) -> AsyncIterator[Any]:
    """Run a worker for ``ir`` on ``task_queue`` (default: a fresh uuid queue) while inside."""
    from runtime.worker import build_worker

    worker = build_worker(client, ir, task_queue=task_queue or unique("tq"), **kwargs)
    async with worker:
        yield worker


async def gather_bounded(coros: Iterable[Awaitable[Any]], limit: int = 16) -> list[Any]:
    """`asyncio.gather` with at most `limit` running at once: a poller or an audit should
    not be what overloads a 2-core dev server."""
    sem = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[Any]) -> Any:
        async with sem:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def assert_eventually(fn: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Call ``fn`` until it returns without raising AssertionError and without returning
    False; return its result. At ``timeout`` seconds re-raise the last AssertionError.
    The tests' one polling loop. The default bound is generous for a loaded 2-core machine:
    it returns as soon as the condition holds, so it costs nothing when things work."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
            if inspect.isawaitable(result):
                result = await result
            if result is not False:
                return result
            last = AssertionError(f"{getattr(fn, '__name__', fn)} still returned False after {timeout}s")
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise last
        await asyncio.sleep(interval)


def compile_spec(*paths: str | Path) -> dict:
    """The IR of the given spec files; fails the test with the diagnostics on errors."""
    from compiler import compile_files

    ir, diagnostics = compile_files([str(p) for p in paths])
    errors = [d for d in diagnostics if getattr(d, "severity", "error") == "error"]
    assert ir is not None and not errors, "spec does not compile:\n" + "\n".join(map(str, diagnostics))
    return ir


def compile_text(text: str, directory: Path, name: str = "spec.swf") -> dict:
    """Write ``text`` to ``directory/name`` and compile it."""
    path = Path(directory) / name
    path.write_text(text)
    return compile_spec(path)


def copy_specs(dest: Path, api: Any) -> Path:
    """Copy specs/*.swf into ``dest`` pointing at the test ``api`` (a SampleAPI) instead of
    127.0.0.1:8787 / localhost:8787 (bases and allow lists). Returns ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for spec in SPECS.glob("*.swf"):
        text = re.sub(r"(127\.0\.0\.1|localhost):8787", rf"\g<1>:{api.port}", spec.read_text())
        (dest / spec.name).write_text(text)
    return dest


# -- the CLI in a subprocess -----------------------------------------------------------

_SWFC = "import sys; from cli.main import main; sys.exit(main())"


def swfc_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI subprocess gets: ours, the repo importable, plus ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("TEMPORAL_ADDRESS", None)  # tests pass --address explicitly
    env.update(extra or {})
    return env


def run_swfc(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``swfc ARGS`` to completion; returns the CompletedProcess (text stdout/stderr)."""
    return subprocess.run([sys.executable, "-c", _SWFC, *args], env=swfc_env(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def spawn_swfc(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               log: Path | None = None) -> subprocess.Popen[str]:
    """Start ``swfc ARGS`` in the background (e.g. ``swfc worker``); stop with ``stop_process``.
    With ``log``, its stdout and stderr go to that file instead of pipes (a long-running
    process whose pipes nobody reads stalls once they fill up)."""
    if log is None:
        return subprocess.Popen([sys.executable, "-c", _SWFC, *args], env=swfc_env(env), cwd=cwd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    with open(log, "w") as sink:
        return subprocess.Popen([sys.executable, "-c", _SWFC, *args], env=swfc_env(env), cwd=cwd,
                                stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def stop_process(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[int, str, str]:
    """Ctrl-C the process (SIGINT, as a user would), kill it if it lingers; returns
    (returncode, stdout, stderr)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decoded_payloads(node: Any) -> list[bytes]:
    """Every ``data`` field of an exported history (JSON), base64-decoded; a value that is
    not base64 is kept as it is."""
    out: list[bytes] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "data" and isinstance(value, str):
                try:
                    out.append(base64.b64decode(value, validate=True))
                except ValueError:
                    out.append(value.encode())
            else:
                out += decoded_payloads(value)
    elif isinstance(node, list):
        for item in node:
            out += decoded_payloads(item)
    return out


def imports_of_command(argv: list[str], packages: tuple[str, ...]) -> tuple[int, list[str]]:
    """``swfc ARGV`` run in a fresh interpreter (cwd: the repo): its exit code and the
    modules of ``packages`` it imported."""
    code = (
        "import json, sys\n"
        "from cli.main import main\n"
        f"rc = main({argv!r})\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {packages!r})\n"
        "print(rc, json.dumps(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    rc, bad = out.stdout.splitlines()[-1].split(" ", 1)
    return int(rc), json.loads(bad)
