"""The runtime's facts in the words of the command line: each typed error of
``runtime.client_errors`` as a message (and exit status), and what deploying each root did.

Stage: the CLI's wording, under ``cli/runtime_cmds.py`` and ``cli/process.py``. Takes the
errors and outcomes the caller's side of the runtime gives (``runtime.roots``,
``runtime.root_upgrade``, ``runtime.tokens``); gives text. What the user can do next (a flag,
a command, ``deploy again``) is said here, in one place, since only the command line knows
its own flags. Imports nothing from temporalio (``cli/process.py`` words errors with it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime import client_errors as errors
from runtime.sealing import SEAL_KEY_ENV

EXIT_CODE = 1  # every ClientError: the environment, the key or the cluster is not right


def short_hash(ir_hash: str) -> str:
    """``sha256:0123456789ab…``: an IR hash short enough for a message."""
    return ir_hash[:19] + "…" if len(ir_hash) > 20 else ir_hash


def _missing_tokens(e: errors.MissingTokens) -> str:
    lines = [f"  ${m.variable}: the {m.api} token of {m.workflow} \"{m.entity_id}\" ({m.workflow_id})"
             for m in e.missing]
    names = ", ".join(sorted({m.variable for m in e.missing}))
    return (f"missing token environment variable(s) {names}:\n" + "\n".join(lines)
            + f"\nexport them (e.g. `export {e.missing[0].variable}=...`) and deploy again")


def unreachable(e: errors.Unreachable, profile: str | None = None) -> str:
    """No connection; ``profile``: the connection profile the settings came from."""
    named = f" (profile {profile})" if profile else ""
    return (f"cannot reach Temporal at {e.address} (namespace {e.namespace}): {e.reason}{named}. "
            f"Is the server running? Pass --address HOST:PORT, set TEMPORAL_ADDRESS, "
            f"or choose a profile with --profile.")


def _api_not_used(e: errors.ApiNotUsed) -> str:
    return (f"{e.workflow_id} does not use api {e.api}, so it would refuse the token "
            f"(its apis: {', '.join(e.held) or 'none'})")


_WORDING: dict[type, Callable[[Any], str]] = {
    errors.TLSFileUnreadable: lambda e: f"cannot read TLS file {e.path}: {e.reason}",
    errors.PayloadStoreUnusable: lambda e: f"--payload-store {e.reason}",
    errors.Unreachable: lambda e: unreachable(e),
    errors.NamespaceNotFound: lambda e: f"namespace {e.namespace} does not exist on {e.address}",
    errors.WorkflowNotFound: lambda e: f"no workflow {e.workflow_id} on {e.address} (namespace {e.namespace})",
    errors.SealKeyUnusable: lambda e: e.reason,
    errors.NoSealKey: lambda e: (f"{e.reason}: run where `swfc deploy` created .swfc/seal.key, or set "
                                 f"{SEAL_KEY_ENV} to the key the workers use"),
    errors.MissingTokens: _missing_tokens,
    errors.BadToken: lambda e: f"${e.variable} cannot be used as the {e.api} token: {e.problem}",
    errors.ApiNotUsed: _api_not_used,
}


def message(exc: errors.ClientError) -> str:
    """What the command line says for ``exc`` (its own text for an error worded already)."""
    wording = _WORDING.get(type(exc))
    return wording(exc) if wording is not None else str(exc)


def exit_code(exc: errors.ClientError) -> int:
    """The exit status for ``exc``: its own ``code`` (the CLI's errors), else ``EXIT_CODE``."""
    return getattr(exc, "code", EXIT_CODE)


def new_key_note(path: Path) -> str:
    return (f"created a new seal key in {path}; workers elsewhere need the same key "
            f"(copy the file, or set {SEAL_KEY_ENV} to its content)")


def unanswered_rotation(workflow_id: str, api: str) -> str:
    return (f"{workflow_id} did not answer the status query; the token was sent anyway "
            f"(a workflow that does not use api {api} refuses it)")


def not_registered(n: Any, command: str) -> str:
    """A ``runtime.search_attributes.NotRegistered``, as ``deploy`` or ``worker`` (``command``) warns."""
    if n.only_problem:
        return (f"the search attribute SwfcProblem is not on namespace {n.namespace} and could not be created "
                f"here ({n.reason}); the hierarchy runs with the other four, and the summary of `swfc status` "
                f"beyond 50 workflows lists the errored and waiting ones but not those running with a recorded "
                f"problem (a refused signal; `--tree` shows them). Create it (on a cluster that needs an operator); "
                f"the hierarchies started after that carry it (running ones keep the four):\n  {n.command}")
    then = ("deploy again" if command == "deploy"
            else "the workflows started after that carry them (`swfc deploy` starts the roots with them)")
    return (f"the search attributes {', '.join(n.missing)} are not on namespace {n.namespace} and could not be "
            f"created here ({n.reason}); the hierarchy runs without them, and `swfc status` walks it. To find it "
            f"in the Web UI and `temporal workflow list`, create them (on a cluster that needs an operator) and "
            f"{then}:\n  {n.command}")


def base_not_allowed(b: Any) -> str:
    """A ``runtime.roots.BaseNotAllowed`` as the warning ``deploy`` prints."""
    return (f"warning: ${b.variable}={b.base} is not allowed for api {b.api} (allow {', '.join(b.allow)}, "
            f"over {b.scheme}): its token will not be sent there")


def foreign_root(f: Any) -> str:
    """A ``runtime.roots.ForeignRoot``."""
    return (f"{f.workflow_id} already runs for deployment {f.theirs!r} (spec {f.theirs}.swf or --name {f.theirs}), "
            f"not for {f.ours!r}: not adopted")


def root_outcome(o: Any) -> str:
    """A ``runtime.roots.RootOutcome`` as the line ``deploy`` prints for that root."""
    elsewhere = (f" on task queue {o.running_queue} (workers here poll {o.task_queue})"
                 if o.running_queue and o.running_queue != o.task_queue else "")
    if o.kind == "started":
        return f"{o.workflow_id}: started ({o.workflow_type}, task queue {o.task_queue})"
    if o.kind == "raced":
        return f"{o.workflow_id}: already running (started concurrently; nothing started)"
    if o.kind == "running":
        return f"{o.workflow_id}: already running{elsewhere} (nothing started)"
    before = f"{o.workflow_id}: running with IR {short_hash(o.running_hash or '')}"
    if o.kind == "other_queue":
        return (f"{before}{elsewhere}; not upgraded: deploy with --task-queue {o.running_queue} "
                f"(its tokens are sealed for that task queue)")
    return before + _upgrade(o.upgrade)


def _upgrade(u: Any) -> str:
    target = short_hash(u.to_hash)
    if u.kind == "upgraded":
        return f": upgraded to {target} (its hierarchy follows)"
    if u.kind == "refused":
        return f"; not upgraded to {target}: {u.reason}"
    return (f"; not upgraded to {target}: no worker answered within {u.timeout:.0f}s "
            f"(is a worker running on its task queue?)")
