"""Mutations of `.swf` text, for fuzzing the front end and the compiler.

Shared by `tests/dsl/test_fuzz.py` (driven by hypothesis, which shrinks a failure to a
small case) and `bench/fuzz_validate.py` (driven by a seeded `random.Random`, for speed).
Both hand in a `Chooser`: `choice(seq)` and `integer(lo, hi)` (inclusive).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, Sequence

ROOT = Path(__file__).resolve().parents[2]

KEYWORDS = (
    "api", "entity", "workflow", "deploy", "import", "manages", "base", "auth", "bearer",
    "header", "none", "allow", "timeout", "retry", "times", "backoff", "source", "every",
    "select", "token", "inherit", "child", "autostart", "cancel", "on", "delete",
    "subscribe", "update", "from", "env", "key", "get", "string", "json",
)
PUNCTUATION = ("{", "}", "[", "]", "(", ")", "?", ",", "->", "..", '"', "#", "\\", "-", ">", ".")
ODDITIES = ("\n", " ", "\t", "\x00", "é", "\u2028", "\r", "5", "10s", "5x", "0", "99999999999999999999")
TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+[A-Za-z]*|->|\.\.|\S')


class Chooser(Protocol):
    def choice(self, seq: Sequence): ...

    def integer(self, lo: int, hi: int) -> int: ...


def example_specs() -> dict[str, str]:
    """Every spec under specs/ (including the broken ones), by file name."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").rglob("*.swf"))
            if _is_utf8(p)}


def _is_utf8(path: Path) -> bool:
    try:
        path.read_text(encoding="utf-8")
        return True
    except UnicodeDecodeError:
        return False


# ------------------------------------------------------------------------ operators


def delete_chars(c: Chooser, text: str) -> str:
    i = c.integer(0, len(text))
    return text[:i] + text[i + c.integer(1, 8):]


def insert_chars(c: Chooser, text: str) -> str:
    i = c.integer(0, len(text))
    return text[:i] + c.choice(PUNCTUATION + ODDITIES) + text[i:]


def duplicate_slice(c: Chooser, text: str) -> str:
    i = c.integer(0, len(text))
    j = c.integer(i, min(len(text), i + 60))
    k = c.integer(0, len(text))
    return text[:k] + text[i:j] + text[k:]


def swap_chars(c: Chooser, text: str) -> str:
    if len(text) < 2:
        return text
    i = c.integer(0, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def truncate(c: Chooser, text: str) -> str:
    return text[: c.integer(0, len(text))]


def inject_keyword(c: Chooser, text: str) -> str:
    i = c.integer(0, len(text))
    return text[:i] + c.choice((" ", "\n", "")) + c.choice(KEYWORDS + PUNCTUATION) + " " + text[i:]


def _tokens(text: str) -> list[re.Match]:
    return list(TOKEN_RE.finditer(text))


def delete_token(c: Chooser, text: str) -> str:
    toks = _tokens(text)
    if not toks:
        return text
    m = c.choice(toks)
    return text[: m.start()] + text[m.end():]


def duplicate_token(c: Chooser, text: str) -> str:
    toks = _tokens(text)
    if not toks:
        return text
    m = c.choice(toks)
    return text[: m.end()] + " " + m.group() + text[m.end():]


def swap_tokens(c: Chooser, text: str) -> str:
    toks = _tokens(text)
    if len(toks) < 2:
        return text
    a, b = sorted((c.choice(toks), c.choice(toks)), key=lambda m: m.start())
    if a.start() == b.start():
        return text
    return text[: a.start()] + b.group() + text[a.end(): b.start()] + a.group() + text[b.end():]


def replace_token(c: Chooser, text: str) -> str:
    toks = _tokens(text)
    if not toks:
        return text
    m = c.choice(toks)
    return text[: m.start()] + c.choice(KEYWORDS + PUNCTUATION + ODDITIES) + text[m.end():]


OPERATORS = (
    delete_chars, insert_chars, duplicate_slice, swap_chars, truncate, inject_keyword,
    delete_token, duplicate_token, swap_tokens, replace_token,
)


def mutate(c: Chooser, text: str, rounds: int) -> str:
    """`text` after `rounds` random operators."""
    for _ in range(rounds):
        text = c.choice(OPERATORS)(c, text)
    return text


def position_problems(diags, files: dict[str, str]) -> list[str]:
    """What is wrong with the diagnostics' positions: each must sit inside its file
    (1 <= line <= lines + 1, 1 <= col <= that line's length + 1, lines counted at `\n` as
    the lexer counts them) and end at or after its start."""
    out = []
    split: dict[str, list[str]] = {}
    for d in diags:
        s = d.span
        text = files.get(s.file)
        if text is not None and s.file not in split:
            split[s.file] = text.split("\n")
        lines = split.get(s.file)
        if s.line < 1 or s.col < 1 or (lines is not None and s.line > len(lines) + 1):
            out.append(f"bad start {s} ({lines and len(lines)} lines): {d.message}")
        elif lines is not None and s.line <= len(lines) and s.col > len(lines[s.line - 1]) + 1:
            out.append(f"start {s} past the end of its line ({len(lines[s.line - 1])} "
                       f"characters): {d.message}")
        if (s.end_line, s.end_col) < (s.line, s.col):
            out.append(f"end before start {s}..{s.end_line}:{s.end_col}: {d.message}")
    return out
