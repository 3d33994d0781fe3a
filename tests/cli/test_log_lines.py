"""What the CLI's log lines say: one line each, and for a deadlock where the workflow was."""

from __future__ import annotations

import logging
import sys
import threading

from temporalio.worker._workflow import _DeadlockError

from cli.process import _OneLine


def _hashes_every_record(secret: str) -> None:
    raise RuntimeError(f"[TMPRL1101] Potential deadlock detected: workflow didn't yield within 2 second(s). {secret}")


def _record(exc: BaseException) -> logging.LogRecord:
    return logging.LogRecord("temporalio.worker._workflow", logging.ERROR, __file__, 1,
                             "Failed handling activation on workflow with run ID %s", ("r-1",), (type(exc), exc, exc.__traceback__))


def test_a_deadlock_says_where_the_workflow_was_and_nothing_it_held():
    try:
        _hashes_every_record("\nsecret-token-value")
    except RuntimeError:
        exc = sys.exc_info()[1]
    line = _OneLine().format(_record(exc))
    assert line.startswith("swfc: error: Failed handling activation on workflow with run ID r-1 (RuntimeError: [TMPRL1101]")
    assert "in test_log_lines.py:" in line and "_hashes_every_record <" in line
    assert "\n" not in line and "secret-token-value" not in line


def _busy_in_a_round(stop: threading.Event) -> None:
    stop.wait()


def test_a_deadlock_as_the_sdk_reports_it_names_the_innermost_frames_of_the_workflow_thread():
    stop = threading.Event()
    thread = threading.Thread(target=_busy_in_a_round, args=(stop,))
    thread.start()
    try:
        # What the SDK's worker raises when an activation passes 2 s: the thread's stack, swapped in.
        exc = _DeadlockError("[TMPRL1101] Potential deadlock detected: workflow didn't yield within 2 second(s).",
                             _DeadlockError._gen_tb_helper(thread.ident))
        exc.swap_traceback()
    finally:
        stop.set()
        thread.join()
    line = _OneLine().format(_record(exc))
    where = line.split(") in ", 1)[1].split(" < ")
    # Innermost first: Condition.wait, Event.wait, then the workflow's own code.
    assert [w.rsplit(" ", 1)[1] for w in where[:3]] == ["wait", "wait", "_busy_in_a_round"]


def test_other_failures_stay_one_line_without_frames():
    try:
        raise ValueError("bad payload\nsecond line")
    except ValueError:
        exc = sys.exc_info()[1]
    line = _OneLine().format(_record(exc))
    assert line == "swfc: error: Failed handling activation on workflow with run ID r-1 (ValueError: bad payload)"
