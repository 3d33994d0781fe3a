"""Comments: the `# ...` text that the parse drops, collected for the formatter.

Stage: a side pass beside `dsl.parser`, run only by `swfc fmt` (the normal parse never
pays for it). Takes the text of a file that parses cleanly; gives its comments in source
order as `Comment(line, col, text)`, with the same 1-based line and column that the AST's
spans use.

One regular-expression scan is enough, because in this grammar a `#` is either inside a
STRING or starts a COMMENT, and a `"` is either inside a COMMENT or starts a STRING: taking
the leftmost match of the two terminals' own patterns reads the file as Lark's lexer
does. (tests/dsl/test_format.py checks this against Lark's COMMENT tokens.)
"""

from __future__ import annotations

import re
from typing import NamedTuple

# STRING and COMMENT exactly as grammar.lark defines them; only COMMENT is kept.
_SCAN = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|(#[^\n]*)')

# Trailing whitespace a comment loses: an editor's stray blanks, or the CR of a CRLF file.
_TRAILING = " \t\r\f\v"


class Comment(NamedTuple):
    """A comment at 1-based `line` and `col`; `text` starts with `#`, trailing blanks dropped.
    Tuples order by position, as the AST's spans do."""

    line: int
    col: int
    text: str


def collect(text: str) -> list[Comment]:
    """The comments of `text`, in source order.

    Args:
        text: a file's contents, as given to `dsl.parse` (a leading BOM is skipped as
            the parser skips it).
    Returns:
        one `Comment` per `# ...`, outside strings.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    found: list[Comment] = []
    line, line_start, counted = 1, 0, 0
    for match in _SCAN.finditer(text):
        if match.group(1) is None:
            continue  # a string: a `#` inside it is no comment
        pos = match.start()
        newlines = text.count("\n", counted, pos)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", counted, pos) + 1
        counted = pos
        found.append(Comment(line, pos - line_start + 1, match.group(1).rstrip(_TRAILING)))
    return found
