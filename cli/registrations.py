"""Registrations kept on disk: every IR a `deploy` or `worker` ran, by hash.

Stage: CLI plumbing between the compiler's IR and `runtime.worker.build_worker`.
Workflows carry the `ir_hash` they started with and are only ever interpreted under it
(replay safety). After an edit to the spec, a fresh worker process would hold only the
new IR, and every workflow started under the old one would be stuck: each of its
workflow tasks fails until some worker holds that hash. So each worker also serves the
IRs this directory has run before, kept in `.swfc/registrations/<hex>.json` beside the
seal key and the embedded server's database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REGISTRATIONS_DIR = Path(".swfc") / "registrations"


def _path(ir_hash: str, directory: Path) -> Path:
    return directory / (ir_hash.removeprefix("sha256:") + ".json")


def remember(ir: dict, directory: Path = REGISTRATIONS_DIR) -> None:
    """Keep `ir` (atomically: a reader never sees half a file)."""
    path = _path(ir["hash"], directory)
    if path.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ir, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def earlier(ir: dict, directory: Path = REGISTRATIONS_DIR) -> list[dict]:
    """Every kept IR but `ir` itself that still matches the IR schema, oldest first.

    A file that does not parse or match, or whose hash is not its content's (or its name's),
    is skipped: it can only hold workflows that no
    worker could run anyway, and it must not stop this worker from serving the rest.
    """
    from compiler.validate import is_valid_ir
    from rules.ir import ir_hash

    if not directory.is_dir():
        return []
    kept = []
    for path in sorted(directory.glob("*.json"), key=lambda p: p.stat().st_mtime):
        if path == _path(ir["hash"], directory):
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        # Registered under its hash, so the hash must be the content's: a file whose hash was
        # edited would otherwise serve a spec under another registration's name.
        if is_valid_ir(doc) and doc.get("hash") == ir_hash(doc) and path == _path(doc["hash"], directory):
            kept.append(doc)
    return kept
