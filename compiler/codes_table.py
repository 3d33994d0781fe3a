"""The README's "Diagnostic codes" table, generated from `dsl.diagnostics.CODES`.

`python -m compiler.codes_table` prints it; `--write README.md` puts it into the file's
"## Diagnostic codes" section (replacing the table there, keeping the prose above it).
A test checks that README.md contains exactly this text, so the two never drift.
"""

from __future__ import annotations

import sys

from dsl.diagnostics import CODES

SECTION = "## Diagnostic codes"


def table() -> str:
    """The markdown table: code, severity, meaning; one row per registered code."""
    rows = ["| Code | Severity | Meaning |", "|------|----------|---------|"]
    for c in CODES.values():
        summary = c.summary.replace("|", "\\|")
        rows.append(f"| `{c.code}` | {c.severity} | {summary} |")
    return "\n".join(rows) + "\n"


def write(path: str) -> None:
    """Replace the table in `path`'s codes section (the rows starting with `|`)."""
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    start = lines.index(SECTION) + 1
    end = start
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    body = [line for line in lines[start:end] if not line.startswith("|")]
    while body and not body[-1].strip():
        body.pop()
    new = lines[:start] + body + [""] + table().rstrip("\n").split("\n") + [""] + lines[end:]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(new).rstrip("\n") + "\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        write(sys.argv[2] if len(sys.argv) > 2 else "README.md")
    else:
        sys.stdout.write(table())
