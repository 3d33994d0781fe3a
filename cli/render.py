"""Rendering diagnostics: text (mypy `--pretty` style), optionally coloured, and JSON.

Stage: the CLI's output end. Takes `Diagnostic`s and the source texts they point into;
gives strings. Data stays apart from rendering: nothing here decides what is an error.
rich is imported only when colour is asked for (a terminal), to keep `swfc validate`'s
start-up small.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dsl.ast import Span
from dsl.diagnostics import Diagnostic

# (text, style) pieces: the plain text is their concatenation; rich gets the styles.
Piece = tuple[str, str]
SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


MAX_SHOWN = 120  # characters of a source line shown around the caret (a 10 MB line stays one screen line)
MAX_MESSAGE = 500  # characters of a message shown (a message can quote a 10 MB name or string)


class Lines:
    """The lines of each file, split once (rendering N diagnostics of a big file must not
    split it N times). Lines end at `\n` only, as the lexer counts them: `splitlines`
    would also break at U+2028, form feeds and the like and show the wrong line."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self.texts = texts
        self.split: dict[str, list[str]] = {}

    def get(self, file: str) -> list[str] | None:
        if file not in self.split:
            text = self.texts.get(file)
            if text is None:
                return None
            self.split[file] = text.split("\n")
        return self.split[file]


def visible(text: str) -> str:
    """`text` with each character a terminal would not show as one printable cell (NUL,
    escapes, other control characters, line separators) replaced by U+FFFD, one for one,
    so that columns stay where they were; a tab becomes a space."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " if c == "\t" else "\ufffd" for c in text)


def clipped(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_lines(span: Span, texts: Mapping[str, str] | Lines) -> list[Piece]:
    """The line `span` starts on, indented, and a `^~~~` under the span; [] if unknown.
    A long line is shown as a window of `MAX_SHOWN` characters around the span."""
    lines = texts.get(span.file) if isinstance(texts, Lines) else Lines(texts).get(span.file)
    if lines is None or span.line < 1 or span.line > len(lines):
        return []
    line = lines[span.line - 1].rstrip()
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(line)
    width = max(end - start, 1)
    if len(line) > MAX_SHOWN:  # a window around the caret, `…` where the line goes on
        lo = max(0, min(start - MAX_SHOWN // 3, len(line) - MAX_SHOWN))
        hi = lo + MAX_SHOWN
        left = "…" if lo else ""
        line = left + line[lo:hi] + ("…" if hi < len(line) else "")
        width = max(min(width, hi - start), 1)
        start += len(left) - lo
    line = visible(line)
    return [("    " + line + "\n", ""),
            ("    " + " " * start + "^" + "~" * (width - 1) + "\n", "bold green")]


def diagnostic_pieces(d: Diagnostic, texts: Mapping[str, str] | Lines) -> list[Piece]:
    """One diagnostic: its header, source line and caret, notes, hint."""
    if not isinstance(texts, Lines):
        texts = Lines(texts)
    pieces: list[Piece] = [(f"{d.span}: ", "bold"), (f"{d.severity}[{d.code}]", SEVERITY_STYLE[d.severity]),
                           (f": {visible(clipped(d.message))}\n", "bold")]
    pieces += source_lines(d.span, texts)
    for note in d.notes:
        pieces += [(f"{note.span}: ", "bold"), ("note", SEVERITY_STYLE["note"]),
                   (f": {visible(clipped(note.message))}\n", "")]
        pieces += source_lines(note.span, texts)
    if d.hint:
        pieces.append((f"    hint: {visible(clipped(d.hint))}\n", "cyan"))
    return pieces


def summary(diags: list[Diagnostic], n_files: int) -> str:
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    return (f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in "
            f"{plural(n_files, 'file')}")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_pieces(diags: Iterable[Diagnostic], texts: Mapping[str, str], n_files: int) -> list[Piece]:
    diags = list(diags)
    pieces: list[Piece] = []
    lines = Lines(texts)
    for d in diags:
        pieces += diagnostic_pieces(d, lines)
    pieces.append((summary(diags, n_files) + "\n", "bold"))
    return pieces


def render_text(diags: Iterable[Diagnostic], texts: Mapping[str, str], n_files: int) -> str:
    """The plain-text report: every diagnostic, then the summary line."""
    return "".join(text for text, _ in render_pieces(diags, texts, n_files))


def print_text(diags, texts, n_files, *, file, color: bool) -> None:
    """Write the text report to `file`, coloured with rich when `color`."""
    pieces = render_pieces(diags, texts, n_files)
    if not color:
        file.write("".join(text for text, _ in pieces))
        return
    from rich.console import Console
    from rich.text import Text

    out = Text()
    for text, style in pieces:
        out.append(text, style=style or None)
    Console(file=file, highlight=False, soft_wrap=True, force_terminal=True).print(out, end="")


def to_json(diags: Iterable[Diagnostic]) -> str:
    """One JSON array of `{file, line, column, end_line, end_column, severity, code, message,
    notes, hint}`: `notes` a list of `{file, line, column, end_line, end_column, message}`
    (what the text shows as `note:` lines, and `swfc lsp` as related information), `hint`
    a string or null."""
    import json

    rows = [{**_where(d.span), "severity": d.severity, "code": d.code, "message": d.message,
             "notes": [{**_where(n.span), "message": n.message} for n in d.notes], "hint": d.hint}
            for d in diags]
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def _where(span: Span) -> dict[str, Any]:
    return {"file": span.file, "line": span.line, "column": span.col, "end_line": span.end_line,
            "end_column": span.end_col}
