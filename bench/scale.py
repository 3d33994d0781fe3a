"""swfc at DESIGN.md §7's size: 1 + 1,000 and 1 + 10,000 children, on one dev server.

One command (`python bench/scale.py`) starts a Temporal dev server and a loopback
`sample_api.SampleAPI` serving a group whose members each have a record of about 2 KB, and,
for each size, runs `swfc worker` in its own process (payload store: a directory) and
`swfc deploy --no-worker` for a `GroupWorkflow` whose `members` edge autostarts one
`MemberWorkflow` per member and subscribes to it, so every member's record flows up into the
parent's store (2 KB × 10,000 = 20 MB: ten times Temporal's payload limit).

Measured, the same way for both sizes:
 1. load: from `deploy` until the parent's store holds every member's record (the `state`
    query's table count): seconds, and seconds per child; the ratio of the per-child time
    at the largest size to that at the smallest (target <= 1.2); the worker's and the dev
    server's CPU per child while loading (/proc);
 2. `swfc status` of the hierarchy (the CLI, as a user runs it): seconds;
then, for the largest size (unless `--load-only`):
 3. an upgrade: `deploy` of an edited spec (a worker holding it replaces the first), until
    every workflow has reloaded under it (the API's request log);
 4. a token rotation: `swfc token set` at the root, until every workflow holds the new
    token (each workflow's `status` query, asked again only of those that did not yet);
and at the end of each size: failed workflow tasks (the worker's log: failed activations,
deadlocks, evictions that could not run; failed tasks, or tasks timed out while a worker
ran them, in the root's histories; failed tasks in the members' first runs), the members'
tasks that timed out while a worker held them during the load (each one a child late by its
whole task timeout), the root's tasks requeued from the sticky queue (a busy
worker), the root's longest workflow task, the worker's RSS, the root's history (events,
bytes) and the bytes in the payload store. Progress lines every minute of a long phase.

Usage: python bench/scale.py [--sizes 1000,10000] [--record-bytes 2048] [--prose] [--timeout 3600] [--load-only]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("SWFC_SEAL_KEY", base64.b64encode(os.urandom(32)).decode())

from temporalio.api.enums.v1 import EventType, TimeoutType, WorkflowTaskFailedCause  # noqa: E402
from temporalio.client import Client  # noqa: E402

from bench.records import bio  # noqa: E402
from cli.process import exit_process  # noqa: E402  (ends past the temporalio runtime's teardown)

SPEC = """\
api hr {{
  base    "{url}"
  auth    bearer
  timeout {timeout}
  retry   5 times backoff 1s .. 10s
}}

entity Group  {{ id string  name string  members [Member] }}
entity Member {{ id string  name string  bio string }}

workflow GroupWorkflow manages Group {{
  source hr get "/groups/{{id}}"
  child members -> MemberWorkflow {{ autostart  subscribe update "*" }}
}}
workflow MemberWorkflow manages Member {{ source hr get "/members/{{id}}" }}

deploy GroupWorkflow "{gid}" {{ token hr from env "HR_TOKEN" }}
"""
FAILURES = re.compile(r"Failed activation|deadlock|eviction job|TMPRL1103|exceeded the error limit", re.I)


@dataclass
class Run:
    """One size's deployment: its directory (spec, registrations, payload store), worker."""

    size: int
    directory: Path
    address: str
    api: object
    gid: str
    worker: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def root(self) -> str:
        return f"Group-{self.gid}"

    @property
    def store(self) -> Path:
        return self.directory / ".swfc" / "payloads"

    def env(self, token: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(REPO), HR_TOKEN=token, SWFC_PAYLOAD_STORE=str(self.store),
                   PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "swfc-scale-pycache"))
        return env

    def swfc(self, *args: str, token: str = "scale-token-0", timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=self.directory, env=self.env(token),
                              capture_output=True, text=True, timeout=timeout)

    def write_spec(self, name: str, timeout: str) -> Path:
        path = self.directory / name
        path.write_text(SPEC.format(url=self.api.url, timeout=timeout, gid=self.gid))
        return path

    async def start_worker(self, spec: Path) -> None:
        """Run `swfc worker` for `spec`; returns once it polls (its first line says so)."""
        self.stop_worker()
        self.log = self.directory / f"worker-{spec.stem}.log"
        with open(self.log, "w") as sink:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", str(spec), "--address", self.address,
                 "--task-queue", f"scale-{self.size}"], cwd=self.directory, env=self.env("scale-token-0"),
                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        await until(lambda: "worker on " in self.log.read_text(), 120, interval=0.2)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(2)
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def rss_mb(self) -> float:
        text = Path(f"/proc/{self.worker.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024

    def failed_tasks(self) -> int:
        logs = self.directory.glob("worker-*.log")
        return sum(1 for log in logs for line in log.read_text(errors="replace").splitlines() if FAILURES.search(line))


def serve_group(api, gid: str, size: int, record_bytes: int, prose: bool = False) -> None:
    ids = [f"{gid}-m{i:05}" for i in range(size)]
    api.set_entity(f"/groups/{gid}", {"id": gid, "name": "scale", "members": ids})
    for rid in ids:
        api.set_entity(f"/members/{rid}", {"id": rid, "name": f"member {rid}", "bio": bio(rid, record_bytes, prose)})
    api.require_auth("/", "scale-token-0", "scale-token-1")


async def until(check, timeout: float, interval: float = 2.0, progress=None) -> float:
    """Seconds until `check()` (sync or async) is true; raises TimeoutError after `timeout`.
    `progress()` (a line to print), once a minute."""
    start = said = time.monotonic()
    while not await _value(check()):
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not done after {timeout:.0f}s")
        if progress is not None and time.monotonic() - said >= 60:
            said = time.monotonic()
            print(f"  {said - start:.0f} s: {await _value(progress())}", flush=True)
        await asyncio.sleep(interval)
    return time.monotonic() - start


async def members_held(client: Client, run: Run) -> int:
    try:
        state = await client.get_workflow_handle(run.root).query("state")
    except Exception:  # noqa: BLE001 - not started or busy: not there yet
        return 0
    return state["tables"].get("Member", 0)


async def history(client: Client, wid: str) -> tuple[int, int]:
    events = (await client.get_workflow_handle(wid).fetch_history()).events
    return len(events), sum(e.ByteSize() for e in events)


async def task_record(client: Client, wid: str) -> tuple[list[str], float, str, int, list[float]]:
    """Over every run of `wid`: workflow tasks that failed (their causes) or timed out while
    a worker ran them, the longest task (started to completed, seconds: what the task's
    timeout measures) and where it is (the run's start time, the completion's event id), and
    how many tasks waited past the sticky queue's schedule-to-start timeout (a worker too busy
    to take its cached workflow's task within 5 s: the server hands the task to the task
    queue instead, nothing fails), and how long each task that continued as new took (a
    signal that arrives meanwhile has the continue-as-new refused: the shorter, the rarer)."""
    failed, longest, where, requeued, continuing = [], 0.0, "", 0, []
    async for run in client.list_workflows(f"WorkflowId = '{wid}'"):
        started, took = None, 0.0
        events = (await client.get_workflow_handle(wid, run_id=run.run_id).fetch_history()).events
        for event in events:
            kind, at = event.event_type, event.event_time.ToDatetime()
            if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                started = at
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and started is not None:
                took = (at - started).total_seconds()
                if took > longest:
                    longest, where = took, f"run of {run.start_time:%H:%M:%S}, event {event.event_id}"
            elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                continuing.append(took)
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                cause = WorkflowTaskFailedCause.Name(event.workflow_task_failed_event_attributes.cause)
                after = f", {(at - started).total_seconds():.2f} s after it started" if started is not None else ""
                failed.append(f"{cause.removeprefix('WORKFLOW_TASK_FAILED_CAUSE_')} at {_clock(event)}{after}"
                              f"{_arrived_during(events, event.event_id)}")
            elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timeout = event.workflow_task_timed_out_event_attributes.timeout_type
                if timeout == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START:
                    requeued += 1
                else:
                    failed.append(f"timed out at {_clock(event)}")
    return failed, longest, where, requeued, continuing


def _arrived_during(events, failed_id: int) -> str:
    """What arrived while a refused task ran (signals with their senders, an `update`'s
    `from`): the server holds it back until the task ends, then writes it after the failed
    event, before the next task starts."""
    arrivals = []
    for event in events[failed_id:]:  # event ids count from 1: these follow the failed event
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            break
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            arrivals.append(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower())
            continue
        attributes = event.workflow_execution_signaled_event_attributes
        try:
            sender = json.loads(attributes.input.payloads[0].data).get("from")
        except (ValueError, IndexError, AttributeError):
            sender = None
        arrivals.append(f"{attributes.signal_name} from {sender or '?'}")
    return f"; meanwhile: {', '.join(arrivals)}" if arrivals else ""


async def members_task_record(client: Client, wids: list[str]) -> tuple[int, list[str]]:
    """Over the current run of every workflow of `wids`: how many workflow tasks failed, and
    each task that timed out while a worker held it (a task the worker took and never
    completed waits out its whole timeout before it runs again): the workflow, and when the
    task was scheduled, started and timed out, and who started it."""
    limit, failed, timed_out = asyncio.Semaphore(32), 0, []

    async def one(wid: str) -> None:
        nonlocal failed
        async with limit:
            events = (await client.get_workflow_handle(wid).fetch_history()).events
        by_id = {e.event_id: e for e in events}
        for event in events:
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failed += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                attributes = event.workflow_task_timed_out_event_attributes
                if attributes.timeout_type != TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE:
                    continue
                started = by_id[attributes.started_event_id]
                scheduled = by_id[attributes.scheduled_event_id]
                timed_out.append(f"{wid}: scheduled {_clock(scheduled)} (event {scheduled.event_id}), started "
                                 f"{_clock(started)} by {started.workflow_task_started_event_attributes.identity}, "
                                 f"timed out {_clock(event)}")

    await asyncio.gather(*(one(w) for w in wids))
    return failed, sorted(timed_out)


def _clock(event) -> str:
    return f"{event.event_time.ToDatetime():%H:%M:%S.%f}"[:-3]


def status_cli(run: Run) -> float:
    """Seconds `swfc status ROOT` takes (its default output, as a user runs it)."""
    start = time.monotonic()
    shown = run.swfc("status", run.root, "--address", run.address, timeout=3600)
    assert shown.returncode == 0, shown.stderr
    return time.monotonic() - start


def member_ids(run: Run) -> list[str]:
    return [f"Member-{run.gid}-m{i:05}" for i in range(run.size)]


async def wait_for_tokens(client: Client, wids: list[str], fingerprint: str, timeout: float) -> float:
    """Seconds until every workflow of `wids` holds the token of `fingerprint` (its `status`
    query; a workflow that holds it is not asked again)."""
    pending, limit = set(wids), asyncio.Semaphore(32)

    async def holds(wid: str) -> bool:
        async with limit:
            try:
                status = await client.get_workflow_handle(wid).query("status")
            except Exception:  # noqa: BLE001 - busy or between runs: asked again
                return False
            return (status.get("tokens") or {}).get("hr") == fingerprint

    async def everyone() -> bool:
        ids = sorted(pending)
        answers = await asyncio.gather(*(holds(w) for w in ids))
        pending.difference_update(w for w, ok in zip(ids, answers) if ok)
        return not pending

    return await until(everyone, timeout, interval=5, progress=lambda: f"{len(pending):,} not rotated yet")


async def measure(address: str, metrics_port: int, api, size: int, record_bytes: int, prose: bool, timeout: float, last: bool,
                  load_only: bool = False) -> dict:
    from runtime.temporal_client import connect
    from runtime.payloads import stored_bytes

    run = Run(size, Path(tempfile.mkdtemp(prefix=f"swfc-scale-{size}-")), address, api, f"s{size}-{os.getpid()}")
    print(f"  in {run.directory} (worker logs), server {address}", flush=True)
    serve_group(api, run.gid, size, record_bytes, prose)
    spec = run.write_spec("v1.swf", "10s")
    client = await connect(address, payload_store=run.store)
    out: dict = {"size": size}
    try:
        await run.start_worker(spec)
        server_before = server_cpu(address)
        metrics_before = server_metrics(metrics_port)
        started = time.monotonic()
        deployed = run.swfc("deploy", str(spec), "--name", "scale", "--address", address,
                            "--task-queue", f"scale-{size}", "--no-worker")
        assert deployed.returncode == 0, deployed.stderr
        await until(lambda: holds_every_member(client, run), timeout, progress=lambda: held_line(client, run))
        out["load_s"] = time.monotonic() - started
        out["per_child_ms"] = out["load_s"] / size * 1000
        out["worker_cpu_ms_per_child"] = cpu_seconds(run.worker.pid) / size * 1000
        out["server_cpu_ms_per_child"] = (server_cpu(address) - server_before) / size * 1000
        out["server_work"] = metrics_per_child(metrics_before, server_metrics(metrics_port), size)
        print(f"  loaded in {out['load_s']:.0f} s ({out['per_child_ms']:.0f} ms/child, done at "
              f"{time.strftime('%H:%M:%S', time.gmtime())} UTC); CPU per child while loading: "
              f"worker {out['worker_cpu_ms_per_child']:.0f} ms, dev server {out['server_cpu_ms_per_child']:.0f} ms", flush=True)
        print("  the dev server's work per child while loading (its busiest operations):", flush=True)
        print_server_work(out["server_work"])
        # Right after the load: an upgrade continues every member as new, and the runs
        # looked at below are the current ones.
        out["member_failed_tasks"], timed_out = await members_task_record(client, member_ids(run))
        out["member_timed_out_tasks"] = len(timed_out)
        for line in timed_out[:10]:
            print(f"  a member's task timed out while loading: {line}", flush=True)
        out["status_s"] = status_cli(run)
        print(f"  swfc status: {out['status_s']:.1f} s", flush=True)
        if last and not load_only:
            await upgrade_and_rotate(client, run, out, timeout)
        record = await task_record(client, run.root)
        out["root_failed_tasks"], out["longest_task_s"], out["longest_task_at"], out["root_requeued_tasks"], can = record
        if can:
            print(f"  the root continued as new {len(can)} times; those tasks took {min(can):.2f}-{max(can):.2f} s "
                  f"(median {sorted(can)[len(can) // 2]:.2f} s)", flush=True)
        out["failed_tasks"] = run.failed_tasks() + len(out["root_failed_tasks"]) + out["member_failed_tasks"]
        out["rss_mb"] = run.rss_mb()
        out["root_events"], out["root_bytes"] = await history(client, run.root)
        out["child_events"], out["child_bytes"] = await history(client, f"Member-{run.gid}-m00000")
        out["stored_mb"] = (stored_bytes(run.store) or 0) / 1e6
    finally:
        run.stop_worker()
    await terminate(client, [run.root, *member_ids(run)])  # the next size has the server to itself
    return out


METRIC_LINE = re.compile(r'^(persistence_latency|service_latency|mutable_state_size)_(sum|count)\{([^}]*)\} (\S+)$')


def server_metrics(port: int) -> dict[tuple[str, str], float]:
    """The dev server's per-operation totals (its Prometheus endpoint): (metric, operation) -> value.

    `persistence_latency` and `service_latency` give each operation's count and seconds;
    `mutable_state_size` the bytes of the workflows' state the history service wrote.
    """
    import urllib.request

    totals: dict[tuple[str, str], float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        for line in response.read().decode().splitlines():
            matched = METRIC_LINE.match(line)
            if matched and 'namespace="default"' in matched.group(3):
                name, part, labels, value = matched.groups()
                operation = re.search(r'operation="([^"]*)"', labels)
                key = (f"{name}_{part}", operation.group(1) if operation else "")
                totals[key] = totals.get(key, 0.0) + float(value)
    return totals


def metrics_per_child(before: dict, after: dict, size: int) -> dict[str, dict[str, float]]:
    """Per child, for each (metric, operation): how many, and milliseconds (or bytes) in all."""
    per: dict[str, dict[str, float]] = {}
    for (name, operation), value in after.items():
        metric = name.rsplit("_", 1)[0]
        field = "n" if name.endswith("_count") else ("bytes" if metric == "mutable_state_size" else "ms")
        delta = value - before.get((name, operation), 0.0)
        scale = 1000 if field == "ms" else 1
        per.setdefault(f"{metric}:{operation}", {})[field] = round(delta * scale / size, 3)
    return {k: v for k, v in per.items() if v.get("n", 0) > 0}


def print_server_work(per: dict[str, dict[str, float]], top: int = 12) -> None:
    busiest = sorted(per.items(), key=lambda kv: -kv[1].get("ms", kv[1].get("bytes", 0) / 1e6))[:top]
    for key, value in busiest:
        amount = f"{value['ms']:.2f} ms" if "ms" in value else f"{value['bytes'] / 1e3:.1f} KB"
        print(f"    {key:60} {value['n']:7.2f} per child  {amount}", flush=True)


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process `pid` has used so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(address: str) -> float:
    return sum(cpu_seconds(pid) for pid in dev_server_pids(address))


def dev_server_pids(address: str) -> list[int]:
    """The `temporal server start-dev` process serving `address` (its command line names the port)."""
    port = address.rsplit(":", 1)[1]
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in argv and port.encode() in argv:
            pids.append(int(proc.name))
    return pids


async def terminate(client: Client, wids: list[str]) -> None:
    limit = asyncio.Semaphore(32)

    async def one(wid: str) -> None:
        async with limit:
            try:
                await client.get_workflow_handle(wid).terminate("bench/scale.py: measured")
            except Exception:  # noqa: BLE001 - not running: nothing to end
                pass

    await asyncio.gather(*(one(w) for w in wids))


async def _value(value):
    return await value if inspect.isawaitable(value) else value


async def holds_every_member(client: Client, run: Run) -> bool:
    return await members_held(client, run) >= run.size


async def held_line(client: Client, run: Run) -> str:
    return f"the parent holds {await members_held(client, run):,} member records"


async def upgrade_and_rotate(client: Client, run: Run, out: dict, timeout: float) -> None:
    from runtime.sealing import fingerprint

    edited = run.write_spec("v2.swf", "11s")
    await run.start_worker(edited)  # holds v2 and, from .swfc/registrations, v1
    loads = len(run.api.requests_to("/members/*"))
    started = time.monotonic()
    upgraded = run.swfc("deploy", str(edited), "--name", "scale", "--address", run.address,
                        "--task-queue", f"scale-{run.size}", "--no-worker")
    assert upgraded.returncode == 0, upgraded.stderr
    await until(lambda: len(run.api.requests_to("/members/*")) - loads >= run.size, timeout,
                progress=lambda: f"{len(run.api.requests_to('/members/*')) - loads:,} members reloaded")
    out["upgrade_s"] = time.monotonic() - started
    print(f"  upgraded in {out['upgrade_s']:.0f} s (done at {time.strftime('%H:%M:%S', time.gmtime())} UTC)", flush=True)
    started = time.monotonic()
    rotated = run.swfc("token", "set", run.root, "--api", "hr", "--from-env", "HR_TOKEN", "--address", run.address,
                       token="scale-token-1")
    assert rotated.returncode == 0, rotated.stderr
    await wait_for_tokens(client, [run.root, *member_ids(run)], fingerprint("scale-token-1"), timeout)
    out["rotation_s"] = time.monotonic() - started
    print(f"  rotated in {out['rotation_s']:.0f} s (done at {time.strftime('%H:%M:%S', time.gmtime())} UTC)", flush=True)
    out["rotated"] = True


def server_work_compared(small: dict, large: dict, top: int = 12) -> str:
    """The dev server's operations whose time per child grew the most from the smallest size to the largest."""
    a, b = small["server_work"], large["server_work"]
    grown = sorted(b, key=lambda k: -(b[k].get("ms", 0) - a.get(k, {}).get("ms", 0)))[:top]
    lines = [f"\nthe dev server's work per child, {small['size']:,} -> {large['size']:,} (count; ms), most grown first:"]
    for key in grown:
        was, now = a.get(key, {}), b[key]
        lines.append(f"  {key:60} {was.get('n', 0):6.2f} -> {now['n']:6.2f}   {was.get('ms', 0):7.2f} -> {now.get('ms', 0):7.2f} ms")
    size = "mutable_state_size:"
    for key in sorted(k for k in b if k.startswith(size)):
        was, now = a.get(key, {}), b[key]
        lines.append(f"  {key:60} {was.get('n', 0):6.2f} -> {now['n']:6.2f}   "
                     f"{was.get('bytes', 0) / 1e3:7.1f} -> {now.get('bytes', 0) / 1e3:7.1f} KB")
    return "\n".join(lines)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def table(results: list[dict]) -> str:
    rows = [("children", "load s", "ms/child", "status s", "upgrade s", "rotation s", "failed tasks",
             "member tasks timed out", "root tasks requeued", "longest root task s", "worker RSS MB", "root history", "child history",
             "stored MB")]
    for r in results:
        rows.append((f"1 + {r['size']:,}", f"{r['load_s']:.0f}", f"{r['per_child_ms']:.1f}", f"{r['status_s']:.1f}",
                     f"{r['upgrade_s']:.0f}" if "upgrade_s" in r else "-",
                     f"{r['rotation_s']:.0f}" if "rotation_s" in r else "-", str(r["failed_tasks"]),
                     str(r["member_timed_out_tasks"]),
                     str(r["root_requeued_tasks"]), f"{r['longest_task_s']:.1f}",
                     f"{r['rss_mb']:.0f}", f"{r['root_events']} ev / {r['root_bytes'] / 1e3:.0f} KB",
                     f"{r['child_events']} ev / {r['child_bytes'] / 1e3:.1f} KB", f"{r['stored_mb']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    if len(results) > 1:
        ratio = results[-1]["per_child_ms"] / results[0]["per_child_ms"]
        lines.append(f"\nper-child load time, {results[-1]['size']:,} vs {results[0]['size']:,}: "
                     f"{ratio:.2f}x (target <= 1.2)")
    return "\n".join(lines)


async def main(sizes: list[int], record_bytes: int, prose: bool, timeout: float, load_only: bool = False) -> None:
    from temporalio.testing import WorkflowEnvironment

    from cli.devserver import SIZED_FOR_10K, find_temporal_binary
    from sample_api import SampleAPI

    metrics_port = free_port()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_temporal_binary()), dev_server_log_level="error",
        dev_server_extra_args=[*SIZED_FOR_10K, "--metrics-port", str(metrics_port)])
    address = env.client.service_client.config.target_host
    results = []
    try:
        with SampleAPI().start() as api:
            for size in sizes:
                print(f"1 + {size:,} children ...", flush=True)
                results.append(await measure(address, metrics_port, api, size, record_bytes, prose, timeout, size == sizes[-1], load_only))
                print({k: v for k, v in results[-1].items() if k != "server_work"}, flush=True)
    finally:
        await env.shutdown()
    print(table(results))
    if len(results) > 1:
        print(server_work_compared(results[0], results[-1]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--record-bytes", type=int, default=2048)
    parser.add_argument("--prose", action="store_true",
                        help="members' bios of markdown and non-ASCII text, as an issue tracker's (default: x's)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per phase at most")
    parser.add_argument("--load-only", action="store_true", help="no upgrade and rotation at the largest size")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.record_bytes, args.prose, args.timeout, args.load_only))
    sys.exit(exit_process(0))
