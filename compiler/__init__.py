"""The swfc compiler: `.swf` files in, diagnostics and the IR out.

Pipeline (each stage a module, callable alone): `loader` (read, parse, follow imports)
-> `resolve` (symbol tables, names) -> `check` (semantics) -> `routing` (token needs,
recursion stops) -> `emit` (IR dict) -> `validate` (IR against its JSON Schema).
Every stage runs as far as it can and collects findings; nothing here raises for bad
input.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

from dsl.ast import Span
from dsl.diagnostics import Collector, Diagnostic

from compiler.loader import DictSource, FileSource, Loaded, Loader, Source

__all__ = ["Analysis", "DictSource", "FileSource", "Loaded", "Source", "analyse", "check_each",
           "check_files", "check_sources", "compile_files", "compile_sources", "dump_ir", "understand"]


@dataclass
class Analysis:
    """One run of the pipeline: the IR (or None), sorted findings, the loaded files, and what
    the passes built (`symbols`, token `routes`; None where a pass did not get to run)."""

    ir: dict | None
    diagnostics: list[Diagnostic]
    loaded: Loaded
    symbols: object = None
    routes: object = None


def analyse(roots: list[str], source: Source, *, emit_ir: bool, parse=None):
    """Run the pipeline over `roots` read from `source`.

    Returns:
        `(ir or None, sorted diagnostics, Loaded)`; the IR only when `emit_ir` and no
        errors were found.
    """
    result = understand(roots, source, emit_ir=emit_ir, parse=parse)
    return result.ir, result.diagnostics, result.loaded


def understand(roots: list[str], source: Source, *, emit_ir: bool = False, parse=None) -> Analysis:
    """`analyse`, keeping the symbol table and the token routes (the language server's hover
    and go-to-definition read them)."""
    # A compile allocates many small objects and frees none until it returns: the cyclic
    # collector would only walk them again and again (mypy tunes it away for the same reason).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return run_pipeline(roots, source, emit_ir=emit_ir, parse=parse)
    finally:
        if enabled:
            gc.enable()


def run_pipeline(roots: list[str], source: Source, *, emit_ir: bool, parse=None) -> Analysis:
    """`understand` without the GC pause: load, resolve, check, route, then emit and validate."""
    from compiler.check import check
    from compiler.resolve import resolve
    from compiler.routing import route

    if parse is None:
        from dsl import parse
    diags = Collector()
    loader = Loader(source, diags, parse)
    loaded = loader.result
    ir = symbols = routes = None
    try:
        for name in roots:
            loader.load_root(name)
        symbols = resolve(loaded.specs, diags)
        check(symbols, diags)
        routes = route(symbols, diags)
        if emit_ir and not diags.has_errors:
            ir = emit_and_validate(symbols, routes, diags, roots)
    except Exception as exc:  # a bug, never the user's fault: say so, don't crash
        where = next(iter(loaded.texts), roots[0] if roots else "<none>")
        diags.add("SWF099", f"internal error: {type(exc).__name__}: {exc}", Span(where, 1, 1, 1, 1),
                  hint="this is a bug in swfc, not in your spec; please report it")
        ir = None
    return Analysis(ir, diags.sorted(), loaded, symbols, routes)


def emit_and_validate(symbols, routes, diags: Collector, roots: list[str]) -> dict | None:
    from compiler.emit import emit
    from compiler.validate import validate_ir

    ir = emit(symbols, routes)
    where = Span(roots[0] if roots else "<none>", 1, 1, 1, 1)
    return ir if validate_ir(ir, diags, where) else None


def dump_ir(ir: dict) -> str:
    """The canonical text of an IR (docs/ir.md "Determinism")."""
    from compiler.emit import dump_ir as dump

    return dump(ir)


def check_each(paths: list[str], source: Source | None = None):
    """Check every file of `paths` as a spec of its own (with its imports), the way
    `swfc validate a.swf b.swf` does; a file imported by several is parsed once.

    Returns:
        `(sorted, deduplicated diagnostics, {file name: text} of every file loaded)`.
    """
    from dsl import parse

    source = source or FileSource()
    cache: dict[tuple[str, str], tuple] = {}

    def parse_once(text: str, name: str):
        if (name, text) not in cache:
            cache[(name, text)] = parse(text, name)
        return cache[(name, text)]

    found: set[Diagnostic] = set()
    texts: dict[str, str] = {}
    for path in paths:
        _, diags, loaded = analyse([path], source, emit_ir=False, parse=parse_once)
        found.update(diags)
        texts.update(loaded.texts)
    return sorted(found, key=Diagnostic.sort_key), texts


def check_files(paths: list[str]) -> list[Diagnostic]:
    """Check the spec files `paths` (and their imports); findings sorted, no IR."""
    return analyse(paths, FileSource(), emit_ir=False)[1]


def check_sources(files: dict[str, str], roots: list[str]) -> list[Diagnostic]:
    """Check in-memory files (`{name: text}`) starting at `roots`; never raises."""
    return analyse(roots, DictSource(files), emit_ir=False)[1]


def compile_files(paths: list[str]) -> tuple[dict | None, list[Diagnostic]]:
    """Compile the spec files `paths` into the IR.

    Returns:
        `(ir, diagnostics)`; `ir` is None when there are errors.
    """
    ir, diags, _ = analyse(paths, FileSource(), emit_ir=True)
    return ir, diags


def compile_sources(files: dict[str, str], roots: list[str]) -> tuple[dict | None, list[Diagnostic]]:
    """`compile_files` for in-memory files."""
    ir, diags, _ = analyse(roots, DictSource(files), emit_ir=True)
    return ir, diags
