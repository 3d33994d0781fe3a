"""swfc against a hand-written temporalio baseline, on one dev server and one local HTTP API.

One command (`python bench/perf.py`) starts a Temporal dev server and a loopback
`sample_api.SampleAPI`, runs an swfc worker and a baseline worker (bench/baseline.py: plain
temporalio doing the same starts, the same HTTP GETs with the same Authorization header,
the same signals) each in its own process, and measures, alternating the two, `--reps`
times:

 1. fan-out: 1 root + N children (200), each loading its entity over HTTP — from the
    root's start until every workflow has loaded.  target ratios: wall <= 1.0, worker CPU
    <= 0.8, history events <= 1.0
 2. deep hierarchy: 1 + 20 + 200 — time to fully loaded; then a token rotation at the
    root until every workflow holds the new token.           target ratio <= 1.5 (rotation)
 3. refresh cycles: one workflow reloading `every 10ms`, 1,000 cycles: history events per
    cycle (target <= 12) and the longest history of a run (continue-as-new bounds it).
 4. worker memory: RSS growth of a fresh worker process holding 1,000 running workflows
    in its cache, in MB per workflow.
 5. compiler: the ratios of bench/compile_bench.py.

Times are server-side, from history event times, the same way for both: a workflow has
*loaded* at the end of the workflow task that received its load activity's result, and
*holds* a token at the end of the workflow task that received the `apiToken` signal
carrying it. Start = the root's WorkflowExecutionStarted; rotation start = the root's
`apiToken` signal event. Completion is detected from the HTTP API's request log (loads)
and by fetching histories (rotations), never by querying the workers being measured.

Usage: python bench/perf.py [--reps 5] [--quick] [--child-mode]
       (--quick: tiny sizes, a smoke run; --child-mode: also time the baseline written with
       start_child_workflow and external signals instead of client calls from an activity)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# One seal key for this process and both worker processes (never .swfc/seal.key).
os.environ.setdefault("SWFC_SEAL_KEY", base64.b64encode(os.urandom(32)).decode())

from temporalio.client import Client  # noqa: E402

from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)

API = "hr"
MAX_CACHED = 2000  # both workers: room for the memory benchmark's 1,000 + warm-up
HISTORY_LIMIT = 5000
# The server fires timers up to 1 s late by default (its timer queue's max time shift), which
# would make `every 10ms` a 1 s cycle; this makes short timers fire on time, for both.
SERVER_ARGS = ["--dynamic-config-value", 'history.timerProcessorMaxTimeShift="10ms"']  # swfc's default; the baseline continues as new at the same length

SPEC = """\
api hr {{
  base    "{url}"
  auth    bearer
  timeout 10s
  retry   3 times backoff 1s .. 10s
}}

entity Group  {{ id string  name string  members [Member] }}
entity Org    {{ id string  name string  teams [Team] }}
entity Team   {{ id string  name string  members [Member] }}
entity Member {{ id string  name string  email string?  role string }}
entity Feed   {{ id string  name string  version integer }}

workflow GroupWorkflow  manages Group  {{ source hr get "/groups/{{id}}"   child members -> MemberWorkflow {{ autostart }} }}
workflow OrgWorkflow    manages Org    {{ source hr get "/orgs/{{id}}"     child teams   -> TeamWorkflow   {{ autostart }} }}
workflow TeamWorkflow   manages Team   {{ source hr get "/teams/{{id}}"    child members -> MemberWorkflow {{ autostart }} }}
workflow MemberWorkflow manages Member {{ source hr get "/members/{{id}}" }}
workflow FeedWorkflow   manages Feed   {{ source hr get "/feeds/{{id}}" every {every} }}
"""

LEVELS = {
    "Group": {"entity": "Group", "path": "/groups/{id}", "field": "members"},
    "Org": {"entity": "Org", "path": "/orgs/{id}", "field": "teams"},
    "Team": {"entity": "Team", "path": "/teams/{id}", "field": "members"},
    "Member": {"entity": "Member", "path": "/members/{id}"},
    "Feed": {"entity": "Feed", "path": "/feeds/{id}"},
}
SWFC_TYPES = {"Group": "GroupWorkflow", "Org": "OrgWorkflow", "Member": "MemberWorkflow", "Feed": "FeedWorkflow"}
LOAD_ACTIVITY = {"swfc": "load_entity", "baseline": "baseline_load"}


@dataclass
class Sizes:
    fanout: int = 200
    teams: int = 20
    per_team: int = 10
    cycles: int = 1000
    every: str = "10ms"
    history_limit: int = HISTORY_LIMIT
    memory: int = 1000
    compile_args: tuple[str, ...] = ()


QUICK = Sizes(fanout=8, teams=3, per_team=2, cycles=25, history_limit=100, memory=20,
              compile_args=("--lines", "600", "--runs", "2", "--cold-runs", "2"))


# ---------------------------------------------------------------------------- workers


class WorkerProcess:
    """A worker (`swfc` or `baseline`) in its own process: `python bench/perf.py --worker`."""

    def __init__(self, kind: str, address: str, queue: str, ir_path: Path) -> None:
        self.kind, self.queue = kind, queue
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--address", address,
             "--queue", queue, "--ir", str(ir_path)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=worker_env())

    async def ready(self) -> None:
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"{self.kind} worker did not start (exit {self.proc.poll()})")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) this worker process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def worker_env() -> dict[str, str]:
    """The workers' environment: with bytecode caching, as in any installed deployment (the
    sandbox imports the module that defines a workflow afresh for every workflow it runs;
    under PYTHONDONTWRITEBYTECODE that means compiling its source each time). The cache goes
    to a temp dir, not into the repo."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "swfc-perf-pycache")
    return env


async def serve(kind: str, address: str, queue: str, ir_path: str) -> None:
    """The worker process: build the worker, say `ready`, run until stdin closes."""
    ir = json.loads(Path(ir_path).read_text())
    client = await Client.connect(address)
    if kind == "swfc":
        from runtime.worker import build_worker

        worker, http = build_worker(client, ir, task_queue=queue, max_cached_workflows=MAX_CACHED), None
    else:
        from bench.baseline import build_baseline_worker
        from runtime.sealing import load_key

        worker, http = build_baseline_worker(client, ir, queue, load_key(create=False),
                                             max_cached_workflows=MAX_CACHED)
    async with worker:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.read)
    if http is not None:
        await http.aclose()


# ---------------------------------------------------------------------------- the bench


@dataclass(frozen=True)
class Sample:
    """One measurement: seconds, the worker's CPU seconds meanwhile, history events."""

    secs: float
    cpu: float
    events: int


@dataclass
class Bench:
    client: Client
    api: Any
    ir: dict
    workers: dict[str, WorkerProcess]
    sizes: Sizes
    token: str = "perf-token-0"
    rotations: int = 0
    started: list[str] = field(default_factory=list)

    address: str = ""
    ir_path: Path = Path()

    async def attempt(self, kind: str, measurement):
        """Run one measurement; on a timeout, say so, restart that worker and return None.
        (On an overloaded machine a worker has been seen to stop polling its workflow
        queue altogether, whichever kind it was; a fresh process recovers.)"""
        try:
            return await measurement
        except TimeoutError as exc:
            print(f"  {kind}: measurement timed out ({exc}); restarting the {kind} worker", flush=True)
            await self.cleanup()
            old = self.workers[kind]
            old.stop()
            self.workers[kind] = WorkerProcess(kind, self.address, old.queue, self.ir_path)
            await self.workers[kind].ready()
            return None

    # -- starting roots --------------------------------------------------------------

    def sealed(self, kind: str, token: str | None = None) -> dict:
        """A token sealed for the deployment of `kind`'s worker (its task queue)."""
        from runtime.sealing import deployment, seal

        return seal(API, token or self.token, deployment=deployment("default", self.workers[kind].queue))

    async def start(self, kind: str, entity: str, rid: str, *, mode: str = "client", **extra: Any) -> str:
        wid = f"{entity}-{rid}"
        if kind == "swfc":
            from runtime.protocol import GENERATION

            arg = {"ir_hash": self.ir["hash"], "entity_id": rid, "tokens": {API: self.sealed(kind)},
                   "api_bases": {API: self.api.url}, "generation": GENERATION, **extra}  # as `deploy` starts roots
            await self.client.start_workflow(SWFC_TYPES[entity], arg, id=wid, task_queue=self.workers["swfc"].queue,
                                             memo={"entity": entity, "id": rid})
        else:
            levels = [LEVELS[entity]] + ([LEVELS["Team"], LEVELS["Member"]] if entity == "Org"
                                         else [LEVELS["Member"]] if entity == "Group" else [])
            workflow = "BaselineParent" if len(levels) > 1 else "BaselineRefresh" if entity == "Feed" else "BaselineLeaf"
            arg = {"id": rid, "levels": levels, "token": self.sealed(kind), "base_url": self.api.url, "mode": mode, **extra}
            await self.client.start_workflow(workflow, arg, id=wid, task_queue=self.workers["baseline"].queue)
        self.started.append(wid)
        return wid

    async def cleanup(self) -> None:
        """Terminate every workflow of the last measurement (frees the workers' caches)."""
        limit = asyncio.Semaphore(50)

        async def end(wid: str) -> None:
            async with limit:
                try:
                    await self.client.get_workflow_handle(wid).terminate()
                except Exception:  # noqa: BLE001 - already ended
                    pass

        await asyncio.gather(*(end(w) for w in self.started))
        self.started.clear()
        self.api.clear_log()

    # -- data ------------------------------------------------------------------------

    def members(self, prefix: str, n: int) -> list[str]:
        ids = [f"{prefix}-m{i}" for i in range(n)]
        for mid in ids:
            self.api.set_entity(f"/members/{mid}", {"id": mid, "name": f"Member {mid}", "email": f"{mid}@example.com",
                                                    "role": "engineer"})
        return ids

    def group(self, prefix: str, n: int) -> list[str]:
        """A group with `n` members; returns the paths every workflow loads."""
        members = self.members(prefix, n)
        self.api.set_entity(f"/groups/{prefix}", {"id": prefix, "name": "Group", "members": members})
        return [f"/groups/{prefix}"] + [f"/members/{m}" for m in members]

    def org(self, prefix: str, teams: int, per_team: int) -> list[str]:
        paths, team_ids = [f"/orgs/{prefix}"], []
        for t in range(teams):
            tid = f"{prefix}-t{t}"
            members = self.members(tid, per_team)
            self.api.set_entity(f"/teams/{tid}", {"id": tid, "name": f"Team {t}", "members": members})
            team_ids.append(tid)
            paths += [f"/teams/{tid}"] + [f"/members/{m}" for m in members]
        self.api.set_entity(f"/orgs/{prefix}", {"id": prefix, "name": "Org", "teams": team_ids})
        return paths

    # -- waiting and timing ------------------------------------------------------------

    async def wait_served(self, paths: list[str], timeout: float = 180) -> None:
        """Until the API has answered 200 to every path (no query reaches a worker)."""
        want, deadline = set(paths), time.monotonic() + timeout
        while True:
            served = {r.path for r in self.api.log() if r.status == 200}
            if want <= served:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(want - served)} of {len(want)} never loaded, e.g. {sorted(want - served)[:3]}")
            await asyncio.sleep(0.1)

    async def events(self, wid: str, run_id: str | None = None) -> list:
        history = await self.client.get_workflow_handle(wid, run_id=run_id).fetch_history()
        return list(history.events)

    async def times(self, wids: list[str], when, timeout: float = 180, pause: float = 0.1) -> list[datetime]:
        """`when(events)` for each workflow, re-fetching the histories where it is still None
        (a few at a time, with pauses: the polling must not load the server it measures)."""
        out: dict[str, datetime] = {}
        limit, deadline = asyncio.Semaphore(8), time.monotonic() + timeout

        async def one(wid: str) -> None:
            async with limit:
                events = await self.events(wid)
            t = when(events)
            if t is not None:
                out[wid] = t

        while len(out) < len(wids):
            await asyncio.gather(*(one(w) for w in wids if w not in out))
            if len(out) < len(wids):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(wids) - len(out)} workflows never got there")
                await asyncio.sleep(pause)
        return [out[w] for w in wids]

    async def count_events(self, wids: list[str], since=None) -> int:
        """History events of all `wids` (from `since(events)` on, when given), once quiet."""
        await asyncio.sleep(0.5)
        limit = asyncio.Semaphore(8)

        async def one(wid: str) -> int:
            async with limit:
                events = await self.events(wid)
            first = since(events) if since else events[0]
            return sum(1 for e in events if e.event_id >= first.event_id)

        return sum(await asyncio.gather(*(one(w) for w in wids)))

    # -- 1 and 2 -----------------------------------------------------------------------

    async def loading(self, kind: str, entity: str, paths: list[str], rid: str, mode: str) -> tuple[Sample, list[str]]:
        """Start the root; seconds from its start until every workflow has loaded."""
        cpu = self.workers[kind].cpu_s()
        root = await self.start(kind, entity, rid, mode=mode)
        await self.wait_served(paths)
        wids = [_wid(p) for p in paths]
        load_type = LOAD_ACTIVITY[kind]
        ends = await self.times(wids, lambda ev: after(ev, completed_activity(ev, load_type)))
        cpu = self.workers[kind].cpu_s() - cpu
        begin = (await self.events(root))[0].event_time.ToDatetime()
        return Sample((max(ends) - begin).total_seconds(), cpu, await self.count_events(wids)), wids

    async def fanout(self, kind: str, mode: str = "client") -> Sample:
        prefix = f"{kind[0]}{uuid.uuid4().hex[:8]}"
        paths = self.group(prefix, self.sizes.fanout)
        sample, _ = await self.loading(kind, "Group", paths, prefix, mode)
        await self.cleanup()
        return sample

    async def deep(self, kind: str) -> tuple[Sample, Sample]:
        prefix = f"{kind[0]}{uuid.uuid4().hex[:8]}"
        paths = self.org(prefix, self.sizes.teams, self.sizes.per_team)
        loaded, wids = await self.loading(kind, "Org", paths, prefix, "client")
        rotated = await self.rotate(kind, wids)
        await self.cleanup()
        return loaded, rotated

    async def rotate(self, kind: str, wids: list[str]) -> Sample:
        """Signal a new token at the root (wids[0]); seconds until every workflow holds it."""
        self.rotations += 1
        new = self.sealed(kind, f"perf-token-{self.rotations}")
        fp = new["fingerprint"].encode()
        cpu = self.workers[kind].cpu_s()
        await self.client.get_workflow_handle(wids[0]).signal("apiToken", new)
        await asyncio.sleep(0.2)
        ends = await self.times(wids, lambda ev: after(ev, token_signal(ev, fp)), pause=0.3)
        cpu = self.workers[kind].cpu_s() - cpu
        begin = token_signal(await self.events(wids[0]), fp)
        events = await self.count_events(wids, since=lambda ev: token_signal(ev, fp))
        return Sample((max(ends) - begin.event_time.ToDatetime()).total_seconds(), cpu, events)

    # -- 3 -----------------------------------------------------------------------------

    async def refresh(self, kind: str) -> dict[str, float]:
        """One workflow reloading every `every`, `cycles` times: events per cycle, the
        longest run, ms per cycle."""
        rid = f"{kind[0]}{uuid.uuid4().hex[:8]}"
        path = f"/feeds/{rid}"
        self.api.set_entity(path, {"id": rid, "name": "Feed", "version": 1})
        extra = ({"history_limit": self.sizes.history_limit} if kind == "swfc" else
                 {"history_limit": self.sizes.history_limit, "every_ms": _ms(self.sizes.every)})
        wid = await self.start(kind, "Feed", rid, **extra)
        deadline = time.monotonic() + 60 + self.sizes.cycles * 0.5
        while len(self.api.requests_to(path)) < self.sizes.cycles:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{kind} refresh: only {len(self.api.requests_to(path))} loads")
            await asyncio.sleep(0.2)
        await self.client.get_workflow_handle(wid).terminate()
        runs = await self.all_runs(wid)
        events = [e for run in runs for e in run if not e.HasField("workflow_execution_terminated_event_attributes")]
        loads = sum(1 for e in events if e.HasField("activity_task_completed_event_attributes"))
        span = (events[-1].event_time.ToDatetime() - events[0].event_time.ToDatetime()).total_seconds()
        self.started.clear()
        self.api.clear_log()
        return {"per_cycle": len(events) / loads, "max_history": max(len(r) for r in runs),
                "runs": len(runs), "loads": loads, "ms_per_cycle": span * 1000 / loads}

    async def all_runs(self, wid: str) -> list[list]:
        """Every run's events, first run first (following continue-as-new back)."""
        runs, run_id = [], None
        while True:
            events = await self.events(wid, run_id)
            runs.append(events)
            run_id = events[0].workflow_execution_started_event_attributes.continued_execution_run_id
            if not run_id:
                return runs[::-1]

    # -- 4 -----------------------------------------------------------------------------

    async def memory(self, kind: str, address: str, ir_path: Path) -> float:
        """MB of RSS per running workflow held in a fresh worker's cache."""
        worker = WorkerProcess(kind, address, f"perf-mem-{kind}-{uuid.uuid4().hex[:6]}", ir_path)
        saved = self.workers[kind]
        self.workers[kind] = worker
        try:
            await worker.ready()
            prefix = f"{kind[0]}{uuid.uuid4().hex[:8]}"
            await self.hold(kind, self.members(prefix + "w", 10))  # warm: imports, sandbox, pools
            before = worker.rss_mb()
            await self.hold(kind, self.members(prefix, self.sizes.memory))
            await asyncio.sleep(1)
            grown = worker.rss_mb() - before
            await self.cleanup()
        finally:
            self.workers[kind] = saved
            worker.stop()
        return grown / self.sizes.memory

    async def hold(self, kind: str, members: list[str]) -> None:
        """Start one leaf workflow per member (50 at a time) and wait until all have loaded."""
        limit = asyncio.Semaphore(50)

        async def one(mid: str) -> None:
            async with limit:
                await self.start(kind, "Member", mid)

        await asyncio.gather(*(one(m) for m in members))
        await self.wait_served([f"/members/{m}" for m in members])
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------- history helpers


def completed_activity(events: list, activity_type: str):
    """The first ActivityTaskCompleted of an activity of `activity_type`, or None."""
    scheduled = {e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
                 for e in events if e.HasField("activity_task_scheduled_event_attributes")}
    return next((e for e in events if e.HasField("activity_task_completed_event_attributes")
                 and scheduled.get(e.activity_task_completed_event_attributes.scheduled_event_id) == activity_type), None)


def token_signal(events: list, fingerprint: bytes):
    """The first `apiToken` signal carrying the token with this fingerprint, or None."""
    return next((e for e in events if e.HasField("workflow_execution_signaled_event_attributes")
                 and e.workflow_execution_signaled_event_attributes.signal_name == "apiToken"
                 and fingerprint in e.workflow_execution_signaled_event_attributes.input.SerializeToString()), None)


def after(events: list, event) -> datetime | None:
    """When the workflow task that received `event` completed (events that arrive while a
    task runs are written after it completes, so it is the next WorkflowTaskCompleted)."""
    if event is None:
        return None
    return next((e.event_time.ToDatetime() for e in events
                 if e.event_id > event.event_id and e.HasField("workflow_task_completed_event_attributes")), None)


def _wid(path: str) -> str:
    kind, rid = path.strip("/").split("/")
    return {"groups": "Group", "orgs": "Org", "teams": "Team", "members": "Member"}[kind] + "-" + rid


def _ms(duration: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s)", duration)
    return int(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


# ---------------------------------------------------------------------------- main


@dataclass
class Row:
    name: str
    swfc: float
    baseline: float | None
    unit: str
    target: str
    ok: bool | None = None

    def cells(self) -> list[str]:
        ratio = f"{self.swfc / self.baseline:.2f}" if self.baseline else "-"
        base = f"{_num(self.baseline)} {self.unit}" if self.baseline is not None else "-"
        verdict = "" if self.ok is None else "PASS" if self.ok else "MISS"
        return [self.name, f"{_num(self.swfc)} {self.unit}", base, ratio, self.target, verdict]


def _num(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def table(rows: list[Row]) -> str:
    head = ["benchmark", "swfc median", "baseline median", "ratio", "target", ""]
    cells = [head] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def compile_ratios(args: tuple[str, ...]) -> list[Row]:
    out = subprocess.run([sys.executable, str(REPO / "bench" / "compile_bench.py"), *args], cwd=REPO,
                         capture_output=True, text=True).stdout
    print(out, end="")
    a = re.search(r"compile (\d+) ms, bare Lark parse (\d+) ms, ratio ([\d.]+) \(target <= ([\d.]+)\)", out)
    b = re.search(r"` (\d+) ms vs `import lark, jsonschema` (\d+) ms, ratio ([\d.]+) \(target <= ([\d.]+)\)", out)
    rows = []
    for m, name in ((a, "5a. compile vs bare Lark parse"), (b, "5b. validate cold start vs imports")):
        if m:
            rows.append(Row(name, float(m.group(1)), float(m.group(2)), "ms", f"ratio <= {m.group(4)}",
                            float(m.group(3)) <= float(m.group(4))))
    return rows


def _show(x: Sample) -> str:
    return f"{x.secs:.3f} s (worker CPU {x.cpu:.2f} s, {x.events} events)"


def median(xs: list[float]) -> float:
    return statistics.median(xs)


async def run(sizes: Sizes, reps: int, child_mode: bool, only: set[str]) -> list[Row]:
    from temporalio.testing import WorkflowEnvironment

    from cli.devserver import find_temporal_binary
    from compiler import compile_files
    from sample_api import SampleAPI

    api = SampleAPI().start()
    api.require_auth("/", *[f"perf-token-{i}" for i in range(4 * reps + 4)])
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "perf.swf"
        spec.write_text(SPEC.format(url=api.url, every=sizes.every))
        ir, diagnostics = compile_files([str(spec)])
        if ir is None:
            raise SystemExit(f"the bench spec does not compile: {diagnostics}")
        ir_path = Path(tmp) / "perf.ir.json"
        ir_path.write_text(json.dumps(ir))
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                    dev_server_log_level="error", dev_server_extra_args=SERVER_ARGS)
        address = env.client.service_client.config.target_host
        workers = {k: WorkerProcess(k, address, f"perf-{k}-{uuid.uuid4().hex[:6]}", ir_path) for k in ("swfc", "baseline")}
        try:
            await asyncio.gather(*(w.ready() for w in workers.values()))
            bench = Bench(env.client, api, ir, workers, sizes, address=address, ir_path=ir_path)
            return await measure(bench, reps, child_mode, address, ir_path, only)
        finally:
            for w in workers.values():
                w.stop()
            await env.shutdown()
            api.stop()


async def measure(bench: Bench, reps: int, child_mode: bool, address: str, ir_path: Path,
                  only: set[str]) -> list[Row]:
    rows: list[Row] = []
    if "1" in only or "2" in only:
        rows += await measure_hierarchies(bench, reps, child_mode, only)
    if "3" in only:
        rows += await measure_refresh(bench)
    if "4" in only:
        rows += await measure_memory(bench, address, ir_path)
    if "5" in only:
        rows += compile_ratios(bench.sizes.compile_args)
    return rows


async def measure_hierarchies(bench: Bench, reps: int, child_mode: bool, only: set[str]) -> list[Row]:
    s = bench.sizes
    kinds = ("swfc", "baseline")
    for kind in kinds:  # warm up: imports, sandbox, connection pools
        saved, bench.sizes = bench.sizes, QUICK
        await bench.fanout(kind)
        bench.sizes = saved
    fan: dict[str, list[Sample]] = {k: [] for k in kinds}
    load: dict[str, list[Sample]] = {k: [] for k in kinds}
    rot: dict[str, list[Sample]] = {k: [] for k in kinds}
    for rep in range(reps):
        order = kinds if rep % 2 == 0 else kinds[::-1]
        for kind in order if "1" in only else ():
            sample = await bench.attempt(kind, bench.fanout(kind))
            if sample is not None:
                fan[kind].append(sample)
                print(f"  rep {rep + 1}: fan-out {kind} {_show(sample)}", flush=True)
        for kind in order if "2" in only else ():
            samples = await bench.attempt(kind, bench.deep(kind))
            if samples is not None:
                load[kind].append(samples[0])
                rot[kind].append(samples[1])
                print(f"  rep {rep + 1}: deep {kind} loaded {_show(samples[0])}; rotation {_show(samples[1])}", flush=True)
    fan_n, deep_n = 1 + s.fanout, 1 + s.teams + s.teams * s.per_team
    rows = []
    # targets: (wall, worker CPU, history events) as ratios to the baseline; None: shown only
    for name, data, targets in (
            (f"1. fan-out 1+{s.fanout}: start -> all loaded", fan, (1.0, 0.8, 1.0)),
            (f"2a. deep 1+{s.teams}+{s.teams * s.per_team}: start -> all loaded", load, (None, None, None)),
            (f"2b. deep {deep_n}: root token rotation -> all hold it", rot, (1.5, None, None))):
        if not (data["swfc"] and data["baseline"]):
            continue
        short = name.split(":")[0]
        for label, unit, measured, target in ((name, "s", lambda x: x.secs, targets[0]),
                                              (f"{short}: worker CPU", "s", lambda x: x.cpu, targets[1]),
                                              (f"{short}: history events", "ev", lambda x: x.events, targets[2])):
            ours, theirs = (median([measured(x) for x in data[k]]) for k in kinds)
            rows.append(Row(label, ours, theirs, unit, f"ratio <= {target}" if target else "(info)",
                            ours <= target * theirs if target else None))
    if child_mode and fan["swfc"]:
        child = [(await bench.fanout("baseline", mode="child")).secs for _ in range(max(1, reps // 2))]
        rows.append(Row(f"1'. fan-out 1+{s.fanout}, baseline via start_child_workflow", rows[0].swfc,
                        median(child), "s", "(info)"))
    print(f"  ({fan_n} and {deep_n} workflows; medians of {reps} alternated repetitions)")
    return rows


async def measure_refresh(bench: Bench) -> list[Row]:
    s, kinds = bench.sizes, ("swfc", "baseline")
    refresh = {}
    for kind in kinds:
        refresh[kind] = await bench.refresh(kind)
        print(f"  refresh {kind}: {refresh[kind]}", flush=True)
    sw, ba = refresh["swfc"], refresh["baseline"]
    return [
        Row(f"3a. refresh x{sw['loads']}: history events per cycle", sw["per_cycle"], ba["per_cycle"], "ev",
            "<= 12", sw["per_cycle"] <= 12),
        Row(f"3b. refresh: longest run ({sw['runs']} runs, limit {s.history_limit})", sw["max_history"],
            ba["max_history"], "ev", f"<= {s.history_limit + 20}", sw["max_history"] <= s.history_limit + 20),
        Row("3c. refresh: time per cycle", sw["ms_per_cycle"], ba["ms_per_cycle"], "ms", "(info)"),
    ]


async def measure_memory(bench: Bench, address: str, ir_path: Path) -> list[Row]:
    s, kinds = bench.sizes, ("swfc", "baseline")
    mem = {}
    for kind in kinds:
        mem[kind] = await bench.memory(kind, address, ir_path)
        print(f"  memory {kind}: {mem[kind]:.3f} MB per workflow", flush=True)
    return [Row(f"4. worker RSS per cached workflow ({s.memory})", mem["swfc"], mem["baseline"], "MB", "(info)")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--child-mode", action="store_true", help="also time the baseline written with start_child_workflow")
    p.add_argument("--only", default="1,2,3,4,5", help="which benchmarks, e.g. 1,2 (default: all)")
    p.add_argument("--worker", choices=("swfc", "baseline"), help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    p.add_argument("--queue", help=argparse.SUPPRESS)
    p.add_argument("--ir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        asyncio.run(serve(args.worker, args.address, args.queue, args.ir))
        return 0
    sizes = QUICK if args.quick else Sizes()
    rows = asyncio.run(run(sizes, args.reps, args.child_mode, set(args.only.split(","))))
    print()
    print(table(rows))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(exit_process(main()))
