"""The runtime-facing commands: ``swfc deploy``, ``swfc worker``, ``swfc status``, ``swfc token set``,
``swfc payloads prune``.

Stage: the CLI above compiler and runtime. Takes parsed arguments (``cli/main.py``) and gives an
exit code: it compiles the spec (``compiler.compile_files``), connects to Temporal (flags,
``TEMPORAL_*`` variables, a ``temporal.toml`` profile: ``cli/connection.py``; else the embedded
dev server of ``cli/devserver.py``), runs workers (``runtime.worker.build_worker``) and calls the
caller's side of the runtime on the spec's ``runtime.ir.IR`` (``runtime.temporal_client``,
``runtime.roots``, ``runtime.tokens``, ``runtime.status_tree``, ``runtime.status_summary``);
``cli/problems.py`` words their facts, ``cli/views.py`` shows the results and ``cli/process.py``
turns the outcome into the exit status.

Exit codes: 0 done (or stopped with Ctrl-C, the normal end of a live view), 1 the spec, the
environment or the cluster is not right (a message says what), 2 usage or internal failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from cli import connection, problems, views
from cli.connection import Settings
from cli.problems import short_hash
from cli.process import CommandError, note, run, temporal_runtime, warn
from cli.views import say
from runtime import ir as runtime_ir
from runtime.client_errors import Unreachable
from runtime.roots import Root, bases_not_allowed, foreign_roots, prepare_roots, start_roots
from runtime.sealing import deployment
from runtime.status_summary import (filter_trees, summarize, visible_count, visible_summary, visible_with_status,
                                    wait_until_loaded)
from runtime.status_tree import collect_all, collect_status
from runtime.temporal_client import connect, require_workflow
from runtime.tokens import rotate_token, seal_from_env, seal_key, token_from_env, workers_key
from rules.names import DEFAULT_TASK_QUEUE
from rules.proxies import ProxyChoice, ProxyProblem, fixed_proxy, proxy_from_env


# -- options ---------------------------------------------------------------------------


def _opt(args: Any, name: str, default: Any = None) -> Any:
    value = getattr(args, name, None)
    return default if value is None else value


DEPLOYMENT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")


def _deployment_name(args: Any) -> str:
    """``--name``, else the spec file's stem: what tells this deployment's workflows apart."""
    name = _opt(args, "name") or Path(_spec_paths(args)[0]).stem
    if not DEPLOYMENT_NAME_RE.match(name):
        raise CommandError(f"bad deployment name {name!r}: letters, digits, `.`, `_` and `-`, "
                           f"at most 100 (pass --name)", code=2)
    return name


def _spec_paths(args: Any) -> list[str]:
    return [args.file] if args.file else []


def _settings(args: Any) -> Settings:
    """Flags over ``TEMPORAL_*`` variables over the ``temporal.toml`` profile (``cli/connection.py``),
    read once per command."""
    if getattr(args, "_settings", None) is None:
        args._settings = connection.settings(args)
    return args._settings


def _address_or_embedded(args: Any) -> str:
    """The configured address, else where ``swfc deploy`` runs its dev server."""
    from cli.devserver import DEFAULT_IP, DEFAULT_PORT

    return _settings(args).address or f"{DEFAULT_IP}:{os.environ.get('SWFC_DEV_PORT') or DEFAULT_PORT}"


def _proxy(args: Any) -> ProxyChoice | None:
    """``--proxy URL`` or ``--proxy-from-env``, checked before anything connects; None: no proxy
    (the proxy variables in the environment are ignored unless ``--proxy-from-env`` is given)."""
    try:
        if _opt(args, "proxy") is not None:
            return fixed_proxy(args.proxy)
        if _opt(args, "proxy_from_env"):
            choice = proxy_from_env(os.environ)
            if not choice.by_scheme:
                note("--proxy-from-env: no HTTP_PROXY, HTTPS_PROXY or ALL_PROXY is set; requests go direct")
            return choice
    except ProxyProblem as exc:
        raise CommandError(f"--proxy{'-from-env' if _opt(args, 'proxy') is None else ''}: {exc}") from None
    return None


def _proxy_line(choice: ProxyChoice | None) -> str:
    """How the worker reaches the APIs, for its start-up line: proxy origins only, never credentials."""
    if choice is None or not choice.by_scheme:
        return ""
    via = ", ".join(f"{scheme} via {proxy.url}" for scheme, proxy in sorted(choice.by_scheme.items()))
    return f", {via}" + (f" (not for {', '.join(choice.bypass)})" if choice.bypass else "")


def _payload_store(args: Any) -> str | None:
    """``--payload-store``, else ``SWFC_PAYLOAD_STORE``, else ``.swfc/payloads`` when talking
    to the embedded server (no ``--address``), else none (a cluster's workers and clients
    need a store they all reach: ``s3://…``)."""
    from runtime.payloads import DEFAULT_DIRECTORY

    chosen = _opt(args, "payload_store") or os.environ.get("SWFC_PAYLOAD_STORE")
    if chosen:
        return chosen
    return None if _settings(args).address else str(DEFAULT_DIRECTORY)


async def _connect(args: Any, address: str) -> Any:
    """A client for ``address`` with the namespace, API key, TLS and gRPC metadata of
    ``_settings``, as Temporal's CLI takes them."""
    s = _settings(args)
    try:
        return await connect(address, namespace=s.namespace, api_key=s.api_key, tls=s.tls,
                             rpc_metadata=s.rpc_metadata, runtime=temporal_runtime(),
                             payload_store=_payload_store(args))
    except Unreachable as exc:
        raise CommandError(problems.unreachable(exc, s.profile)) from None


# -- compile ---------------------------------------------------------------------------


def load_ir(paths: list[str]) -> dict:
    """Compile the spec (its IR validated once, by the compiler); diagnostics go to stderr as
    ``swfc validate`` shows them.

    Raises:
        CommandError when the spec has errors (1) or the compiler failed (2).
    """
    from cli.main import compile_one

    if not paths:
        raise CommandError("no spec file given", code=2)
    ir, code = compile_one(paths)
    if ir is None:
        raise CommandError(f"{paths[0]} has errors; nothing was deployed", code=code)
    return ir


# -- commands --------------------------------------------------------------------------


def run_deploy(args: Any) -> int:
    return run(_deploy, args)


def run_worker(args: Any) -> int:
    return run(_worker, args)


def run_status(args: Any) -> int:
    return run(_status, args, ctrl_c_code=0 if _opt(args, "watch") else 130)


def run_token_set(args: Any) -> int:
    return run(_token_set, args, ctrl_c_code=130)


def run_payloads_prune(args: Any) -> int:
    return run(_payloads_prune, args, ctrl_c_code=130)


def _new_key_note(path: Path) -> None:
    note(problems.new_key_note(path))


async def _deploy(args: Any) -> int:
    ir = load_ir(_spec_paths(args))
    spec = runtime_ir.load(ir)
    environ = dict(os.environ)
    if not spec.deployments:
        raise CommandError(f"nothing to deploy: {_spec_paths(args)[0]} has no `deploy` block "
                           f"(to serve workflows started elsewhere, run `swfc worker`)")
    task_queue = _opt(args, "task_queue", DEFAULT_TASK_QUEUE)
    if _opt(args, "no_worker") and (_opt(args, "proxy") is not None or _opt(args, "proxy_from_env")):
        raise CommandError("--proxy and --proxy-from-env set how this process's worker reaches the APIs, and "
                           "--no-worker runs none here: pass them to `swfc worker`", code=2)
    proxy = _proxy(args)
    # before any connection: a missing or malformed token fails fast
    sealed_for = deployment(_settings(args).namespace, task_queue)
    roots = prepare_roots(spec, environ, deployment=sealed_for, deployment_name=_deployment_name(args),
                          on_new_key=_new_key_note)
    for refused in bases_not_allowed(spec, environ):
        print(problems.base_not_allowed(refused), file=sys.stderr)
    server = None
    address = _settings(args).address
    if address is None:
        from cli.devserver import DevServerError, EmbeddedServer

        server = EmbeddedServer(namespace=_settings(args).namespace)
        try:
            address = await server.start(say=say)
        except DevServerError as exc:
            raise CommandError(str(exc)) from None
    try:
        client = await _connect(args, address)
        if server is not None and server.ui_url:
            for root in roots:
                say(f"  {root.workflow_id}: {server.ui_url}/namespaces/{client.namespace}/workflows/"
                    f"{root.workflow_id}")
        worker = None if _opt(args, "no_worker") else _build_worker(
            client, ir, task_queue, seal_key(on_new_key=_new_key_note), proxy)
        if worker is None:
            return await _deploy_roots(args, client, ir, roots, task_queue)
        async with worker:
            say(f"worker on task queue {task_queue} for IR {short_hash(ir['hash'])}{_proxy_line(proxy)}")
            return await _deploy_roots(args, client, ir, roots, task_queue)
    finally:
        if server is not None:
            server.stop()


async def _deploy_roots(args: Any, client: Any, ir: dict, roots: list[Root], task_queue: str) -> int:
    foreign = await foreign_roots(client, roots)
    if foreign:
        for found in foreign:
            print(f"swfc: {problems.foreign_root(found)}", file=sys.stderr)
        print(f"swfc: this is {_spec_paths(args)[0]} deployed as {_deployment_name(args)!r}; nothing was "
              f"started: give one of the two specs other ids", file=sys.stderr)
        return 1
    missing = await _search_attributes_missing(client, "deploy")
    spec = _deployment_name(args) if missing is None or missing.only_problem else None
    for outcome in await start_roots(client, roots, task_queue, ir["hash"], spec=spec, with_problem=missing is None):
        say(problems.root_outcome(outcome))
    ids = [r.workflow_id for r in roots]
    if _opt(args, "until_loaded"):
        timeout = float(_opt(args, "timeout", 120))
        trees, loaded = await wait_until_loaded(client, ids, timeout)
        if loaded:
            views.print_loaded(trees)
            return 0
        views.print_not_loaded(trees, timeout)
        return 1
    if _opt(args, "no_worker"):
        return 0
    await views.live_view(partial(_deploy_view, client, ids), views.trees_or_summaries)
    return 0


async def _deploy_view(client: Any, ids: list[str]) -> list[Any]:
    """What ``deploy``'s live view fetches: the walked trees while the hierarchies are small;
    beyond ``views.TREE_LIMIT`` workflows each root's summary from the visibility store (a walk
    of 10,000 workflows takes minutes)."""
    counts = [await visible_count(client, wid) for wid in ids]
    if None in counts or sum(c or 0 for c in counts) <= views.TREE_LIMIT:
        return await collect_all(client, ids)
    summaries = []
    for wid in ids:
        description = await client.get_workflow_handle(wid).describe()
        found = await visible_summary(client, wid, description, shown=views.ATTENTION_SHOWN,
                                      ask_all_up_to=views.TREE_LIMIT)
        summaries.append(found if found is not None else summarize([await collect_status(client, wid)]))
    return summaries


async def _search_attributes_missing(client: Any, command: str) -> Any:
    """Make sure the namespace has the swfc search attributes; where they cannot be created
    here, say which command an operator runs (the hierarchy runs without them) and answer
    the ``runtime.search_attributes.NotRegistered`` (None when they are all there)."""
    from runtime.search_attributes import ensure_registered

    not_registered = await ensure_registered(client)
    if not_registered is not None:
        warn(problems.not_registered(not_registered, command))
    return not_registered


def _build_worker(client: Any, ir: dict, task_queue: str, key: bytes, proxy: ProxyChoice | None) -> Any:
    from cli import registrations
    from runtime.worker import build_worker

    also = registrations.earlier(ir)
    registrations.remember(ir)
    if also:
        note(f"also serving {len(also)} earlier version(s) of the spec for the workflows started under them")
    return build_worker(client, ir, also=also, task_queue=task_queue, seal_key=key, proxy=proxy)


async def _worker(args: Any) -> int:
    ir = load_ir(_spec_paths(args))
    key = workers_key()  # never a fresh one: the tokens it would have to open are sealed already
    proxy = _proxy(args)
    address = _address_or_embedded(args)
    client = await _connect(args, address)
    task_queue = _opt(args, "task_queue", DEFAULT_TASK_QUEUE)
    # As `deploy` does: a cluster's workers often start before any deploy, and `swfc status`
    # counts a hierarchy with the attributes.
    await _search_attributes_missing(client, "worker")
    worker = _build_worker(client, ir, task_queue, key, proxy)
    say(f"worker on {address}, task queue {task_queue}, IR {short_hash(ir['hash'])}{_proxy_line(proxy)} "
        f"(Ctrl-C to stop)")
    try:
        await worker.run()
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    return 0


async def _status(args: Any) -> int:
    wid = _opt(args, "workflow_id")
    address = _address_or_embedded(args)
    client = await _connect(args, address)
    description = await require_workflow(client, wid, address)
    fetch, render = _status_view(args, client, wid, description)
    if _opt(args, "watch"):
        await views.live_view(fetch, render)
        return 0
    shown = render(await fetch())
    if isinstance(shown, str):
        print(shown)
    else:
        views.console().print(shown)
    return 0


def _status_view(args: Any, client: Any, wid: str, description: Any) -> tuple[Callable[[], Awaitable[Any]],
                                                                              Callable[[Any], Any]]:
    """What ``swfc status`` fetches and how it shows it: the whole tree for ``--format json``
    (DESIGN.md §5) and ``--tree`` (a walk); otherwise the summary, or with ``--status`` the
    matching workflows, from Temporal's visibility store (``runtime.status_summary``),
    walking instead where the hierarchy carries no swfc search attributes."""
    status, as_json = _opt(args, "status"), _opt(args, "format") == "json"
    if as_json and status is None:
        return partial(collect_status, client, wid), lambda tree: _json(tree.to_json())
    if status is not None:
        async def filtered() -> Any:
            found = await visible_with_status(client, wid, description, status)
            return found if found is not None else filter_trees([await collect_status(client, wid)], status)

        return filtered, (_filtered_json if as_json else views.render_filtered)
    if _opt(args, "tree"):
        return partial(collect_all, client, [wid]), partial(views.hierarchy, tree=True)

    async def summary() -> Any:
        found = await visible_summary(client, wid, description, shown=views.ATTENTION_SHOWN,
                                      ask_all_up_to=views.TREE_LIMIT)
        return found if found is not None else summarize([await collect_status(client, wid)])

    return summary, views.render_summary


def _filtered_json(filtered: Any) -> str:
    """``--status S --format json``: the matching workflows, each with its children's ids."""
    return _json([node.to_flat_json(children) for node, children in filtered.matches])


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


async def _token_set(args: Any) -> int:
    wid, api, var = _opt(args, "workflow_id"), _opt(args, "api"), _opt(args, "from_env")
    if not os.environ.get(var or ""):
        raise CommandError(f"environment variable {var} is not set or empty (swfc reads tokens from "
                           f"the environment only, never from the command line)")
    key = workers_key()  # before connecting: fails fast
    token_from_env(api, dict(os.environ), var)  # a malformed token fails fast too
    address = _address_or_embedded(args)
    client = await _connect(args, address)
    description = await require_workflow(client, wid, address)
    # Sealed for the deployment that runs the workflow: its namespace and task queue.
    sealed = seal_from_env(api, dict(os.environ), var, key, deployment(client.namespace, description.task_queue))
    if not await rotate_token(client, wid, sealed):
        warn(problems.unanswered_rotation(wid, api))
    say(f"{wid}: {api} token set to {sealed['fingerprint']}; it cascades to the workflows below "
        f"that need it")
    return 0


async def _payloads_prune(args: Any) -> int:
    from runtime.payload_prune import prune

    store = _payload_store(args)
    if store is None:
        raise CommandError("no payload store to prune: pass --payload-store (s3://BUCKET/PREFIX or a "
                           "directory) or set SWFC_PAYLOAD_STORE, as the workers have it")
    client = await _connect(args, _address_or_embedded(args))
    pruned = await prune(client, store, grace_s=_opt(args, "grace", 3600.0), dry_run=bool(_opt(args, "dry_run")))
    verb = "would remove" if pruned.dry_run else "removed"
    say(f"{store}: {verb} {pruned.removed:,} payload(s), {pruned.removed_bytes / 1e6:.1f} MB; kept "
        f"{pruned.kept:,} (referred to by the {pruned.runs:,} open run(s), or written in the last "
        f"{_opt(args, 'grace', 3600.0):.0f} s)")
    return 0
