"""Reliability under faults, at full size: every scenario of tests/reliability, one table.

Usage: python bench/reliability.py [--quick] [--only TEXT] [--fuzz N] [--children N]

Starts one Temporal dev server (scenario 2 starts and restarts its own, on a temporal.db in
a temporary folder) and runs each scenario against real `swfc worker`/`deploy`/`status`/
`token set` processes and real loopback HTTP APIs (tests/reliability/scenarios.py says what
each one breaks and checks). Prints, per scenario: workflows expected, loaded, errored with
a visible reason, silent (neither: a failure), duplicates, workflow task failures, token
leaks, requests with a token to a non-allowed origin, uncaught exceptions, and whether its
own checks held. Scenario 6 (spec input fuzzing) comes from bench/fuzz_validate.py.
Scenarios 8 are the attacks of the security review (issue 9): each must show 0 leaks (every
secret the attack uses is searched for) and 0 requests carrying a token to a foreign origin.

Exits 1 if any row is not clean. `--quick` runs CI sizes (what `.ci/run` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("SWFC_SEAL_KEY", base64.b64encode(os.urandom(32)).decode())

from temporalio.testing import WorkflowEnvironment  # noqa: E402

from cli.devserver import find_temporal_binary  # noqa: E402
from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)
from tests.reliability import scenarios as sc  # noqa: E402
from tests.reliability.harness import Outcome, kill_stray_workers  # noqa: E402

COLUMNS = ["expected", "loaded", "errored", "silent", "duplicates", "task_failures",
           "token_leaks", "disallowed_requests", "uncaught"]
HEADERS = ["expected", "loaded", "errored*", "silent", "dupl.", "task fail", "leaks", "disallowed", "uncaught"]


def plan(children: int) -> list[tuple[str, object]]:
    """(name, coroutine factory taking an Env) for every runtime scenario."""
    small = max(2, children // 20)
    rows: list[tuple[str, object]] = [
        ("1 worker SIGKILL mid fan-out", lambda env: sc.worker_killed_mid_fanout(env, children)),
        ("2 dev server restart", lambda env: sc.server_restarted(env.workdir, children)),
    ]
    rows += [(f"3 {kind}", functools.partial(sc.http_fault, kind=kind, children=children)) for kind in sc.FAULTS]
    rows += [
        # Every workflow refreshes `every`: 2 s for 200 would be 100 loads/s on 2 cores.
        ("4 401 mid-life + token set", lambda env: sc.token_revoked_midlife(env, children, every=f"{max(2, children // 20)}s")),
        ("5 token confinement", lambda env: sc.token_confined(env, small)),
        ("7 bad signals", lambda env: sc.bad_signals_refused(env, 2)),
    ]
    rows += [(f"8 {name}", functools.partial(sc.security_attack, name=name)) for name in sc.ATTACKS]
    return rows


async def run_runtime(children: int, only: str | None) -> list[Outcome]:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                dev_server_log_level="never")
    outcomes: list[Outcome] = []
    try:
        with tempfile.TemporaryDirectory(prefix="swfc-reliability-") as tmp:
            base = sc.Env(env.client, env.client.service_client.config.target_host, Path(tmp))
            for n, (name, make) in enumerate(plan(children)):
                if only and only.lower() not in name.lower():
                    continue
                scenario_env = sc.Env(base.client, base.address, base.workdir / f"s{n}")
                started = time.monotonic()
                print(f"… {name}", flush=True)
                try:
                    out = await make(scenario_env)
                except Exception:  # noqa: BLE001 - a crashed scenario is a row, not the end
                    out = Outcome(name, uncaught=1, problems=[traceback.format_exc(limit=3)])
                out.scenario = name
                out.notes.append(f"{time.monotonic() - started:.0f} s")
                outcomes.append(out)
    finally:
        kill_stray_workers()
        await env.shutdown()
    return outcomes


def run_fuzz(n: int) -> Outcome:
    """Scenario 6: `n` mutated or generated specs through the whole checker
    (bench/fuzz_validate.py), then the pathological inputs (bench/pathological.py) through
    `swfc validate`, full size when `n` is."""
    sys.path.insert(0, str(REPO / "bench"))
    import fuzz_validate
    import pathological

    out = Outcome("6 spec fuzzing + pathological inputs")
    figures = fuzz_validate.run_fuzz(n, seed=1)
    cases = [c for c in pathological.run_pathological(full=n >= 100_000) if not c.get("skipped")]
    out.expected = figures["inputs"] + len(cases)
    out.uncaught = figures["uncaught"] + figures["internal_errors"]
    out.loaded = out.expected - out.uncaught  # here: answered without an uncaught exception
    if figures["bad_positions"]:
        out.problems.append(f"{figures['bad_positions']} diagnostics at invalid positions")
    out.problems += [f"{c['name']}: {c.get('problem', 'not answered by a diagnostic')}" for c in cases if not c["ok"]]
    slowest = max(cases, key=lambda c: c["seconds"])
    out.notes.append(f"{figures['inputs']} specs in {figures['seconds']:.0f} s, 0 bad positions" if not figures["bad_positions"]
                     else f"{figures['inputs']} specs in {figures['seconds']:.0f} s")
    out.notes.append(f"{sum(c['ok'] for c in cases)}/{len(cases)} pathological inputs answered by a diagnostic "
                     f"(slowest: {slowest['name']}, {slowest['seconds']:.1f} s)")
    return out


def table(outcomes: list[Outcome]) -> str:
    width = max(len(o.scenario) for o in outcomes)
    lines = [f"{'scenario':<{width}}  " + "  ".join(f"{h:>10}" for h in HEADERS) + "  ok"]
    for o in outcomes:
        cells = "  ".join(f"{getattr(o, c):>10}" for c in COLUMNS)
        lines.append(f"{o.scenario:<{width}}  {cells}  {'yes' if o.ok else 'NO'}")
    lines.append("* errored: not loaded, with the reason shown by `swfc status`")
    lines.append("")
    for o in outcomes:
        lines.append(f"{o.scenario}: {'; '.join(o.notes)}")
        lines += [f"    problem: {p}" for p in o.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="CI sizes: 12 children, 2,000 fuzz inputs")
    p.add_argument("--children", type=int, default=None, help="children per hierarchy (default 200)")
    p.add_argument("--fuzz", type=int, default=None, help="mutated specs for scenario 6 (default 100000)")
    p.add_argument("--only", default=None, help="run the scenarios whose name contains TEXT")
    args = p.parse_args(argv)
    children = args.children or (12 if args.quick else 200)
    fuzz = args.fuzz if args.fuzz is not None else (2_000 if args.quick else 100_000)
    outcomes = asyncio.run(run_runtime(children, args.only))
    if fuzz and (not args.only or args.only in "6 spec fuzzing"):
        outcomes.append(run_fuzz(fuzz))
    print()
    print(table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(exit_process(main()))
