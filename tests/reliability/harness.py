"""A hierarchy deployed the way a user deploys it, to break and then account for.

`Deployment` writes a spec (a `Store` root managing `Item` children, both loaded over HTTP
with a bearer token) against a real loopback `SampleAPI`, runs `swfc worker` processes and
the `swfc deploy`/`status`/`token set` commands as subprocesses, and keeps everything they
print. `Deployment.outcome()` then counts what the reliability table reports, from the
outside only:

- loaded / errored / silent: from `swfc status --format json` (what a user sees); a
  workflow that has not loaded must say why (`last_error`), else it is "silent";
- duplicates: from Temporal's list API, executions per workflow id that are not a
  continue-as-new link, plus ids nobody asked for;
- task failures: `WorkflowTaskFailed` events in every run's history, and activations a
  worker reports as failed (a deadlocked one never reaches history if it is retried);
- token leaks: occurrences of any token's plain text in every run's history (payloads
  decoded), memos, query results, worker logs and CLI output;
- uncaught: tracebacks printed by a worker or a CLI command;
- disallowed requests: requests carrying a token that reached a server not in `allow`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from temporalio.client import Client, WorkflowExecutionStatus

from sample_api import SampleAPI
from tests.helpers import assert_eventually, decoded_payloads, gather_bounded, run_swfc, spawn_swfc

SPEC = """\
api shop {{
  base    "{base}"
  auth    bearer
  allow   "127.0.0.1:{port}"{also_allow}
  timeout {timeout}
  retry   {retries} times backoff 100ms .. 1s
}}

entity Store {{
  id    string
  name  string
  items [Item]
}}

entity Item {{
  id    string
  title string
  price number
}}

workflow StoreWorkflow manages Store {{
  source shop get "/stores/{{id}}"{store_every}
  child items -> ItemWorkflow {{
    autostart
    cancel on delete
  }}
}}

workflow ItemWorkflow manages Item {{
  source shop get "/items/{{id}}"{item_every}
}}

deploy StoreWorkflow "{store}" {{
  token shop from env "SHOP_TOKEN"
}}
"""


SPAWNED: list[subprocess.Popen[str]] = []  # every worker started, for `kill_stray_workers`


def kill_stray_workers() -> None:
    """Kill workers still running (a scenario that crashed, an interrupted run): they run in
    their own sessions, so an interrupt does not reach them."""
    for proc in SPAWNED:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def poll_until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5) -> bool:
    """Await `check()` until it is true or `timeout` seconds have passed; returns the last
    answer (scenarios report what did not happen instead of failing at once)."""
    try:
        return await assert_eventually(check, timeout=timeout, interval=interval)
    except AssertionError:
        return False


def new_token(label: str = "tok") -> str:
    return f"{label}-{base64.b32encode(os.urandom(15)).decode().lower()}"


@dataclass
class Outcome:
    """One row of the reliability table."""

    scenario: str
    expected: int = 0
    loaded: int = 0
    errored: int = 0  # not loaded, with the reason in `swfc status`
    silent: int = 0  # neither loaded nor saying why: always a failure
    duplicates: int = 0
    task_failures: int = 0
    token_leaks: int = 0
    disallowed_requests: int = 0
    uncaught: int = 0
    problems: list[str] = field(default_factory=list)  # scenario-specific checks that failed
    notes: list[str] = field(default_factory=list)  # figures worth printing

    @property
    def ok(self) -> bool:
        return (not self.problems and self.silent == 0 and self.duplicates == 0 and self.task_failures == 0
                and self.token_leaks == 0 and self.disallowed_requests == 0 and self.uncaught == 0
                and self.loaded + self.errored == self.expected)


@dataclass
class Deployment:
    """One Store hierarchy on its own task queue, with unique ids (servers are shared)."""

    client: Client
    address: str
    directory: Path
    api: SampleAPI
    items: int
    timeout: str = "1s"
    retries: int = 3
    item_every: str | None = None
    store_every: str | None = None
    base: str | None = None  # default: the api's own http URL
    also_allow: tuple[str, ...] = ()  # origins `allow` lists besides the api's
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    tokens: list[str] = field(default_factory=list)  # every token used so far, for the leak search
    cli_output: list[str] = field(default_factory=list)
    workers: list[subprocess.Popen[str]] = field(default_factory=list)
    worker_logs: list[Path] = field(default_factory=list)
    attack_problems: list[str] = field(default_factory=list)  # what a security scenario saw go wrong
    intruders: list[str] = field(default_factory=list)  # workflow ids an attack started by hand

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.task_queue = f"rel-{self.run}"
        self.store_id = f"s{self.run}"
        self.item_ids = [f"i{self.run}-{n}" for n in range(self.items)]
        self.spec = self.directory / "store.swf"
        self.write_spec()
        if not self.tokens:
            self.tokens.append(new_token())
        self.api.require_auth("/", self.token)
        self.api.set_entity(f"/stores/{self.store_id}", {"id": self.store_id, "name": "Store", "items": self.item_ids})
        for n, iid in enumerate(self.item_ids):
            self.api.set_entity(f"/items/{iid}", self.item(iid, n))

    def write_spec(self) -> None:
        """(Re)write the spec from the fields (a scenario may change `also_allow` and redeploy)."""
        self.spec.write_text(SPEC.format(
            base=self.base or self.api.url, port=self.api.port, timeout=self.timeout, retries=self.retries,
            also_allow="".join(f', "{o}"' for o in self.also_allow),
            store=self.store_id,
            store_every=f" every {self.store_every}" if self.store_every else "",
            item_every=f" every {self.item_every}" if self.item_every else ""))

    # -- ids and data ----------------------------------------------------------------

    @staticmethod
    def item(iid: str, n: int) -> dict[str, Any]:
        return {"id": iid, "title": f"item {n}", "price": float(n)}

    @property
    def token(self) -> str:
        return self.tokens[-1]

    @property
    def root(self) -> str:
        return f"Store-{self.store_id}"

    @property
    def expected_ids(self) -> list[str]:
        return [self.root, *(f"Item-{i}" for i in self.item_ids)]

    # -- processes -------------------------------------------------------------------

    def swfc(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run a CLI command against this deployment's server; its output is kept."""
        done = run_swfc(*args, "--address", self.address, env={"SHOP_TOKEN": self.token, **(env or {})},
                        cwd=self.directory, timeout=timeout)
        self.cli_output += [done.stdout, done.stderr]
        return done

    def start_worker(self, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """`swfc worker` in the background (`env`: more environment), its output to a log file."""
        log = self.directory / f"worker-{len(self.workers)}.log"
        proc = spawn_swfc("worker", str(self.spec), "--address", self.address, "--task-queue", self.task_queue,
                          cwd=self.directory, log=log, env=env)
        self.workers.append(proc)
        self.worker_logs.append(log)
        SPAWNED.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen[str]) -> None:
        """SIGKILL: no shutdown, no flush; what a crashed host or the OOM killer does."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_workers(self) -> None:
        """Stop every worker (Ctrl-C, then kill); their logs are then complete."""
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def worker_output(self) -> list[str]:
        return [log.read_text(errors="replace") for log in self.worker_logs]

    def deploy(self) -> subprocess.CompletedProcess[str]:
        done = self.swfc("deploy", str(self.spec), "--no-worker", "--task-queue", self.task_queue)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def rotate(self, token: str) -> subprocess.CompletedProcess[str]:
        """`swfc token set ROOT --api shop --from-env NEW` with a new token."""
        self.tokens.append(token)
        return self.swfc("token", "set", self.root, "--api", "shop", "--from-env", "NEW_SHOP_TOKEN",
                         env={"NEW_SHOP_TOKEN": token})

    # -- watching --------------------------------------------------------------------

    async def statuses(self, workflow_ids: list[str] | None = None) -> dict[str, dict[str, Any] | None]:
        """The `status` query of each workflow (None: not there or not answering)."""
        ids = self.expected_ids if workflow_ids is None else workflow_ids

        async def one(wid: str) -> dict[str, Any] | None:
            try:
                return await asyncio.wait_for(self.client.get_workflow_handle(wid).query("status"), 15)
            except Exception:  # noqa: BLE001 - not started yet, no worker right now…
                return None

        return dict(zip(ids, await gather_bounded(one(w) for w in ids)))

    async def wait(self, settled: Any = None, timeout: float = 120.0) -> dict[str, dict[str, Any] | None]:
        """Poll until `settled(status)` has held for every workflow (default: loaded);
        returns everyone's status at the end either way (the outcome says what did not
        settle). A workflow is not asked again once it has settled."""
        settled = settled or (lambda st: st["loaded"] and st["status"] == "running")
        pending = list(self.expected_ids)

        async def all_settled() -> bool:
            nonlocal pending
            answers = await self.statuses(pending)
            pending = [w for w, st in answers.items() if st is None or not settled(st)]
            return not pending

        await poll_until(all_settled, timeout, interval=1.0)
        return await self.statuses()

    # -- accounting ------------------------------------------------------------------

    async def outcome(self, scenario: str, *, outside: list[SampleAPI] = ()) -> Outcome:
        """Count the table's columns (see the module docstring); stops the workers first so
        their logs are complete."""
        status_run = self.swfc("status", self.root, "--format", "json")
        out = Outcome(scenario, expected=len(self.expected_ids))
        self._count_statuses(out, status_run)
        executions = await self._executions()
        self._count_duplicates(out, executions)
        histories, answers = await self._exported_texts(executions)
        self.stop_workers()  # worker logs are complete once they have exited
        logs = self.worker_output()
        printed = self.cli_output + logs
        texts = histories + answers + printed
        # History records the first failure of a failing task, the worker log every attempt.
        out.task_failures = max(sum(h.count("EVENT_TYPE_WORKFLOW_TASK_FAILED") for h in histories),
                                sum(text.count("Failed handling activation") for text in logs))
        out.token_leaks = sum(text.count(token) for text in texts for token in self.tokens)
        out.uncaught = sum(text.count("Traceback (most recent call last)") for text in printed)
        out.disallowed_requests = sum(1 for api in outside for r in api.log()
                                      if r.auth and any(t in r.auth for t in self.tokens))
        return out

    def _count_statuses(self, out: Outcome, status_run: subprocess.CompletedProcess[str]) -> None:
        try:
            tree = json.loads(status_run.stdout)
        except ValueError:
            out.problems.append(f"swfc status printed no JSON (exit {status_run.returncode}): {status_run.stderr[-300:]}")
            out.silent = out.expected
            return
        seen: dict[str, dict[str, Any]] = {}
        stack = [tree]
        while stack:
            node = stack.pop()
            seen[node["workflow_id"]] = node
            stack += node.get("children") or []
        for wid in self.expected_ids:
            node = seen.get(wid)
            # `loading` on loaded data is a refresh in flight (`every`): the data is held
            if node is not None and node.get("loaded") and node.get("status") in ("running", "loading"):
                out.loaded += 1
            elif node is not None and node.get("last_error"):
                out.errored += 1
            else:
                out.silent += 1
                if len(out.problems) < 5:
                    out.problems.append(f"{wid}: not loaded and no reason shown: {node}")

    async def _executions(self) -> list[Any]:
        return [e async for e in self.client.list_workflows(f"TaskQueue = '{self.task_queue}'")]

    def _count_duplicates(self, out: Outcome, executions: list[Any]) -> None:
        live = Counter(e.id for e in executions if e.status != WorkflowExecutionStatus.CONTINUED_AS_NEW)
        expected = set(self.expected_ids)
        out.duplicates = sum(n - 1 for n in live.values() if n > 1) \
            + sum(1 for wid in live if wid not in expected and wid not in self.intruders)
        missing = expected - set(live)
        if missing:
            out.problems.append(f"{len(missing)} workflows never started, e.g. {sorted(missing)[:3]}")

    async def _exported_texts(self, executions: list[Any]) -> tuple[list[str], list[str]]:
        """Per run: its history as exported JSON plus every payload decoded; then per
        workflow: its memo and every query answer."""
        async def history(e: Any) -> str:
            h = await self.client.get_workflow_handle(e.id, run_id=e.run_id).fetch_history()
            doc = h.to_json_dict()
            decoded = b"\n".join(decoded_payloads(doc)).decode("utf-8", "replace")
            return json.dumps(doc) + "\n" + decoded

        async def visible(wid: str) -> str:
            handle = self.client.get_workflow_handle(wid)
            parts = [json.dumps(await (await handle.describe()).memo(), default=str)]
            for name in ("status", "state", "apiToken", "apiUrl", "pendingChanges", "subscriptions"):
                try:
                    parts.append(json.dumps(await handle.query(name), default=str))
                except Exception as exc:  # noqa: BLE001 - a closed workflow answers no queries
                    parts.append(str(exc))
            return "\n".join(parts)

        histories = await gather_bounded(history(e) for e in executions)
        queries = await gather_bounded(visible(w) for w in {e.id for e in executions})
        return histories, queries
