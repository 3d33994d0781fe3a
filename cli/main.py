"""The `swfc` command line: parse arguments, call the pipeline, render the results.

Stage: the top of the program. `validate`, `compile` and `graph` call `compiler/`;
`deploy`, `worker`, `status` and `token set` are dispatched lazily to
`cli.runtime_cmds`, so that the compiler commands never import temporalio or httpx.
Exit codes: 0 clean (warnings allowed), 1 errors in the spec, 2 usage or internal error.
"""

from __future__ import annotations

import argparse
import os
import sys

from rules.names import DEFAULT_TASK_QUEUE

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def add_connection(p: argparse.ArgumentParser) -> None:
    """The Temporal connection options, named as Temporal's own CLI names them. A flag wins
    over its TEMPORAL_* variable, which wins over the temporal.toml profile."""
    p.add_argument("--address", metavar="HOST:PORT", default=None,
                   help="Temporal frontend (default: $TEMPORAL_ADDRESS, else the profile's, "
                        "else the embedded dev server)")
    p.add_argument("--namespace", metavar="NS", default=None,
                   help="Temporal namespace (default: $TEMPORAL_NAMESPACE, else the profile's, "
                        "else 'default')")
    p.add_argument("--profile", metavar="NAME", default=None,
                   help="profile of Temporal's config file (default: $TEMPORAL_PROFILE, else "
                        "'default')")
    p.add_argument("--config-file", metavar="PATH", default=None,
                   help="Temporal's config file, temporal.toml (default: $TEMPORAL_CONFIG_FILE, "
                        "else Temporal's default place)")
    p.add_argument("--tls", action="store_true", default=None,
                   help="connect with TLS (or $TEMPORAL_TLS=true)")
    p.add_argument("--tls-cert-path", metavar="PATH", default=None, help="client certificate")
    p.add_argument("--tls-key-path", metavar="PATH", default=None, help="client private key")
    p.add_argument("--tls-ca-path", metavar="PATH", default=None, help="server root CA")
    p.add_argument("--tls-server-name", metavar="NAME", default=None,
                   help="server name to verify the certificate against")
    p.add_argument("--api-key", metavar="KEY", default=None,
                   help="API key (default: $TEMPORAL_API_KEY, else the profile's); implies TLS")
    p.add_argument("--payload-store", metavar="WHERE", default=None,
                   help="where payloads over 256 KB go (Temporal's External Storage): "
                        "s3://BUCKET/PREFIX or a directory (default: $SWFC_PAYLOAD_STORE, else "
                        ".swfc/payloads with the embedded server, none with --address)")


def add_proxy(p: argparse.ArgumentParser) -> None:
    """The worker's HTTP proxy: none unless asked for (a proxy sees every token)."""
    proxy = p.add_mutually_exclusive_group()
    proxy.add_argument("--proxy", metavar="URL", default=None,
                       help="send every API request through this http(s) proxy "
                            "(default: none; HTTP_PROXY and the like are ignored)")
    proxy.add_argument("--proxy-from-env", action="store_true",
                       help="use HTTP_PROXY/HTTPS_PROXY/ALL_PROXY and NO_PROXY from the environment")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swfc", description="Compile and run declarative Temporal workflow hierarchies.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check spec files and report every problem",
                       description="Check each FILE as a spec of its own, with the files it "
                                   "imports, and report every problem found. Exit 0 when "
                                   "there are no errors (warnings allowed), 1 on errors.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("compile", help="print or write the IR (runtime registrations)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="OUT", default=None)

    p = sub.add_parser("deploy", help="start the deploy roots on Temporal and run a worker")
    p.add_argument("file", metavar="FILE")
    add_connection(p)
    p.add_argument("--task-queue", metavar="Q", default=None, help=f"default: {DEFAULT_TASK_QUEUE}")
    p.add_argument("--no-worker", action="store_true",
                   help="only start or upgrade the roots, then return")
    add_proxy(p)
    p.add_argument("--name", metavar="NAME", default=None,
                   help="the deployment's name (default: the spec file's name without .swf); "
                        "workflows of another deployment are never adopted")
    p.add_argument("--until-loaded", action="store_true",
                   help="return once every workflow has loaded (0), or at --timeout or once "
                        "everything not loaded has failed for good (1)")
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="seconds to wait with --until-loaded (default 120)")

    p = sub.add_parser("worker", help="run only a worker for the spec's workflows")
    p.add_argument("file", metavar="FILE")
    add_connection(p)
    p.add_argument("--task-queue", metavar="Q", default=None, help=f"default: {DEFAULT_TASK_QUEUE}")
    add_proxy(p)

    p = sub.add_parser("status", help="the hierarchy below a workflow: a summary, the tree, or live",
                       description="By default a summary from Temporal's visibility store (quick at "
                                   "10,000 workflows; statuses as last settled, a moment late): counts "
                                   "by workflow type and status, and the workflows in error, waiting "
                                   "for a token or rate limited, with their errors. --tree and "
                                   "--format json ask every workflow.")
    p.add_argument("workflow_id", metavar="WORKFLOW_ID")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="json: the whole tree (with --status: the matching workflows)")
    p.add_argument("--tree", action="store_true", help="the whole tree, one line per workflow (asks each)")
    p.add_argument("--status", metavar="STATUS", default=None,
                   help="only the workflows with this status (running, loading, error, "
                        "waiting_for_token, unreachable, ...)")
    p.add_argument("--watch", action="store_true",
                   help="keep showing it, redrawn as it changes (Ctrl-C to stop)")
    add_connection(p)

    p = sub.add_parser("token", help="manage api tokens of running workflows")
    token_sub = p.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    t = token_sub.add_parser("set", help="rotate a token (cascades down the hierarchy)")
    t.add_argument("workflow_id", metavar="WORKFLOW_ID")
    t.add_argument("--api", metavar="NAME", required=True)
    t.add_argument("--from-env", metavar="VAR", required=True)
    add_connection(t)

    p = sub.add_parser("payloads", help="manage the payload store (Temporal's External Storage)")
    payloads_sub = p.add_subparsers(dest="payloads_command", metavar="ACTION", required=True)
    t = payloads_sub.add_parser(
        "prune", help="remove stored payloads that no running workflow needs",
        description="Remove every stored payload that no open workflow run's history refers to "
                    "and that was written more than --grace seconds ago (nothing else ever "
                    "removes one: each continue-as-new of a big parent stores its state again). "
                    "Reads the history of every open run of the namespace. Closed runs' "
                    "histories that refer to a removed payload can no longer be decoded.")
    t.add_argument("--grace", metavar="S", type=float, default=3600.0,
                   help="keep payloads written less than S seconds ago (default 3600)")
    t.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    add_connection(t)

    p = sub.add_parser("graph", help="the declared hierarchy as Mermaid")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("fmt", help="rewrite spec files in their canonical layout",
                       description="Rewrite each FILE in its canonical layout, keeping its "
                                   "comments (only files that change are written). A file "
                                   "with syntax errors is reported and left as it is. "
                                   "FILE `-` reads standard input and writes standard output.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if any file would be reformatted")
    p.add_argument("--diff", action="store_true",
                   help="write nothing; print a unified diff of the changes")

    sub.add_parser("lsp", help="the language server for editors, over stdin/stdout",
                   description="Speak the Language Server Protocol on stdin/stdout: findings as "
                               "you type (as `swfc validate` reports them), hover, go to "
                               "definition, completion and formatting. Editors start it; see "
                               "editors/ for VS Code.")
    return parser


def report(diags, texts: dict[str, str], *, out, fmt: str = "text") -> None:
    from cli import render

    if fmt == "json":
        out.write(render.to_json(diags))
        return
    color = out.isatty() and "NO_COLOR" not in os.environ
    render.print_text(diags, texts, len(texts) or 1, file=out, color=color)


def exit_code(diags) -> int:
    if any(d.code == "SWF099" for d in diags):
        return EXIT_USAGE
    return EXIT_ERRORS if any(d.severity == "error" for d in diags) else EXIT_OK


def cmd_validate(args) -> int:
    from compiler import check_each

    diags, texts = check_each(args.files)
    report(diags, texts, out=sys.stdout, fmt=args.format)
    return exit_code(diags)


def compile_one(paths: list[str]):
    """Compile the spec `paths`; report findings on stderr. Returns the IR (None on errors)
    and the exit code."""
    from compiler import FileSource, analyse

    ir, diags, loaded = analyse(paths, FileSource(), emit_ir=True)
    if diags:
        report(diags, loaded.texts, out=sys.stderr)
    return ir, exit_code(diags)


def cmd_compile(args) -> int:
    from compiler import dump_ir

    ir, code = compile_one([args.file])
    if ir is None:
        return code
    text = dump_ir(ir)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return code
    try:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"swfc compile: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return code


def cmd_graph(args) -> int:
    from compiler.graph import to_mermaid

    ir, code = compile_one([args.file])
    if ir is not None:
        sys.stdout.write(to_mermaid(ir))
    return code


def cmd_fmt(args) -> int:
    from dsl.format import format_text

    code = EXIT_OK
    for path in args.files:
        code = max(code, fmt_one(path, args, format_text))
    return code


def fmt_one(path: str, args, format_text) -> int:
    """Format one file (or stdin for `-`): rewrite it, or with --check/--diff tell."""
    text, data = read_spec(path)
    if text is None:
        return EXIT_ERRORS
    out, diags = format_text(text, path)
    if out is None:
        report(diags, {path: text}, out=sys.stderr)
        return exit_code(diags)
    if path == "-":
        if not args.check:
            sys.stdout.write(out)
        return EXIT_ERRORS if args.check and out.encode("utf-8") != data else EXIT_OK
    if out.encode("utf-8") == data:
        return EXIT_OK
    if args.diff:
        import difflib

        sys.stdout.writelines(difflib.unified_diff(
            text.splitlines(keepends=True), out.splitlines(keepends=True), path, path))
    if args.check or args.diff:
        print(f"would reformat {path}", file=sys.stderr)
        return EXIT_ERRORS if args.check else EXIT_OK
    write_in_place(path, out)
    print(f"reformatted {path}", file=sys.stderr)
    return EXIT_OK


def read_spec(path: str) -> tuple[str | None, bytes]:
    """The text of `path` (`-`: stdin) and its bytes, read as `swfc validate` reads a spec;
    a SWF002 finding (at the first bad byte) if it cannot be read."""
    from dsl.diagnostics import CODES, Diagnostic
    from dsl.files import LoadError, decode, read_bytes, unreadable

    try:
        data = sys.stdin.buffer.read() if path == "-" else read_bytes(path)
        return decode(data), data
    except LoadError as exc:
        message, span = unreadable(path, exc)
        report([Diagnostic("SWF002", CODES["SWF002"].severity, message, span)],
               {path: exc.text} if exc.text is not None else {}, out=sys.stderr)
        return None, b""


def write_in_place(path: str, text: str) -> None:
    """Replace the file's contents at once (a crash leaves the old or the new file, never
    half of one), keeping its permissions; a symlink keeps pointing at the rewritten file."""
    import shutil
    import tempfile

    target = os.path.realpath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".swfc-fmt-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def cmd_lsp(args) -> int:
    try:
        from langserver.server import serve
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("pygls", "lsprotocol"):
            raise
        print("swfc lsp: the language server needs pygls: pip install 'swfc[lsp]'", file=sys.stderr)
        return EXIT_USAGE
    serve()
    return EXIT_OK


def runtime_command(name: str):
    """A command implemented in `cli.runtime_cmds`, imported only when it runs."""

    def run(args) -> int:
        from cli import runtime_cmds

        return getattr(runtime_cmds, name)(args)

    return run


COMMANDS = {
    "validate": cmd_validate,
    "compile": cmd_compile,
    "graph": cmd_graph,
    "fmt": cmd_fmt,
    "lsp": cmd_lsp,
    "deploy": runtime_command("run_deploy"),
    "worker": runtime_command("run_worker"),
    "status": runtime_command("run_status"),
    "token": runtime_command("run_token_set"),
    "payloads": runtime_command("run_payloads_prune"),
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `swfc` console script; returns the exit code."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)  # a bare `swfc` is asking what it can do
        return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never a traceback for the user; say what broke
        print(f"swfc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
