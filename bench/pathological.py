"""Pathological inputs through `swfc validate`, run as a user runs it (a subprocess).

Usage: python bench/pathological.py [--small]

Each case writes its input into a fresh temporary directory (10 MB files, 5,000-deep
nesting, binary garbage, a 50-file import cycle, a directory, a symlink loop, ...), runs
`swfc validate --format json` on it with a time limit, and checks that it was answered the
documented way: the expected exit status, only the expected codes (at least one unless the
input is a valid spec), every finding at a line and column inside its file, no traceback.
Prints one row per case (codes, exit status, seconds); exits 1 if any case is not ok.

`run_pathological(full)` is the same as a function (bench/reliability.py imports it):
`full=False` uses 1 MB instead of 10 MB and 100k lines instead of 1M, for a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.compiler.pathological_specs import API, hierarchy_spec  # noqa: E402
from tests.helpers import run_swfc  # noqa: E402

TIME_LIMIT = 300.0  # seconds per case: past this it counts as a hang
MB = 1_000_000


@dataclass(frozen=True)
class Case:
    """`build(dir, size)` writes the input and returns the validate arguments; `size` is the
    byte size of the "huge" inputs. `codes`: what may be reported; `exit`: the status."""

    name: str
    build: Callable[[Path, int], list[str]]
    codes: frozenset[str]
    exit: int


# ------------------------------------------------------------------- builders


def _write(path: Path, data: str | bytes) -> list[str]:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return [path.name]


def huge_valid(d: Path, size: int) -> list[str]:
    """A valid spec of `size` bytes: thousands of entities, workflows and deploys."""
    parts, total, i = [API], len(API), 0
    while total < size:
        part = (f'entity E{i} {{\n  id string\n  name string\n}}\n'
                f'workflow W{i} manages E{i} {{\n  source crm get "/e/{{id}}" every 5m\n}}\n'
                f'deploy W{i} "r{i}" {{ token crm from env "CRM_TOKEN" }}\n')
        parts.append(part)
        total += len(part)
        i += 1
    return _write(d / "huge_valid.swf", "".join(parts))


def huge_junk_line(d: Path, size: int) -> list[str]:
    """`size` bytes of punctuation, names and numbers on one line (no `#`, no `"`)."""
    rng = random.Random(1)
    alphabet = "abcxyz019{}[]()?,.-> \t"
    return _write(d / "junk_line.swf", "".join(rng.choice(alphabet) for _ in range(size)))


def huge_junk_lines(d: Path, size: int) -> list[str]:
    """`size` bytes of random printable text over many lines, quotes and `#` included."""
    rng = random.Random(2)
    alphabet = 'abcxyz019{}[]()?,.-> \t\n\n"#\\'
    return _write(d / "junk_lines.swf", "".join(rng.choice(alphabet) for _ in range(size)))


def stray_lines(d: Path, size: int) -> list[str]:
    """A valid entity, then a stray word on each of `size / 2` lines."""
    return _write(d / "stray.swf", "entity E { id string }\n" + "x\n" * (size // 2))


def unterminated_string(d: Path, size: int) -> list[str]:
    return _write(d / "unterminated.swf", 'import "' + "a" * size)


def huge_number(d: Path, size: int) -> list[str]:
    return _write(d / "number.swf", API.replace("}", "  retry " + "9" * size + " times\n}"))


def deep_braces(d: Path, size: int) -> list[str]:
    return _write(d / "braces.swf", "{" * 5000)


def deep_block_braces(d: Path, size: int) -> list[str]:
    return _write(d / "block_braces.swf", "entity E " + "{" * 5000 + "}" * 5000)


def deep_brackets(d: Path, size: int) -> list[str]:
    return _write(d / "brackets.swf", "entity E { id " + "[" * 5000 + "string" + "]" * 5000 + " }")


def deep_parens(d: Path, size: int) -> list[str]:
    return _write(d / "parens.swf", 'api crm { base env' + "(" * 5000 + '"X"' + ")" * 5000 + " }")


def deep_hierarchy(d: Path, size: int) -> list[str]:
    """A 5,000-level parent/child chain, the token needed at the bottom."""
    return _write(d / "hierarchy.swf", hierarchy_spec(5000))


def import_chain(d: Path, size: int) -> list[str]:
    """c0 imports c1 ... c4999 imports c5000."""
    for i in range(5000):
        (d / f"c{i}.swf").write_text(f'import "c{i + 1}.swf"\n', encoding="utf-8")
    (d / "c5000.swf").write_text(API + "entity E { id string }\n"
                                 'workflow W manages E { source crm get "/e/{id}" }\n'
                                 'deploy W "x" { token crm from env "T" }\n', encoding="utf-8")
    return ["c0.swf"]


def import_cycle(d: Path, size: int) -> list[str]:
    """a1 imports a2 ... a50 imports a1."""
    for i in range(1, 51):
        (d / f"a{i}.swf").write_text(f'import "a{i % 50 + 1}.swf"\n', encoding="utf-8")
    return ["a1.swf"]


def binary(d: Path, size: int) -> list[str]:
    rng = random.Random(3)
    return _write(d / "binary.swf", bytes(rng.randrange(256) for _ in range(min(size, MB))))


def nul_bytes(d: Path, size: int) -> list[str]:
    return _write(d / "nul.swf", b"\x00" * 10_000)


def invalid_utf8(d: Path, size: int) -> list[str]:
    return _write(d / "latin1.swf", "entity E { id string }\n# caf\u00e9\n".encode("latin-1"))


def utf16(d: Path, size: int) -> list[str]:
    return _write(d / "utf16.swf", "entity E { id string }\n".encode("utf-16"))


def empty(d: Path, size: int) -> list[str]:
    return _write(d / "empty.swf", b"")


def directory(d: Path, size: int) -> list[str]:
    (d / "specs.swf").mkdir()
    return ["specs.swf"]


def import_directory(d: Path, size: int) -> list[str]:
    (d / "lib").mkdir()
    return _write(d / "main.swf", 'import "lib"\n')


def missing(d: Path, size: int) -> list[str]:
    return ["nowhere.swf"]


def symlink_loop(d: Path, size: int) -> list[str]:
    os.symlink("b.swf", d / "a.swf")
    os.symlink("a.swf", d / "b.swf")
    return ["a.swf"]


def import_symlink_loop(d: Path, size: int) -> list[str]:
    symlink_loop(d, size)
    return _write(d / "main.swf", 'import "a.swf"\n')


def unreadable(d: Path, size: int) -> list[str]:
    _write(d / "secret.swf", "entity E { id string }\n")
    os.chmod(d / "secret.swf", 0)
    return ["secret.swf"]


def _codes(*codes: str) -> frozenset[str]:
    return frozenset(codes)


CASES = [
    Case("{mb} MB valid spec", huge_valid, _codes(), 0),
    Case("{mb} MB junk on one line", huge_junk_line, _codes("SWF001"), 1),
    Case("{mb} MB junk on many lines", huge_junk_lines, _codes("SWF001"), 1),
    Case("stray word on {lines} lines", stray_lines, _codes("SWF001"), 1),
    Case("unterminated {mb} MB string", unterminated_string, _codes("SWF001"), 1),
    Case("{mb} MB number", huge_number, _codes("SWF001"), 1),
    Case("5,000 `{`", deep_braces, _codes("SWF001"), 1),
    Case("entity with 5,000-deep braces", deep_block_braces, _codes("SWF001", "SWF033"), 1),
    Case("type with 5,000-deep brackets", deep_brackets, _codes("SWF001", "SWF033"), 1),
    Case("env 5,000-deep parentheses", deep_parens, _codes("SWF001", "SWF042", "SWF044"), 1),
    Case("5,000-deep workflow hierarchy", deep_hierarchy, _codes(), 0),
    Case("5,000-file import chain", import_chain, _codes(), 0),
    Case("import cycle of 50 files", import_cycle, _codes("SWF070"), 1),
    Case("1 MB of random bytes", binary, _codes("SWF002"), 1),
    Case("NUL bytes", nul_bytes, _codes("SWF001"), 1),
    Case("invalid UTF-8 (Latin-1)", invalid_utf8, _codes("SWF002"), 1),
    Case("UTF-16 with BOM", utf16, _codes("SWF002"), 1),
    Case("empty file", empty, _codes(), 0),
    Case("a directory", directory, _codes("SWF002"), 1),
    Case("import of a directory", import_directory, _codes("SWF002"), 1),
    Case("nonexistent file", missing, _codes("SWF002"), 1),
    Case("symlink loop", symlink_loop, _codes("SWF002"), 1),
    Case("import of a symlink loop", import_symlink_loop, _codes("SWF002"), 1),
    Case("unreadable file (chmod 000)", unreadable, _codes("SWF002"), 1),
]


# --------------------------------------------------------------------- running


def run_case(case: Case, size: int) -> dict:
    """Build and validate one case (names say the size); a dict `{name, codes, exit, seconds, ok}` (+ `problem`
    saying what was wrong when not ok, `skipped` when the case cannot be run here)."""
    name = case.name.replace("{mb}", str(size // MB)).replace("{lines}", f"{size // 2:,}")
    with tempfile.TemporaryDirectory(prefix="swfc-patho-") as tmp:
        d = Path(tmp)
        args = case.build(d, size)
        if case.build is unreadable and os.access(d / args[0], os.R_OK):
            return {"name": name, "codes": [], "exit": None, "seconds": 0.0, "ok": True,
                    "skipped": "the file stays readable (running as root)"}
        start = time.perf_counter()
        try:
            proc = run_swfc("validate", "--format", "json", *args, env={"NO_COLOR": "1"}, cwd=d, timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            return {"name": name, "codes": [], "exit": None, "seconds": TIME_LIMIT,
                    "ok": False, "problem": f"no answer within {TIME_LIMIT:.0f} s"}
        seconds = time.perf_counter() - start
        problem = _problem(case, proc, d)
    result = {"name": name, "codes": _found_codes(proc.stdout), "exit": proc.returncode,
              "seconds": round(seconds, 2), "ok": problem is None}
    if problem:
        result["problem"] = problem
    return result


def _found_codes(stdout: str) -> list[str]:
    try:
        return sorted({d["code"] for d in json.loads(stdout)})
    except (ValueError, TypeError, KeyError):
        return []


def _problem(case: Case, proc: subprocess.CompletedProcess, d: Path) -> str | None:
    """What is wrong with the answer, or None."""
    if "Traceback" in proc.stderr or proc.stderr.strip():
        return "stderr: " + proc.stderr.strip()[-300:]
    try:
        diags = json.loads(proc.stdout)
    except ValueError:
        return "stdout is not the JSON array of findings"
    if proc.returncode != case.exit:
        return f"exit {proc.returncode}, expected {case.exit}"
    codes = {x["code"] for x in diags}
    if not codes <= case.codes or (case.codes and not codes):
        return f"codes {sorted(codes)}, expected some of {sorted(case.codes)}"
    for x in diags:
        path = d / x["file"]
        lines = None
        if path.is_file() and os.access(path, os.R_OK):
            lines = path.read_bytes().count(b"\n") + 1
        if x["line"] < 1 or x["column"] < 1 or (lines is not None and x["line"] > lines + 1):
            return f"finding outside its file: {x['file']}:{x['line']}:{x['column']}"
        if (x["end_line"], x["end_column"]) < (x["line"], x["column"]):
            return f"finding ends before it starts: {x}"
    return None


def run_pathological(full: bool) -> list[dict]:
    """Every case; the 10 MB inputs at full size only when `full` (else 1 MB)."""
    size = 10 * MB if full else MB
    return [run_case(case, size) for case in CASES]


def print_rows(rows: list[dict]) -> None:
    print(f"{'input':<34} {'codes':<16} {'exit':>4} {'seconds':>8}  ok")
    for r in rows:
        codes = ",".join(r["codes"]) or "-"
        status = "ok" if r["ok"] else "FAIL: " + r.get("problem", "")
        if r.get("skipped"):
            status = "skipped: " + r["skipped"]
        print(f"{r['name']:<34} {codes:<16} {str(r['exit']):>4} {r['seconds']:>8.2f}  {status}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="1 MB instead of 10 MB inputs")
    args = p.parse_args(argv)
    rows = run_pathological(full=not args.small)
    print_rows(rows)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
