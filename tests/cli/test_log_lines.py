"""What the CLI's log lines say: one line each, and for a deadlock where the workflow was."""

from __future__ import annotations

import logging
import sys

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


def test_other_failures_stay_one_line_without_frames():
    try:
        raise ValueError("bad payload\nsecond line")
    except ValueError:
        exc = sys.exc_info()[1]
    line = _OneLine().format(_record(exc))
    assert line == "swfc: error: Failed handling activation on workflow with run ID r-1 (ValueError: bad payload)"
