"""The runtime-facing commands: ``swfc deploy``, ``swfc worker``, ``swfc status``, ``swfc token set``.

Stage: the CLI above compiler and runtime. Takes parsed arguments (``cli/main.py``) and gives an
exit code: it compiles the spec (``compiler.compile_files``), reads and seals tokens
(``runtime.sealing``), connects to Temporal (``--address``/``TEMPORAL_ADDRESS``, else the
embedded dev server of ``cli/devserver.py``), runs workers (``runtime.worker.build_worker``),
starts the ``deploy`` roots and shows the hierarchy through each workflow's ``status`` query
(docs/runtime.md).

Exit codes: 0 done (or stopped with Ctrl-C, the normal end of a live view), 1 the spec, the
environment or the cluster is not right (a message says what), 2 usage or internal failure.
The temporalio core runtime can abort the interpreter while it exits after the work is done
(``Fatal Python error: PyGILState_Release``, status 134), so these commands end the process
with ``os._exit`` once output is flushed: the status you see is the one swfc meant.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_TASK_QUEUE = "swfc"
QUERY_TIMEOUT = timedelta(seconds=10)  # generous: a busy 2-core machine is still "answering"


class CommandError(Exception):
    """A problem the user can fix; its text is the whole message (no traceback)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- process plumbing ------------------------------------------------------------------


def _run(command: Callable[[Any], Coroutine[Any, Any, int]], args: Any, *, ctrl_c_code: int = 0) -> int:
    """Run an async command to its exit code: messages instead of tracebacks, Ctrl-C and
    SIGTERM end it cleanly, and the process exits with exactly that code."""
    _setup_logging()
    try:
        code = asyncio.run(_interruptible(command(args)))
    except KeyboardInterrupt:
        code = None
    except CommandError as exc:
        _error(str(exc))
        code = exc.code
    except Exception as exc:
        code = _explain(exc)
    if code is None:  # Ctrl-C or SIGTERM: the command has already shut down what it ran
        code = ctrl_c_code
    return _exit(code)


def _explain(exc: Exception) -> int:
    """Report an exception that escaped a command; 1 if Temporal refused, 2 for a bug."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(exc, RPCError) and exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.PERMISSION_DENIED,
                                                    RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.UNAVAILABLE):
        _error(f"Temporal refused the request ({exc.status.name}): {exc.message}")
        return 1
    _error(f"internal error: {type(exc).__name__}: {exc}")  # a bug: say what, briefly
    return 2


async def _interruptible(coro: Coroutine[Any, Any, int]) -> int | None:
    """Run ``coro``; Ctrl-C (asyncio.run cancels the task) or SIGTERM gives None."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    except (NotImplementedError, RuntimeError):
        pass
    try:
        return await coro
    except asyncio.CancelledError:
        return None


def _exit(code: int) -> int:
    """Flush and end the process with ``code``; under pytest (in-process calls) just return it."""
    if "pytest" in sys.modules and not os.environ.get("SWFC_HARD_EXIT"):
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


class _StderrHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (rich's live view swaps it to print above)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _OneLine(logging.Formatter):
    """``swfc: warning: <first line> (<Exception>: <first line>)``: no tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        activity = getattr(record, "temporal_activity", None)
        if isinstance(activity, dict):  # say which workflow, not the whole activity info dict
            text = (f"{re.sub(r' [(][{].*[}][)]$', '', text)} ({activity.get('activity_type')} of "
                    f"{activity.get('workflow_id')}, "
                    f"attempt {activity.get('attempt')})")
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            text += f" ({type(exc).__name__}: {_first_line(exc)})"
        return f"swfc: {record.levelname.lower()}: {text}"


class _Once(logging.Filter):
    """Let a given message through once per ``window`` seconds: a worker retrying a failing
    workflow task (e.g. one of an IR it does not hold) reports it, not a flood."""

    def __init__(self, window: float = 60.0) -> None:
        super().__init__()
        self.window, self.seen = window, {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.getMessage().splitlines()[0] if record.getMessage() else "")
        now = time.monotonic()
        if now - self.seen.get(key, -self.window) < self.window:
            return False
        self.seen[key] = now
        return True


def _setup_logging() -> None:
    """Warnings of temporalio (worker task failures, activity retries) as deduplicated one-liners."""
    root = logging.getLogger()
    if any(isinstance(h, _StderrHandler) for h in root.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(_OneLine())
    handler.addFilter(_Once())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


_RUNTIME = None


def _temporal_runtime() -> Any:
    """One temporalio core runtime whose own (Rust) log lines are errors only; the Python
    side already reports the same events through ``_setup_logging``."""
    global _RUNTIME
    if _RUNTIME is None:
        from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

        _RUNTIME = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))
    return _RUNTIME


def _error(message: str) -> None:
    print(f"swfc: error: {message}", file=sys.stderr)


def _say(message: str) -> None:
    print(message, flush=True)


# -- options ---------------------------------------------------------------------------


def _opt(args: Any, name: str, default: Any = None) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value


def _spec_paths(args: Any) -> list[str]:
    value = _opt(args, "file") or _opt(args, "files") or _opt(args, "spec")
    return [value] if isinstance(value, str) else list(value or [])


def _address(args: Any) -> str | None:
    return _opt(args, "address") or os.environ.get("TEMPORAL_ADDRESS") or None


def _address_or_embedded(args: Any) -> str:
    """``--address``, else ``TEMPORAL_ADDRESS``, else where ``swfc deploy`` runs its dev server."""
    from cli.devserver import DEFAULT_IP, DEFAULT_PORT

    return _address(args) or f"{DEFAULT_IP}:{os.environ.get('SWFC_DEV_PORT') or DEFAULT_PORT}"


def _namespace(args: Any) -> str:
    return _opt(args, "namespace") or os.environ.get("TEMPORAL_NAMESPACE") or "default"


async def connect(args: Any, address: str) -> Any:
    """A client for ``address`` with namespace, TLS and API key as Temporal's CLI takes them:
    ``--namespace``/``TEMPORAL_NAMESPACE``, ``--api-key``/``TEMPORAL_API_KEY``, ``--tls`` (or
    ``TEMPORAL_TLS=true``; implied by an API key), ``--tls-cert-path``/``--tls-key-path``/
    ``--tls-ca-path``/``--tls-server-name`` (or their ``TEMPORAL_TLS_*`` variables)."""
    from temporalio.client import Client
    from temporalio.service import TLSConfig

    namespace = _namespace(args)
    api_key = _opt(args, "api_key") or os.environ.get("TEMPORAL_API_KEY") or None
    tls: bool | TLSConfig | None = None  # None: TLS when an API key is given
    files = {name: _opt(args, f"tls_{name}_path") or os.environ.get(f"TEMPORAL_TLS_{name.upper()}")
             for name in ("cert", "key", "ca")}
    server_name = _opt(args, "tls_server_name") or os.environ.get("TEMPORAL_TLS_SERVER_NAME")
    if any(files.values()) or server_name:
        tls = TLSConfig(client_cert=_read(files["cert"]), client_private_key=_read(files["key"]),
                        server_root_ca_cert=_read(files["ca"]), domain=server_name)
    elif _opt(args, "tls") or os.environ.get("TEMPORAL_TLS", "").lower() in ("1", "true", "yes"):
        tls = True
    try:
        client = await asyncio.wait_for(
            Client.connect(address, namespace=namespace, api_key=api_key, tls=tls,
                           runtime=_temporal_runtime()), 30)
    except Exception as exc:
        raise CommandError(f"cannot reach Temporal at {address} (namespace {namespace}): "
                           f"{_first_line(exc)}. Is the server running? Pass --address HOST:PORT "
                           f"or set TEMPORAL_ADDRESS.") from None
    await _check_namespace(client, address)
    return client


async def _check_namespace(client: Any, address: str) -> None:
    """Fail early and clearly on a namespace the server does not have (a worker would only
    say so from deep inside its start-up)."""
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError, RPCStatusCode

    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CommandError(f"namespace {client.namespace} does not exist on {address}") from None
        # Other refusals (an API key that may not describe namespaces): let the real call decide.


def _read(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read TLS file {path}: {exc.strerror}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    os_message = re.search(r'message: "([^"]+)"', text)  # tonic's transport errors bury the cause
    return os_message.group(1) if os_message else text.splitlines()[0]


# -- compile ---------------------------------------------------------------------------


def load_ir(paths: list[str]) -> dict:
    """Compile the spec; diagnostics go to stderr as ``swfc validate`` shows them.

    Raises:
        CommandError when the spec has errors or the IR does not match its schema.
    """
    from compiler import compile_files

    if not paths:
        raise CommandError("no spec file given", code=2)
    ir, diagnostics = compile_files(paths)
    if diagnostics:
        _print_diagnostics(diagnostics, len(paths))
    if ir is None or any(d.severity == "error" for d in diagnostics):
        raise CommandError(f"{paths[0]} has errors; nothing was deployed")
    from compiler.validate import json_path, validator

    problem = next(iter(validator().iter_errors(ir)), None)
    if problem is not None:
        raise CommandError(f"internal error: the IR does not match its schema at "
                           f"{json_path(problem.absolute_path)}: {problem.message}", code=2)
    return ir


def _print_diagnostics(diagnostics: list, n_files: int) -> None:
    texts: dict[str, str] = {}
    for d in diagnostics:
        for span in [d.span, *(n.span for n in d.notes)]:
            if span.file not in texts:
                try:
                    texts[span.file] = Path(span.file).read_text(encoding="utf-8")
                except OSError:
                    pass
    try:
        from cli.render import print_text

        print_text(diagnostics, texts, n_files, file=sys.stderr, color=sys.stderr.isatty())
    except ImportError:
        for d in diagnostics:
            print(f"{d.span}: {d.severity}[{d.code}]: {d.message}", file=sys.stderr)


# -- deploy roots ----------------------------------------------------------------------


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


def seal_key() -> bytes:
    """The seal key (``SWFC_SEAL_KEY``, else ``.swfc/seal.key``); says so when it has to make one,
    since every worker and every ``swfc deploy``/``token set`` of a deployment must share it."""
    from runtime.sealing import DEFAULT_KEY_PATH, SEAL_KEY_ENV, SealError, load_key

    fresh = not os.environ.get(SEAL_KEY_ENV) and not DEFAULT_KEY_PATH.exists()
    try:
        key = load_key()
    except SealError as exc:
        raise CommandError(str(exc)) from None
    if fresh:
        print(f"swfc: note: created a new seal key in {DEFAULT_KEY_PATH}; workers elsewhere need the "
              f"same key (copy the file, or set {SEAL_KEY_ENV} to its content)", file=sys.stderr)
    return key


def prepare_roots(ir: dict, environ: dict[str, str]) -> list[Root]:
    """The roots of ``ir['deployments']`` with their tokens read from ``environ`` and sealed.

    Raises:
        CommandError naming every missing or empty token variable (never a token).
    """
    missing = [(dep, api, ref["env"]) for dep in ir["deployments"]
               for api, ref in sorted(dep["tokens"].items()) if not environ.get(ref["env"])]
    if missing:
        lines = [f"  ${var}: the {api} token of {dep['workflow']} \"{dep['id']}\" ({dep['workflow_id']})"
                 for dep, api, var in missing]
        names = ", ".join(sorted({var for _, _, var in missing}))
        raise CommandError("missing token environment variable(s) " + names + ":\n" + "\n".join(lines)
                           + "\nexport them (e.g. `export " + missing[0][2] + "=...`) and deploy again")
    bases = api_bases(ir, environ)
    key = seal_key() if any(dep["tokens"] for dep in ir["deployments"]) else None
    return [_root(ir, dep, environ, bases, key) for dep in ir["deployments"]]


def _root(ir: dict, dep: dict, environ: dict[str, str], bases: dict[str, str], key: bytes | None) -> Root:
    from runtime.sealing import seal

    tokens = {api: seal(api, environ[ref["env"]], key=key) for api, ref in sorted(dep["tokens"].items())}
    workflow_input = {"ir_hash": ir["hash"], "entity_id": dep["id"], "data": None, "tokens": tokens,
                      "api_bases": bases, "ancestors": [], "subscribers": [], "carried": None}
    memo = {"entity": ir["workflows"][dep["workflow"]]["entity"], "id": dep["id"]}
    return Root(dep["workflow_id"], dep["workflow"], workflow_input, memo)


def base_warnings(ir: dict, environ: dict[str, str]) -> list[str]:
    """Overridden bases whose origin is not in the api's ``allow`` list (tokens won't go there)."""
    from runtime.ir import origin_of

    out = []
    for name, base in api_bases(ir, environ).items():
        api = ir["apis"][name]
        if base != api["base"] and api["auth"]["scheme"] != "none" and origin_of(base) not in api["allow"]:
            out.append(f"warning: ${api['base_env']}={base} is not in api {name}'s allow list "
                       f"({', '.join(api['allow'])}): its token will not be sent there")
    return out


async def running_ir_hash(handle: Any) -> str | None:
    """The ``ir_hash`` the current run of a workflow was started with (from its first event)."""
    async for event in handle.fetch_history_events():
        payloads = event.workflow_execution_started_event_attributes.input.payloads
        try:
            return json.loads(payloads[0].data).get("ir_hash") if payloads else None
        except (ValueError, AttributeError):
            return None
    return None


async def start_roots(client: Any, roots: list[Root], task_queue: str, ir_hash: str) -> list[str]:
    """Start each root unless it already runs; returns one line per root saying what happened."""
    return list(await asyncio.gather(*(_start_root(client, r, task_queue, ir_hash) for r in roots)))


async def _start_root(client: Any, root: Root, task_queue: str, ir_hash: str) -> str:
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(root.workflow_id)
    try:
        description = await handle.describe()
        running = description.status == WorkflowExecutionStatus.RUNNING
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        running = False
    if running:
        current = await running_ir_hash(handle)
        queue = description.task_queue
        elsewhere = f" on task queue {queue} (workers here poll {task_queue})" if queue != task_queue else ""
        if current and current != ir_hash:
            return (f"{root.workflow_id}: already running{elsewhere} with IR {_short(current)}; this "
                    f"spec is {_short(ir_hash)}. It keeps the IR it was started with (nothing started).")
        return f"{root.workflow_id}: already running{elsewhere} (nothing started)"
    try:
        await client.start_workflow(
            root.workflow_type, root.input, id=root.workflow_id, task_queue=task_queue, memo=root.memo,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        return f"{root.workflow_id}: already running (started concurrently; nothing started)"
    return f"{root.workflow_id}: started ({root.workflow_type}, task queue {task_queue})"


def _short(ir_hash: str) -> str:
    return ir_hash[:19] + "…" if len(ir_hash) > 20 else ir_hash


# -- the status tree -------------------------------------------------------------------


async def collect_status(client: Any, workflow_id: str, *, concurrency: int = 32) -> dict:
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


_FIELDS = ("workflow_id", "workflow_type", "entity", "id", "status", "loaded", "last_error",
           "api_url", "tokens", "children")


def _shape(wid: str, status: dict) -> dict:
    out = {k: status.get(k) for k in _FIELDS}
    out["workflow_id"] = out["workflow_id"] or wid
    out["loaded"] = bool(out["loaded"])
    out["tokens"] = dict(out["tokens"] or {})
    return out


def _unreachable(wid: str, exc: Exception) -> dict:
    entity, _, key = wid.partition("-")
    reason = _first_line(exc)
    if "not found" in reason.lower():
        reason = "not started yet (or not found)"
    elif "timeout" in reason.lower() or "deadline" in reason.lower():
        reason = "no worker answered the status query (is a worker running on its task queue?)"
    return {"workflow_id": wid, "workflow_type": None, "entity": entity or None, "id": key or None,
            "status": "unreachable", "loaded": False, "last_error": reason, "api_url": None,
            "tokens": {}, "children": []}


def walk(tree: dict):
    yield tree
    for child in tree["children"]:
        yield from walk(child)


def not_loaded(trees: list[dict]) -> list[dict]:
    return [n for t in trees for n in walk(t) if not n["loaded"]]


def render_tree(tree: dict, label: Any = None) -> Any:
    """A rich ``Tree`` of a status object: id, type, status, loaded, tokens, last error."""
    from rich.tree import Tree

    def add(parent: Any, node: dict) -> None:
        branch = parent.add(_node_label(node))
        for child in node["children"]:
            add(branch, child)

    root = Tree(label) if label is not None else None
    if root is None:
        root = Tree(_node_label(tree))
        for child in tree["children"]:
            add(root, child)
    else:
        add(root, tree)
    return root


_STATUS_STYLE = {"running": "green", "loading": "cyan", "waiting_for_token": "yellow",
                 "error": "red", "deleted": "dim", "unreachable": "red"}


def _node_label(node: dict) -> Any:
    from rich.text import Text

    text = Text()
    text.append(node["workflow_id"], style="bold")
    if node["workflow_type"]:
        text.append(f" {node['workflow_type']}", style="dim")
    text.append(f"  {node['status'] or '?'}", style=_STATUS_STYLE.get(node["status"], ""))
    text.append("  loaded" if node["loaded"] else "  not loaded", style="" if node["loaded"] else "yellow")
    held = {api: fp for api, fp in sorted(node["tokens"].items()) if fp}
    for api, fp in held.items():
        text.append(f"  {api} {fp}", style="magenta")
    if not held and node["status"] != "unreachable":
        text.append("  no tokens", style="dim")
    if node["last_error"]:
        text.append(f"\n  last error: {node['last_error']}", style="red")
    return text


def summary_lines(trees: list[dict]) -> list[str]:
    """One line per workflow that has not loaded, saying why (for ``--until-loaded``)."""
    lines = []
    for node in not_loaded(trees):
        why = node["last_error"] or f"status {node['status']}"
        lines.append(f"  {node['workflow_id']} ({node['workflow_type'] or '?'}): {node['status']}: {why}")
    return lines


def _console(file: Any = None) -> Any:
    from rich.console import Console

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120  # piped or captured: don't wrap at rich's 80-column default
    return console


# -- commands --------------------------------------------------------------------------


def run_deploy(args: Any) -> int:
    return _run(_deploy, args)


def run_worker(args: Any) -> int:
    return _run(_worker, args)


def run_status(args: Any) -> int:
    return _run(_status, args, ctrl_c_code=130)


def run_token_set(args: Any) -> int:
    return _run(_token_set, args, ctrl_c_code=130)


async def _deploy(args: Any) -> int:
    ir = load_ir(_spec_paths(args))
    environ = dict(os.environ)
    if not ir["deployments"]:
        raise CommandError(f"nothing to deploy: {_spec_paths(args)[0]} has no `deploy` block "
                           f"(to serve workflows started elsewhere, run `swfc worker`)")
    roots = prepare_roots(ir, environ)  # before any connection: a missing token fails fast
    for warning in base_warnings(ir, environ):
        print(warning, file=sys.stderr)
    task_queue = _opt(args, "task_queue", DEFAULT_TASK_QUEUE)
    server = None
    address = _address(args)
    if address is None:
        from cli.devserver import DevServerError, EmbeddedServer

        server = EmbeddedServer(namespace=_namespace(args))
        try:
            address = await server.start(say=_say)
        except DevServerError as exc:
            raise CommandError(str(exc)) from None
    try:
        client = await connect(args, address)
        if server is not None and server.ui_url:
            for root in roots:
                _say(f"  {root.workflow_id}: {server.ui_url}/namespaces/{client.namespace}/workflows/"
                     f"{root.workflow_id}")
        worker = None if _opt(args, "no_worker") else _build_worker(client, ir, task_queue)
        if worker is None:
            return await _deploy_roots(args, client, ir, roots, task_queue)
        async with worker:
            _say(f"worker on task queue {task_queue} for IR {_short(ir['hash'])}")
            return await _deploy_roots(args, client, ir, roots, task_queue)
    finally:
        if server is not None:
            server.stop()


async def _deploy_roots(args: Any, client: Any, ir: dict, roots: list[Root], task_queue: str) -> int:
    for line in await start_roots(client, roots, task_queue, ir["hash"]):
        _say(line)
    ids = [r.workflow_id for r in roots]
    if _opt(args, "until_loaded"):
        return await _until_loaded(client, ids, float(_opt(args, "timeout", 120)))
    if _opt(args, "no_worker"):
        return 0
    await _live_view(client, ids)
    return 0


def _build_worker(client: Any, ir: dict, task_queue: str) -> Any:
    try:
        from runtime.worker import build_worker
    except ImportError as exc:
        raise CommandError(f"the runtime is not available: {exc}", code=2) from None
    return build_worker(client, ir, task_queue=task_queue, seal_key=seal_key())


async def _until_loaded(client: Any, ids: list[str], timeout: float) -> int:
    """Poll the hierarchy until every workflow has loaded (0) or ``timeout`` passes (1)."""
    deadline = time.monotonic() + timeout
    while True:
        trees = list(await asyncio.gather(*(collect_status(client, wid) for wid in ids)))
        pending = not_loaded(trees)
        if not pending:
            count = sum(1 for t in trees for _ in walk(t))
            _say(f"loaded: all {count} workflows of the hierarchy have loaded")
            _print_trees(trees)
            return 0
        if time.monotonic() >= deadline:
            _print_trees(trees)
            print(f"swfc: not loaded after {timeout:g}s: {len(pending)} workflow(s):", file=sys.stderr)
            print("\n".join(summary_lines(trees)), file=sys.stderr)
            return 1
        await asyncio.sleep(0.5)


def _print_trees(trees: list[dict]) -> None:
    console = _console()
    for tree in trees:
        console.print(render_tree(tree))


async def _live_view(client: Any, ids: list[str]) -> None:
    """The live hierarchy until Ctrl-C: redrawn in a terminal, reprinted on change otherwise."""
    from rich.console import Group
    from rich.live import Live

    console = _console()
    hint = "[dim]Ctrl-C to stop[/dim]"
    if not console.is_terminal:
        last = None
        while True:
            trees = list(await asyncio.gather(*(collect_status(client, wid) for wid in ids)))
            if trees != last:
                _print_trees(trees)
                last = trees
            await asyncio.sleep(1)
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            trees = list(await asyncio.gather(*(collect_status(client, wid) for wid in ids)))
            live.update(Group(*(render_tree(t) for t in trees), hint))
            await asyncio.sleep(1)


async def _worker(args: Any) -> int:
    ir = load_ir(_spec_paths(args))
    address = _address_or_embedded(args)
    client = await connect(args, address)
    task_queue = _opt(args, "task_queue", DEFAULT_TASK_QUEUE)
    worker = _build_worker(client, ir, task_queue)
    _say(f"worker on {address}, task queue {task_queue}, IR {_short(ir['hash'])} (Ctrl-C to stop)")
    try:
        await worker.run()
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    return 0


async def _status(args: Any) -> int:
    wid = _opt(args, "workflow_id")
    address = _address_or_embedded(args)
    client = await connect(args, address)
    await _require_workflow(client, wid, address)
    tree = await collect_status(client, wid)
    if _opt(args, "format") == "json":
        print(json.dumps(tree, indent=2, ensure_ascii=False))
    else:
        _console().print(render_tree(tree))
    return 0


async def _require_workflow(client: Any, wid: str, address: str) -> Any:
    from temporalio.service import RPCError, RPCStatusCode

    handle = client.get_workflow_handle(wid)
    try:
        return await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and "namespace" in exc.message.lower():
            raise CommandError(f"namespace {client.namespace} does not exist on {address}") from None
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CommandError(f"no workflow {wid} on {address} (namespace {client.namespace})") from None
        raise


async def _token_set(args: Any) -> int:
    from runtime.sealing import SEAL_KEY_ENV, SealError, load_key, seal

    wid, api, var = _opt(args, "workflow_id"), _opt(args, "api"), _opt(args, "from_env")
    token = os.environ.get(var or "")
    if not token:
        raise CommandError(f"environment variable {var} is not set or empty (swfc reads tokens from "
                           f"the environment only, never from the command line)")
    try:  # the workers' key: a fresh one made here would seal a token no worker can open
        key = load_key(create=False)
    except SealError as exc:
        raise CommandError(f"{exc}: run where `swfc deploy` created .swfc/seal.key, or set "
                           f"{SEAL_KEY_ENV} to the key the workers use") from None
    sealed = seal(api, token, key=key)
    address = _address_or_embedded(args)
    client = await connect(args, address)
    await _require_workflow(client, wid, address)
    handle = client.get_workflow_handle(wid)
    held = await _query_or_none(handle, "apiToken", timeout=timedelta(seconds=15))
    if held is None:
        print(f"swfc: warning: {wid} did not answer the apiToken query; sending the token anyway "
              f"(a workflow that does not use api {api} will refuse it)", file=sys.stderr)
    elif api not in held:
        apis = ", ".join(sorted(held)) or "none"
        raise CommandError(f"{wid} holds no token for api {api} (its apis: {apis})")
    await handle.signal("apiToken", sealed)
    _say(f"{wid}: {api} token set to {sealed['fingerprint']}; it cascades to the workflows below "
         f"that need it")
    return 0


async def _query_or_none(handle: Any, name: str, timeout: timedelta = QUERY_TIMEOUT) -> Any:
    try:
        return await handle.query(name, rpc_timeout=timeout)
    except Exception:
        return None
