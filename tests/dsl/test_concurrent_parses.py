"""Parses in several threads at once: each keeps its own file name and its own problems
(the shared parser's transformer holds nothing of a parse; there is no lock)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dsl import parse

# A bad escape (found by the transformer, inside the parse) in a clean file and in a broken
# one (where recovery parses on), so both paths are covered.
CLEAN = 'api a {\n  base "http://h/\\q"\n}\n' * 40
BROKEN = CLEAN + "entity {\n"


def files_named(spec, diags) -> set[str]:
    spans = [d.span for d in diags] + [decl.span for decl in spec.decls]
    return {s.file for s in spans}


def one(i: int):
    name = f"f{i}.swf"
    spec, diags = parse(BROKEN if i % 2 else CLEAN, name)
    return name, spec, diags


def test_parses_in_threads_keep_their_own_file_and_problems():
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(64)))
    for name, spec, diags in results:
        assert files_named(spec, diags) == {name}
        escapes = [d for d in diags if "unknown escape" in d.message]
        assert len(escapes) == 40, (name, len(escapes))
