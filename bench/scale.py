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
    at the largest size to that at the smallest (target <= 1.2);
 2. `swfc status` of the hierarchy (the walk of every workflow's `status` query): seconds;
then, for the largest size:
 3. an upgrade: `deploy` of an edited spec (a worker holding it replaces the first), until
    every workflow has reloaded under it (the API's request log);
 4. a token rotation: `swfc token set` at the root, until every workflow holds the new
    token (the status walk);
and at the end of each size: failed workflow tasks (the worker's log: failed activations,
deadlocks, evictions that could not run), the worker's RSS, the root's history (events,
bytes) and the bytes in the payload store.

Usage: python bench/scale.py [--sizes 1000,10000] [--record-bytes 2048] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import inspect
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

from temporalio.client import Client  # noqa: E402

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


def serve_group(api, gid: str, size: int, record_bytes: int) -> None:
    ids = [f"{gid}-m{i:05}" for i in range(size)]
    api.set_entity(f"/groups/{gid}", {"id": gid, "name": "scale", "members": ids})
    for rid in ids:
        api.set_entity(f"/members/{rid}", {"id": rid, "name": f"member {rid}", "bio": "x" * record_bytes})
    api.require_auth("/", "scale-token-0", "scale-token-1")


async def until(check, timeout: float, interval: float = 2.0) -> float:
    """Seconds until `check()` (sync or async) is true; raises TimeoutError after `timeout`."""
    start = time.monotonic()
    while not await _value(check()):
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not done after {timeout:.0f}s")
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


async def status_walk(client: Client, run: Run) -> tuple[float, dict]:
    from runtime.status_tree import collect_status

    start = time.monotonic()
    tree = await collect_status(client, run.root)
    return time.monotonic() - start, tree


async def measure(address: str, api, size: int, record_bytes: int, timeout: float, last: bool) -> dict:
    from runtime.temporal_client import connect
    from runtime.payloads import stored_bytes

    run = Run(size, Path(tempfile.mkdtemp(prefix=f"swfc-scale-{size}-")), address, api, f"s{size}-{os.getpid()}")
    serve_group(api, run.gid, size, record_bytes)
    spec = run.write_spec("v1.swf", "10s")
    client = await connect(address, payload_store=run.store)
    out: dict = {"size": size}
    try:
        await run.start_worker(spec)
        started = time.monotonic()
        deployed = run.swfc("deploy", str(spec), "--address", address, "--task-queue", f"scale-{size}", "--no-worker")
        assert deployed.returncode == 0, deployed.stderr
        await until(lambda: holds_every_member(client, run), timeout)
        out["load_s"] = time.monotonic() - started
        out["per_child_ms"] = out["load_s"] / size * 1000
        out["status_s"], tree = await status_walk(client, run)
        out["workflows"] = len({n.workflow_id for n in tree.walk()})
        if last:
            await upgrade_and_rotate(client, run, out, timeout)
        out["failed_tasks"] = run.failed_tasks()
        out["rss_mb"] = run.rss_mb()
        out["root_events"], out["root_bytes"] = await history(client, run.root)
        out["child_events"], out["child_bytes"] = await history(client, f"Member-{run.gid}-m00000")
        out["stored_mb"] = (stored_bytes(run.store) or 0) / 1e6
    finally:
        run.stop_worker()
    return out


async def _value(value):
    return await value if inspect.isawaitable(value) else value


async def holds_every_member(client: Client, run: Run) -> bool:
    return await members_held(client, run) >= run.size


async def upgrade_and_rotate(client: Client, run: Run, out: dict, timeout: float) -> None:
    from runtime.status_tree import collect_status
    from runtime.sealing import fingerprint

    edited = run.write_spec("v2.swf", "11s")
    await run.start_worker(edited)  # holds v2 and, from .swfc/registrations, v1
    loads = len(run.api.requests_to("/members/*"))
    started = time.monotonic()
    upgraded = run.swfc("deploy", str(edited), "--address", run.address, "--task-queue", f"scale-{run.size}", "--no-worker")
    assert upgraded.returncode == 0, upgraded.stderr
    await until(lambda: len(run.api.requests_to("/members/*")) - loads >= run.size, timeout)
    out["upgrade_s"] = time.monotonic() - started
    started = time.monotonic()
    rotated = run.swfc("token", "set", run.root, "--api", "hr", "--from-env", "HR_TOKEN", "--address", run.address,
                       token="scale-token-1")
    assert rotated.returncode == 0, rotated.stderr
    new = fingerprint("scale-token-1")

    async def everyone_holds_it() -> bool:
        tree = await collect_status(client, run.root)
        return all(n.tokens.get("hr") == new for n in tree.walk())

    await until(everyone_holds_it, timeout, interval=5)
    out["rotation_s"] = time.monotonic() - started
    out["rotated"] = True


def table(results: list[dict]) -> str:
    rows = [("children", "load s", "ms/child", "status s", "upgrade s", "rotation s", "failed tasks",
             "worker RSS MB", "root history", "child history", "stored MB")]
    for r in results:
        rows.append((f"1 + {r['size']:,}", f"{r['load_s']:.0f}", f"{r['per_child_ms']:.1f}", f"{r['status_s']:.1f}",
                     f"{r['upgrade_s']:.0f}" if "upgrade_s" in r else "-",
                     f"{r['rotation_s']:.0f}" if "rotation_s" in r else "-", str(r["failed_tasks"]),
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


async def main(sizes: list[int], record_bytes: int, timeout: float) -> None:
    from temporalio.testing import WorkflowEnvironment

    from cli.devserver import find_temporal_binary
    from sample_api import SampleAPI

    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_temporal_binary()),
                                                dev_server_log_level="error")
    address = env.client.service_client.config.target_host
    results = []
    try:
        with SampleAPI().start() as api:
            for size in sizes:
                print(f"1 + {size:,} children ...", flush=True)
                results.append(await measure(address, api, size, record_bytes, timeout, size == sizes[-1]))
                print(results[-1], flush=True)
    finally:
        await env.shutdown()
    print(table(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--record-bytes", type=int, default=2048)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per phase at most")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.record_bytes, args.timeout))
