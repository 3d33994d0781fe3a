"""Facts about the IR document that the compiler writes and the runtime reads.

Stage: a pure rule shared by `compiler/` (emits the IR, words schema errors), `runtime/`
(names bad records) and the tests that hand-edit IRs. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any


def ir_hash(ir: dict[str, Any]) -> str:
    """`sha256:` + the hex digest of the compact canonical text of `ir` without `hash`
    (docs/ir.md "Determinism")."""
    body = {k: v for k, v in ir.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_path(parts: Iterable[Any], root: str = "$") -> str:
    """`["listings", 1, "url"]` → `$.listings[1].url`: where a problem is in a JSON value."""
    out = root
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
