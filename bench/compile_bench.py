"""Compiler benchmark: how much the compiler costs on top of parsing, and how fast
`swfc validate` starts.

(a) A generated spec of N lines (default 10,000) spread over several files with imports,
    many apis, entities, workflows and deployments: a full in-process, warm
    `compiler.compile_files` against a bare Lark LALR parse of the same text with the same
    grammar (no transformer), as a ratio of medians of interleaved runs. Target <= 2.0.
(b) `swfc validate specs/marketplace.swf` cold start (a fresh process) against
    `python -c "import lark, jsonschema"`, ratio of medians of interleaved runs.
    Target <= 1.5.

Usage: python bench/compile_bench.py [--lines N] [--runs R] [--cold-runs C]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_COMPILE = 2.0
TARGET_COLD = 1.5
FILES = 8  # workflow files; plus one of apis, FILES of entities, and the root


def api_block(i: int) -> str:
    auth = "bearer" if i % 3 else 'header "X-Api-Key"'
    return (f'api api{i} {{\n'
            f'  base    env("API{i}_URL", "http://127.0.0.1:8787")\n'
            f'  auth    {auth}\n'
            f'  allow   "127.0.0.1:8787", "localhost:8787"\n'
            f'  timeout 10s\n'
            f'  retry   5 times backoff 1s .. 30s\n'
            f'}}\n\n')


def entity_blocks(g: int) -> str:
    out = []
    for level in range(3):
        child = f"    items  [E{g}_{level + 1}]\n" if level < 2 else ""
        out.append(f"entity E{g}_{level} {{\n    id     string\n    name   string\n"
                   f"    price  number?\n    tags   [string]\n    seen   datetime?\n"
                   f"    parent E{g}_{level - 1 if level else 0}?\n{child}}}\n\n")
    return "".join(out)


def workflow_blocks(g: int) -> str:
    out = []
    for level in range(3):
        body = []
        if level == 2 and g % 4 == 0:
            body.append("  token none\n")
        else:
            body.append(f'  source api{g} get "/g{g}/l{level}/{{id}}" every 5m\n')
            body.append('  select "data.item"\n')
        if level < 2:
            body.append(f"  child items -> W{g}_{level + 1} {{\n    autostart\n"
                        f"    cancel on delete\n    subscribe update \"*\"\n  }}\n")
        out.append(f"workflow W{g}_{level} manages E{g}_{level} {{\n" + "".join(body) + "}\n\n")
    return "".join(out)


def generate(lines: int, folder: Path) -> tuple[Path, int]:
    """Write the spec files into `folder`; return the root file and the line count."""
    per_group = (api_block(0) + entity_blocks(0) + workflow_blocks(0)).count("\n") + 4
    groups = max(FILES, lines // per_group)
    apis = [api_block(g) for g in range(groups)]
    ents: list[list[str]] = [[] for _ in range(FILES)]
    wfs: list[list[str]] = [[] for _ in range(FILES)]
    deploys = []
    for g in range(groups):
        ents[g % FILES].append(entity_blocks(g))
        wfs[g % FILES].append(workflow_blocks(g))
        deploys.append(f'deploy W{g}_0 "root{g}" {{\n  token api{g} from env "API{g}_TOKEN"\n}}\n\n')
    write = lambda name, text: (folder / name).write_text(text, encoding="utf-8")  # noqa: E731
    write("apis.swf", "# generated\n" + "".join(apis))
    for k in range(FILES):
        write(f"ent{k}.swf", "# generated\n" + "".join(ents[k]))
        write(f"wf{k}.swf", f'import "apis.swf"\nimport "ent{k}.swf"\n\n' + "".join(wfs[k]))
    write("main.swf", "".join(f'import "wf{k}.swf"\n' for k in range(FILES)) + "\n"
          + "".join(deploys))
    total = sum(p.read_text().count("\n") for p in folder.glob("*.swf"))
    return folder / "main.swf", total


def interleaved(*fns, runs: int) -> list[float]:
    """Median seconds of each of `fns`, run in turn `runs` times each."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, out in zip(fns, times):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def bench_compile(lines: int, runs: int) -> float:
    from lark import Lark

    from compiler import compile_files
    from dsl import parse

    with tempfile.TemporaryDirectory() as tmp:
        root, total = generate(lines, Path(tmp))
        named = [(str(p), p.read_text(encoding="utf-8")) for p in sorted(Path(tmp).glob("*.swf"))]
        texts = [text for _, text in named]
        bare = Lark.open(str(ROOT / "grammar.lark"), parser="lalr")
        ir, diags = compile_files([str(root)])  # warm up: parser tables, schema validator
        errors = [d for d in diags if d.severity == "error"]
        if ir is None or errors:
            sys.exit(f"generated spec does not compile: {errors[:3]}")
        n_wf = len(ir["workflows"])
        t_compile, t_parse, t_dsl = interleaved(
            lambda: compile_files([str(root)]), lambda: [bare.parse(t) for t in texts],
            lambda: [parse(t, n) for n, t in named], runs=runs)
    ratio = t_compile / t_parse
    print(f"(a) compile {total} lines, {len(texts)} files, {n_wf} workflows: "
          f"compile {t_compile * 1000:.0f} ms, bare Lark parse {t_parse * 1000:.0f} ms, "
          f"ratio {ratio:.2f} (target <= {TARGET_COMPILE}) "
          f"{'PASS' if ratio <= TARGET_COMPILE else 'MISS'}")
    print(f"    of which dsl.parse (AST, positions, syntax checks) {t_dsl * 1000:.0f} ms "
          f"({t_dsl / t_parse:.2f}x bare), compiler passes {(t_compile - t_dsl) * 1000:.0f} ms")
    return ratio


def swfc_command() -> list[str]:
    script = Path(sys.executable).parent / "swfc"
    if script.exists():
        return [str(script)]
    found = shutil.which("swfc")
    return [found] if found else [sys.executable, "-m", "cli.main"]


def bench_cold(runs: int) -> float:
    cmd = swfc_command() + ["validate", "specs/marketplace.swf"]
    base = [sys.executable, "-c", "import lark, jsonschema"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(argv):
        return lambda: subprocess.run(argv, cwd=ROOT, env=env, check=True,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run(cmd)()  # fill the grammar cache and the bytecode caches once
    t_swfc, t_base = interleaved(run(cmd), run(base), runs=runs)
    ratio = t_swfc / t_base
    print(f"(b) cold start `{' '.join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))}`"
          f" {t_swfc * 1000:.0f} ms vs `import lark, jsonschema` {t_base * 1000:.0f} ms, "
          f"ratio {ratio:.2f} (target <= {TARGET_COLD}) "
          f"{'PASS' if ratio <= TARGET_COLD else 'MISS'}")
    return ratio


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--cold-runs", type=int, default=15)
    args = p.parse_args()
    a = bench_compile(args.lines, args.runs)
    b = bench_cold(args.cold_runs)
    return 0 if a <= TARGET_COMPILE and b <= TARGET_COLD else 1


if __name__ == "__main__":
    sys.exit(main())
