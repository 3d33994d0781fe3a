"""The members' records the scale benchmarks serve (`bench/scale.py`) or hold (`bench/big_parent.py`)."""

from __future__ import annotations

# What an issue tracker's bodies hold: markdown with line breaks, quotes, backslashes and
# non-ASCII text, each of which JSON escapes (a body of `x`s is the cheapest text to encode).
PROSE = ('## Steps to reproduce\n1. Run `swfc deploy --from "specs/"` on Windows (C:\\Users\\é)\n'
         '2. Expected “it works” — got a 500 🙁. Müller wrote: "see the log" ¯\\_(ツ)_/¯\n'
         '```\n{"error": "timeout", "path": "/api/v2/tickets?page=2"}\n```\n日本語のテキスト, ελληνικά.\n\n')


def bio(rid: str, record_bytes: int, prose: bool) -> str:
    """A member's `bio` of about `record_bytes` UTF-8 bytes: `x`s, or `PROSE` over and over."""
    if not prose:
        return "x" * record_bytes
    text = f"{rid}: " + PROSE * (record_bytes // len(PROSE.encode()) + 1)
    return text.encode()[:record_bytes].decode(errors="ignore")
