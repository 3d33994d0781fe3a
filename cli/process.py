"""How a runtime command runs as a process: messages instead of tracebacks, one-line log
warnings, Ctrl-C and SIGTERM, and the exit status.

Stage: the CLI's plumbing under ``cli/runtime_cmds.py``. Takes an async command and its
arguments (``run``); gives the exit code the process ends with. A ``ClientError`` of the
runtime (worded by ``cli/problems.py``) or the CLI's ``CommandError`` is printed as
``swfc: error: <text>`` and ends the process with 1 (or the ``CommandError``'s code); Temporal
refusing a request gives 1, anything else is an internal error (2). The temporalio core
runtime can abort the interpreter while it exits after the work is done (``Fatal Python
error: PyGILState_Release``, status 134), so the process ends with ``os._exit`` once output
is flushed: the status you see is the one swfc meant.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from cli import problems
from runtime.client_errors import ClientError
from runtime.temporal_client import first_line


class CommandError(ClientError):
    """A problem the user can fix; its text is the whole message (no traceback)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def run(command: Callable[[Any], Coroutine[Any, Any, int]], args: Any, *, ctrl_c_code: int = 0) -> int:
    """Run an async command to its exit code: messages instead of tracebacks, Ctrl-C and
    SIGTERM end it cleanly, and the process exits with exactly that code."""
    _setup_logging()
    try:
        code = asyncio.run(_interruptible(command(args)))
    except KeyboardInterrupt:
        code = None
    except ClientError as exc:
        error(problems.message(exc))
        code = problems.exit_code(exc)
    except Exception as exc:
        code = _explain(exc)
    if code is None:  # Ctrl-C or SIGTERM: the command has already shut down what it ran
        code = ctrl_c_code
    return exit_process(code)


def _explain(exc: Exception) -> int:
    """Report an exception that escaped a command; 1 if Temporal refused, 2 for a bug."""
    from temporalio.service import RPCError, RPCStatusCode

    if isinstance(exc, RPCError) and exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.PERMISSION_DENIED,
                                                    RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.UNAVAILABLE):
        error(f"Temporal refused the request ({exc.status.name}): {exc.message}")
        return 1
    error(f"internal error: {type(exc).__name__}: {exc}")  # a bug: say what, briefly
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


def exit_process(code: int) -> int:
    """Flush and end the process with ``code``, skipping the interpreter's teardown that the
    temporalio core runtime can abort (status 134); under pytest (in-process calls) just return
    it. For any script that used a Temporal client (the bench scripts too)."""
    if "pytest" in sys.modules and not os.environ.get("SWFC_HARD_EXIT"):
        return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def error(message: str) -> None:
    print(f"swfc: error: {message}", file=sys.stderr)


def note(message: str) -> None:
    print(f"swfc: note: {message}", file=sys.stderr)


def warn(message: str) -> None:
    print(f"swfc: warning: {message}", file=sys.stderr)


# -- logging -------------------------------------------------------------------------------


class _StderrHandler(logging.Handler):
    """Writes to the current ``sys.stderr`` (rich's live view swaps it to print above)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _OneLine(logging.Formatter):
    """``swfc: warning: <first line> (<Exception>: <first line>)``: no tracebacks (for a
    deadlock, where the workflow's thread was: its innermost frames)."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage().splitlines()[0] if record.getMessage() else ""
        activity = getattr(record, "temporal_activity", None)
        if isinstance(activity, dict):  # say which workflow, not the whole activity info dict
            text = (f"{re.sub(r' [(][{].*[}][)]$', '', text)} ({activity.get('activity_type')} of "
                    f"{activity.get('workflow_id')}, "
                    f"attempt {activity.get('attempt')})")
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            text += f" ({type(exc).__name__}: {first_line(exc)})"
            if DEADLOCK in str(exc):
                text += f" in {_innermost(exc)}"
        return f"swfc: {record.levelname.lower()}: {text}"


DEADLOCK = "TMPRL1101"  # the SDK's deadlock detector: its exception carries the workflow thread's stack


def _innermost(exc: BaseException, frames: int = 5) -> str:
    """Where a deadlocked workflow's thread was: its innermost frames as `file:line function`,
    innermost first (names and places only: never a value)."""
    stack = traceback.extract_tb(exc.__traceback__)
    # The SDK builds the thread's traceback innermost first, down to threading's `_bootstrap`;
    # Python's own order is outermost first.
    if not (stack and stack[-1].name == "_bootstrap"):
        stack.reverse()
    return " < ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in stack[:frames]) or "(no frames)"


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


def temporal_runtime() -> Any:
    """One temporalio core runtime whose own (Rust) log lines are errors only; the Python
    side already reports the same events through ``_setup_logging``."""
    global _RUNTIME
    if _RUNTIME is None:
        from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

        _RUNTIME = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))
    return _RUNTIME
